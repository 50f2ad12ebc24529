package oauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey/dpop"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/metrics"

	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
)

// authorizePerAddress bounds the pending authorization requests of
// browsers nobody signed in to that one address may store per minute: far
// above what an office behind one NAT address starts, far below a flood.
const authorizePerAddress = 300

// Paths of the pages the authorization endpoint sends the browser to.
const (
	LoginPath   = "/login"
	ConsentPath = "/consent"
	// RegistrationPath is the client registration endpoint (RFC 7591 §3),
	// served by internal/registration when registration is on.
	RegistrationPath = "/register"
)

// Provider is the OAuth 2.0 protocol over a store. Its methods take typed
// requests and return typed results or *Error; the endpoint_*.go files are
// the only ones that speak HTTP.
type Provider struct {
	Store    store.Store
	Scopes   *Scopes
	Sessions *session.Manager
	// Passwords checks user passwords for the login page and the password grant.
	Passwords *Passwords
	Issuer    string
	Tokens    config.Tokens
	// JWT signs JWT access tokens; nil means every access token is opaque.
	JWT AccessTokenSigner
	// SigningAlgorithm is the algorithm of JWT's keys, for metadata.
	SigningAlgorithm string
	// IDTokenAlgs are the algorithms that can sign ID tokens (RS256 first).
	IDTokenAlgs []string
	// Audience is the aud of access tokens; empty means the issuer.
	Audience []string
	// AuthRequestTTL is how long a user has to finish login and consent.
	AuthRequestTTL time.Duration
	Now            func() time.Time
	Logger         *slog.Logger
	// ErrorPage renders a front-channel error that must not be redirected
	// (RFC 6749 §4.1.2.1); provided by the web package.
	ErrorPage func(w http.ResponseWriter, r *http.Request, e *Error)
	// RevokeRefreshOnLogout: single logout also revokes the refresh tokens
	// the session's clients hold for the user (offline access ends).
	RevokeRefreshOnLogout bool
	// AskFirstParty shows the consent page to first-party clients too.
	AskFirstParty bool
	// RequirePAR: every client must push its authorization requests
	// (RFC 9126 §5); else only those registered to.
	RequirePAR bool
	// RegistrationEnabled advertises the registration endpoint
	// (RFC 8414 §2 registration_endpoint, RFC 7591).
	RegistrationEnabled bool
	// Activity records what happens on users' accounts (the account
	// page); nil records nothing.
	Activity *ActivityLog
	// Metrics counts tokens, refreshes, reuse, revocations, sign-ins and
	// throttled requests; Audit writes the events that have no activity
	// entry (reuse detection). Either may be nil.
	Metrics *metrics.Metrics
	// DPoP verifies the proofs that bind tokens to a client's key (RFC
	// 9449); nil: proofs are ignored and every token is a bearer token.
	DPoP  *dpop.Verifier
	Audit *audit.Log
	// SharedCounters, when set, shares the rate-limit counters with the
	// other nodes on the same database (SyncThrottles); nil keeps them in
	// this process's memory.
	SharedCounters store.CounterStore
	// AcceptEndpointAudience: client assertions may also name the
	// endpoint's URL in aud (older private_key_jwt clients).
	AcceptEndpointAudience bool
	// UserCodeKey keys the stored hashes of device user codes (see
	// userCodeHash); nil hashes them without a key.
	UserCodeKey []byte
	// PreviousUserCodeKey, during a system-secret rotation, is UserCodeKey
	// of the previous secret: user codes shown before the switch still
	// find their device code.
	PreviousUserCodeKey []byte
	// SuccessorKey (32 bytes) seals the successor a rotated refresh token
	// keeps for the reuse grace (Tokens.RefreshReuseGrace); needed when
	// that grace is positive.
	SuccessorKey []byte
	// PreviousSuccessorKey, during a system-secret rotation, is
	// SuccessorKey of the previous secret.
	PreviousSuccessorKey []byte

	grants         map[string]grantHandler
	clients        *clientCache
	resources      *resourceRegistry
	assertionKeys  *assertionKeyCache
	verified       *verifiedCache
	clientFailures clientThrottles
	authorizeLimit *Throttle
	userCodes      userCodeThrottles
	metadata       atomic.Pointer[[]byte]
	touched        sync.Map // client id -> time.Time of its last noteUse write
	logouts        *backchannel
}

// AccessTokenSigner signs Latchkey's JWTs (internal/token.Keys).
type AccessTokenSigner interface {
	// Sign signs with the access-token algorithm.
	Sign(typ string, claims any) (string, error)
	// SignWith signs with the current key of alg (ID and logout tokens).
	SignWith(alg, typ string, claims any) (string, error)
	Verify(token, wantTyp string, claims any) error
}

// Init prepares the grant dispatch table, the client cache and the
// metadata document; call once after setting fields.
func (p *Provider) Init() {
	p.clients = newClientCache(p.Store, p.Now)
	p.resources = &resourceRegistry{store: p.Store, now: p.Now}
	p.assertionKeys = newAssertionKeyCache()
	p.verified = newVerifiedCache()
	p.clientFailures = newClientThrottles()
	p.authorizeLimit = NewThrottle("authorize-address", authorizePerAddress, time.Minute, throttleKeys)
	p.userCodes = newUserCodeThrottles()
	p.storeMetadata()
	p.logouts = newBackchannel()
	p.grants = map[string]grantHandler{
		GrantAuthorizationCode: p.grantAuthorizationCode,
		GrantRefreshToken:      p.grantRefreshToken,
		GrantClientCredentials: p.grantClientCredentials,
		GrantPassword:          p.grantPassword,
		GrantDeviceCode:        p.grantDeviceCode,
	}
}

// storeMetadata builds the metadata document and serves it from now on.
func (p *Provider) storeMetadata() {
	b := p.buildMetadata()
	p.metadata.Store(&b)
}

// ReplaceScopes makes list the scope registry (a configuration reload):
// the registry and the scopes_supported of the metadata change at once,
// and cached client records are dropped, so clients changed with the same
// reload are read again at their next request.
func (p *Provider) ReplaceScopes(list []config.Scope) {
	p.Scopes.Replace(list)
	p.storeMetadata()
	p.clients.forget()
}

// storeError turns a store failure into the protocol answer: a value the
// backend refused is the client's fault; anything else is ours, logged and
// answered as temporarily unavailable (never a 500 with details).
func (p *Provider) storeError(ctx context.Context, op string, err error) *Error {
	if errors.Is(err, store.ErrInvalid) {
		return InvalidRequest("a parameter contains a value that cannot be stored")
	}
	p.Logger.ErrorContext(ctx, "store failure", "op", op, "err", err)
	return TemporarilyUnavailable()
}

func (p *Provider) codeTTL(c store.Client) time.Duration {
	ttl := p.Tokens.CodeTTL
	if c.CodeTTL > 0 {
		ttl = c.CodeTTL
	}
	if isFAPI2(c) {
		ttl = min(ttl, fapi2MaxCodeTTL)
	}
	return ttl
}

func (p *Provider) accessTTL(c store.Client) time.Duration {
	if c.AccessTokenTTL > 0 {
		return c.AccessTokenTTL
	}
	return p.Tokens.AccessTokenTTL
}

func (p *Provider) refreshTTL(c store.Client) time.Duration {
	if c.RefreshTokenTTL > 0 {
		return c.RefreshTokenTTL
	}
	return p.Tokens.RefreshTokenTTL
}

// capExpiry returns the earlier of t and the grant's expiry.
func capExpiry(t time.Time, g store.Grant) time.Time {
	if !g.ExpiresAt.IsZero() && g.ExpiresAt.Before(t) {
		return g.ExpiresAt
	}
	return t
}

// throttles lists every throttle whose counters are shared between nodes.
func (p *Provider) throttles() []*Throttle {
	return append([]*Throttle{p.Passwords.account, p.Passwords.address,
		p.clientFailures.pair, p.clientFailures.client, p.clientFailures.address, p.authorizeLimit},
		p.userCodes.list()...)
}

// SyncThrottles shares this node's rate-limit counts with the other nodes
// and takes in theirs, once per throttle; nothing without SharedCounters.
func (p *Provider) SyncThrottles(ctx context.Context) error {
	if p.SharedCounters == nil {
		return nil
	}
	var errs []error
	for _, t := range p.throttles() {
		if err := t.Sync(ctx, p.SharedCounters, p.Now()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ThrottleSyncInterval is how often Serve runs SyncThrottles.
const ThrottleSyncInterval = time.Second

// anonymousLimit counts a pending request of a browser nobody signed in to
// against its address; signed-in browsers are not limited here.
func (p *Provider) anonymousLimit(r *http.Request, signedIn bool) (bool, time.Duration) {
	if signedIn {
		return true, 0
	}
	return p.authorizeLimit.Reserve(clientip.Of(r), p.Now())
}
