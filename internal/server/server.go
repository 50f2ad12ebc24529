// Package server wires Latchkey's HTTP surface: mux, middleware, operations
// endpoints and graceful shutdown. It holds no protocol logic.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/dpop"
	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/janitor"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/oidc"
	"github.com/latchkey/latchkey/internal/registration"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
	"github.com/latchkey/latchkey/internal/web"
)

// Options are what a server is built from.
type Options struct {
	Config config.Config
	Store  store.Store
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is a configured Latchkey HTTP server.
type Server struct {
	opts     Options
	handler  http.Handler
	keys     *token.Keys
	provider *oauth.Provider
	metrics  *metrics.Metrics
	// certs serves HTTPS when server.tls_cert and server.tls_key are set.
	certs *certReloader
	// janitor deletes expired rows while Serve runs.
	janitor *janitor.Janitor
	// admin is the admin API: on the main listener, or alone with the
	// operations endpoints on server.admin_listen.
	admin *admin.API
	// addresses finds a request's client address (trusted proxies).
	addresses *clientip.Resolver
}

// dpopMemoryJTIs bounds the DPoP proof jtis a server owning its database
// keeps in memory (about 100 bytes each), for dpop.MaxAge: past that,
// proofs are refused (503) rather than remembered in unbounded memory.
const dpopMemoryJTIs = 1 << 20

// New builds the server; it fails if the configuration cannot be served.
func New(opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("server: no store")
	}
	if len(opts.Config.SystemSecret) < 32 {
		return nil, errors.New("server: the system secret must be at least 32 bytes")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	// Every line logged for a request carries its id (requestid.go).
	opts.Logger = slog.New(requestIDHandler{opts.Logger.Handler()})
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cfg := opts.Config
	addresses, err := clientip.New(cfg.Server.TrustedProxies, cfg.Server.ProxyHeader)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	issuer := strings.TrimRight(cfg.Issuer, "/")
	secure := strings.HasPrefix(issuer, "https://")
	sessions := &session.Manager{
		Store:       opts.Store,
		Key:         session.DeriveKey([]byte(cfg.SystemSecret), "csrf"),
		PreviousKey: previousKey(cfg, "csrf"),
		Secure:      secure,
		TTL:         cfg.Session.TTL,
		IdleTTL:     cfg.Session.IdleTTL,
		Now:         opts.Now,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys, err := token.NewKeys(ctx, token.KeysOptions{
		Store:            opts.Store,
		SealKey:          session.DeriveKey([]byte(cfg.SystemSecret), "signing-keys"),
		PreviousSealKeys: previousKeys(cfg, "signing-keys"),
		Algorithm:        cfg.Tokens.Algorithm,
		// ID tokens are RS256 by default (OpenID Connect Discovery §3);
		// clients may register ES256 or EdDSA.
		Algorithms: oidc.IDTokenAlgs,
		Now:        opts.Now,
		Logger:     opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("server: signing keys: %w", err)
	}
	m := metrics.New(metrics.Options{PerClient: cfg.Metrics.PerClient})
	auditLog := audit.New(opts.Logger)
	provider := &oauth.Provider{
		Store:                  opts.Store,
		Scopes:                 oauth.NewScopes(cfg.Scopes),
		Sessions:               sessions,
		Passwords:              oauth.NewPasswords(opts.Store, opts.Now, oauth.DefaultHashGate()),
		Issuer:                 issuer,
		Tokens:                 cfg.Tokens,
		JWT:                    keys,
		SigningAlgorithm:       cfg.Tokens.Algorithm,
		IDTokenAlgs:            keys.SigningAlgorithms(), // those of oidc.IDTokenAlgs with a key, RS256 first
		Audience:               cfg.Tokens.Audience,
		AuthRequestTTL:         cfg.Session.AuthRequestTTL,
		RevokeRefreshOnLogout:  cfg.Session.RevokeRefreshOnLogout,
		AcceptEndpointAudience: cfg.Server.AssertionEndpointAudience,
		AskFirstParty:          cfg.Consent.AskFirstParty,
		RequirePAR:             cfg.Server.RequirePAR,
		RegistrationEnabled:    cfg.Registration.Enabled,
		UserCodeKey:            session.DeriveKey([]byte(cfg.SystemSecret), "device-user-codes"),
		PreviousUserCodeKey:    previousKey(cfg, "device-user-codes"),
		SuccessorKey:           session.DeriveKey([]byte(cfg.SystemSecret), "refresh-successors"),
		PreviousSuccessorKey:   previousKey(cfg, "refresh-successors"),
		Activity:               &oauth.ActivityLog{Store: opts.Store, Now: opts.Now, Logger: opts.Logger, Audit: auditLog},
		Metrics:                m,
		Audit:                  auditLog,
		DPoP: &dpop.Verifier{Replay: opts.Store, ReplayUsed: store.ErrAlreadyUsed, RequireNonce: cfg.DPoP.RequireNonce,
			NonceKey: session.DeriveKey([]byte(cfg.SystemSecret), "dpop-nonces"), Now: opts.Now},
		Now:    opts.Now,
		Logger: opts.Logger,
	}
	if shared, ok := opts.Store.(interface{ SharesCounters() bool }); ok && shared.SharesCounters() {
		provider.SharedCounters = opts.Store
	} else {
		// One process owns the database (SQLite): DPoP proof jtis are kept
		// in its memory, written only when a restart could forget them
		// (dpop.Verifier.Memory); several nodes share the store's.
		provider.DPoP.Memory, provider.DPoP.Started = dpop.NewMemoryReplay(dpopMemoryJTIs), opts.Now()
	}
	pages, err := web.New(web.Options{OAuth: provider, Sessions: sessions, Users: opts.Store, Logger: opts.Logger, Now: opts.Now, Dev: cfg.Dev,
		Consent: cfg.Consent, Issuer: issuer})
	if err != nil {
		return nil, err
	}
	provider.ErrorPage = pages.ErrorPage
	provider.Init()

	mux := http.NewServeMux()
	mux.HandleFunc("/authorize", provider.HandleAuthorize)
	mux.HandleFunc("/token", provider.HandleToken)
	mux.HandleFunc(oauth.PARPath, provider.HandlePAR)
	mux.HandleFunc("/revoke", provider.HandleRevoke)
	mux.HandleFunc("/introspect", provider.HandleIntrospect)
	mux.HandleFunc("/device_authorization", provider.HandleDeviceAuthorization)
	mux.HandleFunc("/userinfo", provider.HandleUserInfo)
	for _, path := range []string{"/token", oauth.PARPath, "/revoke", "/device_authorization"} {
		mux.HandleFunc("OPTIONS "+path, provider.HandlePreflight)
	}
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", provider.HandleMetadata)
	mux.HandleFunc("GET /.well-known/openid-configuration", provider.HandleMetadata)
	mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/jwk-set+json")
		// Shorter than the publish delay of a rotated key, so verifiers
		// always see a key before it signs.
		h.Set("Cache-Control", "public, max-age=60")
		h.Set("Access-Control-Allow-Origin", "*")
		w.Write(keys.JWKS())
	})
	pages.Routes(mux)
	adminAPI := admin.New(admin.Options{OAuth: provider, Store: opts.Store, Audit: auditLog, Now: opts.Now, Logger: opts.Logger,
		SealKey: session.DeriveKey([]byte(cfg.SystemSecret), "signing-keys"), Algorithm: cfg.Tokens.Algorithm,
		MaxTokenLifetime: max(cfg.Tokens.AccessTokenTTL, cfg.Tokens.ImplicitTokenTTL),
		Reload:           func(r *http.Request) error { return keys.Reload(r.Context()) }})
	if cfg.Server.AdminListen == "" {
		adminAPI.Routes(mux)
	}
	jan := &janitor.Janitor{
		Store: opts.Store, Interval: cfg.Janitor.Interval, Batch: cfg.Janitor.Batch,
		ActivityRetention: cfg.Activity.Retention, Now: opts.Now, Logger: opts.Logger,
	}
	if cfg.Registration.Enabled {
		reg, err := registration.New(registration.Options{Store: opts.Store, Scopes: provider.Scopes, Config: cfg.Registration,
			Issuer: issuer, Now: opts.Now, Logger: opts.Logger, Audit: auditLog})
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		reg.Routes(mux)
	}
	// Self-registered clients expire when unused even while registration
	// is off: those registered before it was turned off.
	jan.Clients, jan.UnusedClientTTL = opts.Store, cfg.Registration.UnusedClientTTL
	s := &Server{admin: adminAPI, addresses: addresses, opts: opts, keys: keys, provider: provider, metrics: m, janitor: jan}
	s.operations(mux, cfg.Server.AdminListen == "")
	watch(m, provider, keys, opts.Store, opts.Now)
	m.WatchJanitor(func() (map[string]int64, int64, int64, int64) {
		c := s.janitor.Counters()
		return c.Deleted, c.Runs, c.Skipped, c.Failed
	})
	if cfg.Server.TLSCert != "" {
		if s.certs, err = newCertReloader(cfg.Server.TLSCert, cfg.Server.TLSKey, opts.Logger, opts.Now); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
	}
	s.handler = requestID(addresses, recoverPanics(opts.Logger, clientAddress(addresses, accessLog(opts.Logger, m, securityHeaders(secure, mux)))))
	return s, nil
}

// previousKey derives purpose's key from system_secret_previous; nil when
// no rotation of the system secret is under way.
func previousKey(cfg config.Config, purpose string) []byte {
	if cfg.SystemSecretPrevious == "" {
		return nil
	}
	return session.DeriveKey([]byte(cfg.SystemSecretPrevious), purpose)
}

func previousKeys(cfg config.Config, purpose string) [][]byte {
	if k := previousKey(cfg, purpose); k != nil {
		return [][]byte{k}
	}
	return nil
}

// Reload applies what of cfg can change while serving: the scope registry
// (and the scopes_supported of the metadata) and the TLS certificate files,
// read now rather than at the next check. The files are read first: if
// they do not load, Reload returns the error and changes nothing. Every
// other setting of cfg is ignored; a change to one needs a restart (the
// caller compares them, see cmd/latchkey). Safe while serving.
func (s *Server) Reload(cfg config.Config) error {
	var cert loadedCert
	if s.certs != nil && cfg.Server.TLSCert != "" {
		var err error
		if cert, err = loadCert(cfg.Server.TLSCert, cfg.Server.TLSKey); err != nil {
			return fmt.Errorf("server.tls_cert: %w", err)
		}
	}
	s.provider.ReplaceScopes(cfg.Scopes)
	if cert.cert != nil {
		s.certs.use(cert)
	}
	return nil
}

// Reloaded records the outcome of a configuration reload: an audit event
// and the reload metric.
func (s *Server) Reloaded(ctx context.Context, ok bool, detail string) {
	s.metrics.Reloaded(ok)
	name := audit.EventConfigReloaded
	if !ok {
		name = audit.EventConfigRefused
	}
	s.provider.Audit.Emit(ctx, audit.Event{Name: name, Actor: "signal", Detail: detail})
}

// ServesTLS reports whether the server serves HTTPS itself (server.tls_cert
// was set when it was built).
func (s *Server) ServesTLS() bool { return s.certs != nil }

// ReloadKeys re-reads the signing keys now instead of at the next periodic
// reload (Serve reloads every token.DefaultReloadInterval).
func (s *Server) ReloadKeys(ctx context.Context) error { return s.keys.Reload(ctx) }

// WaitBackchannel blocks until every back-channel logout in flight is
// delivered or given up.
func (s *Server) WaitBackchannel() { s.provider.WaitBackchannel() }

// FlushActivity writes the queued activity entries now instead of at the
// next periodic flush (Serve flushes every second).
func (s *Server) FlushActivity(ctx context.Context) error { return s.provider.Activity.Flush(ctx) }

// SyncThrottles shares the rate-limit counters with the other nodes now
// instead of at the next periodic sync (Serve syncs every second).
func (s *Server) SyncThrottles(ctx context.Context) error { return s.provider.SyncThrottles(ctx) }

// syncThrottles runs SyncThrottles every oauth.ThrottleSyncInterval until
// ctx is done; a failing sync is logged and retried at the next tick.
func (s *Server) syncThrottles(ctx context.Context) {
	if s.provider.SharedCounters == nil {
		return
	}
	tick := time.NewTicker(oauth.ThrottleSyncInterval)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := s.provider.SyncThrottles(ctx)
		if err != nil && !failing && ctx.Err() == nil {
			s.opts.Logger.WarnContext(ctx, "rate-limit counters not shared with the other nodes", "err", err)
		}
		failing = err != nil
	}
}

// Janitor returns the server's janitor, which Serve runs every
// janitor.interval: its Counters tell what it deleted (for metrics), and
// RunOnce runs it now.
func (s *Server) Janitor() *janitor.Janitor { return s.janitor }

// Handler returns the root handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.handler }

// Serve answers on ln until ctx is done, then shuts down gracefully,
// letting requests in flight finish (up to 30 s).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelWarn),
	}
	keysCtx, stopKeys := context.WithCancel(ctx)
	defer stopKeys()
	go s.keys.Run(keysCtx, token.DefaultReloadInterval)
	go s.syncThrottles(keysCtx)
	activityDone, janitorDone := make(chan struct{}), make(chan struct{})
	go func() { s.provider.Activity.Run(keysCtx, time.Second); close(activityDone) }()
	go func() { s.janitor.Run(keysCtx); close(janitorDone) }()
	defer func() { stopKeys(); <-activityDone; <-janitorDone }()
	errc := make(chan error, 2)
	if addr := s.opts.Config.Server.AdminListen; addr != "" {
		admin, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("server.admin_listen: %w", err)
		}
		go func() {
			if err := s.serveAdmin(keysCtx, admin); err != nil {
				errc <- fmt.Errorf("admin listener: %w", err)
			}
		}()
	}
	if s.certs != nil {
		// ServeTLS, not Serve on a TLS listener: it also sets up HTTP/2.
		hs.TLSConfig = s.certs.tlsConfig()
		go func() { errc <- hs.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- hs.Serve(ln) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	s.provider.WaitBackchannel()
	return nil
}
