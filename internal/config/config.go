// Package config holds Latchkey's configuration: one YAML file, every key also
// settable as LATCHKEY_<SECTION>_<KEY>, validated as a whole.
package config

import "time"

// Config is the whole configuration of a Latchkey server.
type Config struct {
	// Issuer is the exact issuer URL (RFC 8414 §2), also the base of every endpoint.
	Issuer string `yaml:"issuer"`
	// Listen is the TCP address to serve on, e.g. "127.0.0.1:8080".
	Listen string `yaml:"listen"`
	// Database is "sqlite:PATH" or a "postgres://" DSN.
	Database string `yaml:"database"`
	// SystemSecret (at least 32 bytes) keys CSRF tokens and seals signing keys.
	SystemSecret string `yaml:"system_secret"`
	// SystemSecretPrevious is the secret being replaced during a rotation
	// (docs/operations.md): it still opens and verifies what it sealed and
	// signed; nothing new uses it.
	SystemSecretPrevious string `yaml:"system_secret_previous"`
	// Dev enables development defaults (demo data, generated system secret).
	Dev bool `yaml:"dev"`

	Server   ServerConfig   `yaml:"server"`
	Tokens   Tokens         `yaml:"tokens"`
	Session  SessionConfig  `yaml:"session"`
	Activity ActivityConfig `yaml:"activity"`
	Metrics  MetricsConfig  `yaml:"metrics"`
	DPoP     DPoPConfig     `yaml:"dpop"`
	Janitor  JanitorConfig  `yaml:"janitor"`
	Consent  ConsentConfig  `yaml:"consent"`
	// Registration is dynamic client registration (RFC 7591, RFC 7592)
	// at /register; off by default.
	Registration RegistrationConfig `yaml:"registration"`
	Scopes       []Scope            `yaml:"scopes"`
	Clients      []Client           `yaml:"clients"`
	// Resources are the protected APIs (RFC 8707) declared in the file.
	Resources []Resource `yaml:"resources"`
	Users     []User     `yaml:"users"`
}

// ServerConfig holds what the HTTP server needs to know about its network.
type ServerConfig struct {
	// TrustedProxies lists the proxies (addresses or CIDRs) whose record
	// of the client address is believed; rate limits are keyed on the
	// client address. Empty: the TCP peer is the client. In the
	// environment, comma-separated.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ProxyHeader is where trusted proxies record the client:
	// X-Forwarded-For (default) or Forwarded (RFC 7239).
	ProxyHeader string `yaml:"proxy_header"`
	// TLSCert and TLSKey are PEM files of the certificate chain and its
	// private key: set both to serve HTTPS (TLS 1.2 and later, HTTP/2)
	// from the binary itself rather than behind a proxy. The files are
	// read again when they change on disk.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// AdminListen, when set (e.g. "127.0.0.1:9090"), serves /metrics,
	// /healthz and /readyz on that address, plain HTTP, and no longer
	// /metrics on the main listener: for a port only the monitoring
	// network reaches.
	AdminListen string `yaml:"admin_listen"`
	// AssertionEndpointAudience lets private_key_jwt assertions name the
	// endpoint URL in aud, not only the issuer identifier: a
	// compatibility switch for older clients, off by default.
	AssertionEndpointAudience bool `yaml:"assertion_endpoint_audience"`
	// RequirePAR: every client must push its authorization requests
	// (RFC 9126 §5); /authorize accepts only a request_uri from /par.
	// Off by default; a client may require them on its own.
	RequirePAR bool `yaml:"require_par"`
}

// Tokens holds default lifetimes; each is overridable per client.
type Tokens struct {
	CodeTTL         time.Duration `yaml:"code_ttl"`          // default 5m (RFC 6749 §4.1.2: at most 10m)
	AccessTokenTTL  time.Duration `yaml:"access_token_ttl"`  // default 1h
	RefreshTokenTTL time.Duration `yaml:"refresh_token_ttl"` // default 30 days
	// ImplicitTokenTTL is the lifetime of implicit-grant access tokens,
	// shorter because they travel through the browser; default 15m.
	ImplicitTokenTTL time.Duration `yaml:"implicit_token_ttl"`
	// DeviceCodeTTL is how long a device code and its user code live
	// (RFC 8628 §3.2 expires_in); default 10m.
	DeviceCodeTTL time.Duration `yaml:"device_code_ttl"`
	// DevicePollInterval is the least time a device waits between polls
	// (RFC 8628 §3.2 interval), whole seconds; default 5s.
	DevicePollInterval time.Duration `yaml:"device_poll_interval"`
	// Audience is the aud of access tokens (RFC 9068 §3); default the issuer.
	// A resource server registered as a client whose id is listed here may
	// introspect the tokens meant for it.
	Audience []string `yaml:"audience"`
	// Algorithm signs JWT access tokens: ES256 (default), RS256 or EdDSA.
	Algorithm string `yaml:"algorithm"`
	// RefreshReuseGrace is how long after a refresh token rotated it may
	// be presented again (a retry after a lost response, two tabs at once)
	// and get the same successor and a new access token instead of
	// revoking its family; 0 is strict. Default DefaultRefreshReuseGrace,
	// at most MaxRefreshReuseGrace.
	RefreshReuseGrace time.Duration `yaml:"refresh_reuse_grace"`
	// PARTTL is how long a pushed authorization request's request_uri
	// may be used (RFC 9126 §2.2 expires_in), whole seconds; default 60s,
	// at most MaxPARTTL.
	PARTTL time.Duration `yaml:"par_ttl"`
}

// DefaultRefreshReuseGrace covers concurrent refreshes (milliseconds apart)
// and a client's immediate retry after a dropped connection, and keeps
// short the time in which a stolen rotated token still gets an answer.
const DefaultRefreshReuseGrace = 5 * time.Second

// DefaultPARTTL and MaxPARTTL bound tokens.par_ttl: a request_uri is
// meant for the redirect that follows the push at once (RFC 9126 §7.2).
const (
	DefaultPARTTL = time.Minute
	MaxPARTTL     = 10 * time.Minute
)

// SessionConfig controls the single sign-on session and pending requests.
type SessionConfig struct {
	TTL            time.Duration `yaml:"ttl"`              // signed-in browser (absolute), default 24h
	AuthRequestTTL time.Duration `yaml:"auth_request_ttl"` // time to finish login+consent, default 15m
	// IdleTTL ends a session unused for that long, within TTL: default
	// DefaultIdleTTL, or TTL if that is shorter; 0 means the default.
	IdleTTL time.Duration `yaml:"idle_ttl"`
	// RevokeRefreshOnLogout: single logout also revokes the refresh tokens
	// of the applications the session signed in to, offline_access ones
	// included. Off by default: OpenID Connect Back-Channel Logout 1.0 §2.7
	// says refresh tokens issued with offline_access "normally SHOULD NOT
	// be revoked".
	RevokeRefreshOnLogout bool `yaml:"revoke_refresh_on_logout"`
}

// ConsentConfig holds the operator's choices for the consent page.
type ConsentConfig struct {
	// Lifetimes are the choices of how long an app keeps access: durations
	// (1h, 24h, 720h) or "forever" (until the user revokes it).
	Lifetimes []string `yaml:"lifetimes"`
	// DefaultLifetime is the one selected at first; one of Lifetimes.
	DefaultLifetime string `yaml:"default_lifetime"`
	// AskFirstParty shows the consent page to first-party clients too,
	// which otherwise skip it.
	AskFirstParty bool `yaml:"ask_first_party"`
	// Operator names who runs Latchkey, in the "verified by" mark of
	// first-party apps; default the issuer's host.
	Operator string `yaml:"operator"`
}

// RegistrationConfig controls dynamic client registration (RFC 7591) and
// its management protocol (RFC 7592), docs/registration.md.
type RegistrationConfig struct {
	// Enabled serves /register and advertises registration_endpoint.
	Enabled bool `yaml:"enabled"`
	// Mode is RegistrationOpen (anyone may register) or
	// RegistrationGated (the default: a registration needs an initial
	// access token, RFC 7591 §3).
	Mode string `yaml:"mode"`
	// Policy is what a self-registered client may get.
	Policy RegistrationPolicy `yaml:"policy"`
	// UnusedClientTTL: a self-registered client not used for that long is
	// deleted by the janitor; default 720h (30 days).
	UnusedClientTTL time.Duration `yaml:"unused_client_ttl"`
	// PerAddressPerHour bounds the registrations from one client address
	// in an hour; default 10, 0 means no limit.
	PerAddressPerHour int `yaml:"per_address_per_hour"`
	// SoftwareStatementKeys is a JWK Set (JSON) of the public keys whose
	// software statements (RFC 7591 §2.3) are trusted, or
	// SoftwareStatementKeysFile the file that holds it. Empty: software
	// statements are refused.
	SoftwareStatementKeys     string `yaml:"software_statement_keys"`
	SoftwareStatementKeysFile string `yaml:"software_statement_keys_file"`
}

// RegistrationPolicy bounds the metadata of self-registered clients.
type RegistrationPolicy struct {
	// GrantTypes a client may register: default authorization_code and
	// refresh_token. implicit and password are never allowed.
	GrantTypes []string `yaml:"grant_types"`
	// Scopes a client may register; default openid, profile, email and
	// offline_access.
	Scopes []string `yaml:"scopes"`
	// RedirectURIs is RedirectHTTPS (https only) or
	// RedirectHTTPSOrLoopback (the default: also http loopback for
	// native public clients, RFC 8252 §7.3).
	RedirectURIs string `yaml:"redirect_uris"`
	// AllowPublic lets clients without a secret register (native and
	// browser apps, which must use PKCE); default true.
	AllowPublic bool `yaml:"allow_public"`
}

// Registration modes and redirect-URI rules.
const (
	RegistrationOpen        = "open"
	RegistrationGated       = "initial_access_token"
	RedirectHTTPS           = "https"
	RedirectHTTPSOrLoopback = "https_or_loopback"
)

// Forever is the consent lifetime "until the user revokes it".
const Forever = "forever"

// ActivityConfig controls the activity log users see on /account.
type ActivityConfig struct {
	// Retention: entries older than this are deleted; default 2160h (90 days).
	Retention time.Duration `yaml:"retention"`
}

// DPoPConfig controls sender-constrained tokens (RFC 9449).
type DPoPConfig struct {
	// RequireNonce makes every DPoP proof carry a server nonce (§8): a
	// client's first proof is answered use_dpop_nonce with the nonce to
	// use. Nonces are derived from the time and the system secret, so
	// every node knows them without storing any. Off by default.
	RequireNonce bool `yaml:"require_nonce"`
}

// MetricsConfig controls the Prometheus metrics at /metrics.
type MetricsConfig struct {
	// PerClient labels the token counters with the client id: one series
	// per client, for a known and bounded set of clients only. Off by
	// default.
	PerClient bool `yaml:"per_client"`
}

// JanitorConfig controls the deletion of expired rows while serve runs
// (docs/storage.md, "Janitor").
type JanitorConfig struct {
	// Interval between runs; default 1m.
	Interval time.Duration `yaml:"interval"`
	// Batch: rows deleted per statement, 1 to MaxJanitorBatch; default 500.
	Batch int `yaml:"batch"`
}

// MaxJanitorBatch bounds janitor.batch: a statement deleting more would
// hold the write lock long enough to delay requests.
const MaxJanitorBatch = 10_000

// DefaultIdleTTL is the idle timeout of a session when none is configured.
const DefaultIdleTTL = 2 * time.Hour

// Scope is one entry of the scope registry shown on the consent page.
type Scope struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// SkipConsent: asking for this scope alone needs no consent page (for
	// example openid for a first-party app). Never skipped for public
	// clients, whose identity cannot be verified (RFC 6819 §5.2.3.2).
	SkipConsent bool `yaml:"skip_consent"`
}

// Client is a static client declared in the file (GitOps); applied at start.
type Client struct {
	ID              string        `yaml:"id"`
	Secret          string        `yaml:"secret"` // plain, or use SecretHash
	SecretHash      string        `yaml:"secret_hash"`
	Name            string        `yaml:"name"`
	Public          bool          `yaml:"public"`
	RedirectURIs    []string      `yaml:"redirect_uris"`
	GrantTypes      []string      `yaml:"grant_types"`
	Scopes          []string      `yaml:"scopes"`
	CodeTTL         time.Duration `yaml:"code_ttl"`
	AccessTokenTTL  time.Duration `yaml:"access_token_ttl"`
	RefreshTokenTTL time.Duration `yaml:"refresh_token_ttl"`
	// AccessTokenFormat is jwt (default) or opaque.
	AccessTokenFormat string `yaml:"access_token_format"`
	// TokenEndpointAuthMethod: client_secret_basic, client_secret_post or
	// private_key_jwt (with jwks or jwks_uri instead of a secret).
	TokenEndpointAuthMethod string `yaml:"token_endpoint_auth_method"`
	JWKS                    string `yaml:"jwks"`
	JWKSURI                 string `yaml:"jwks_uri"`

	// OpenID Connect and platform metadata; checked by oauth.ValidateClient.
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`
	BackchannelLogoutURI   string   `yaml:"backchannel_logout_uri"`
	FrontchannelLogoutURI  string   `yaml:"frontchannel_logout_uri"`
	InitiateLoginURI       string   `yaml:"initiate_login_uri"`
	LogoURI                string   `yaml:"logo_uri"`
	ClientURI              string   `yaml:"client_uri"`
	Description            string   `yaml:"description"`
	// FirstParty: an application of the platform itself, whose consent is
	// implied; never a public client.
	FirstParty bool `yaml:"first_party"`
	// RequiredScopes cannot be unticked on the consent page.
	RequiredScopes []string `yaml:"required_scopes"`
	// IDTokenAlg signs this client's ID tokens: RS256 (default), ES256 or EdDSA.
	IDTokenAlg string `yaml:"id_token_alg"`
	// Resources are the URIs of the resources the client may ask tokens
	// for; empty: every resource serving one of its scopes.
	Resources []string `yaml:"resources"`
	// RequirePushedAuthorizationRequests: the client's authorization
	// requests must be pushed to /par (RFC 9126 §6).
	RequirePushedAuthorizationRequests bool `yaml:"require_pushed_authorization_requests"`
	// DPoPBoundAccessTokens: every token request must carry a DPoP proof
	// (RFC 9449 §5.2).
	DPoPBoundAccessTokens bool `yaml:"dpop_bound_access_tokens"`
	// RequireSignedRequestObject: authorization requests must be request
	// objects signed with the client's keys (RFC 9101 §10.5).
	RequireSignedRequestObject bool `yaml:"require_signed_request_object"`
	// Profile holds the client to a security profile: "fapi2" (FAPI 2.0
	// Security Profile, docs/fapi2.md) or empty.
	Profile string `yaml:"profile"`
}

// Resource is a static protected API (RFC 8707 resource) declared in the
// file; applied at start, after the clients.
type Resource struct {
	// URI is the resource indicator, the aud of the tokens meant for it.
	URI    string   `yaml:"uri"`
	Name   string   `yaml:"name"`
	Scopes []string `yaml:"scopes"`
	// ClientID and ClientSecret (or ClientSecretHash) are the credentials
	// the API introspects with.
	ClientID         string `yaml:"client_id"`
	ClientSecret     string `yaml:"client_secret"`
	ClientSecretHash string `yaml:"client_secret_hash"`
}

// User is a static user declared in the file; applied at start.
type User struct {
	Username     string `yaml:"username"`
	Password     string `yaml:"password"` // plain, or use PasswordHash
	PasswordHash string `yaml:"password_hash"`
	Name         string `yaml:"name"`
	Email        string `yaml:"email"`
	// EmailVerified: the operator vouches for the address (the
	// email_verified claim, OpenID Connect Core §5.1).
	EmailVerified bool `yaml:"email_verified"`
}

// DefaultScopes is the scope registry used when the file declares none.
var DefaultScopes = []Scope{
	{Name: "openid", Description: "Sign you in and know who you are"},
	{Name: "profile", Description: "See your name"},
	{Name: "email", Description: "See your email address"},
	{Name: "offline_access", Description: "Stay connected when you are not using the app"},
	{Name: "notes.read", Description: "Read your notes"},
	{Name: "notes.write", Description: "Create, change and delete your notes"},
	{Name: "photos.read", Description: "See your photos and albums"},
	{Name: "photos.write", Description: "Upload and delete your photos"},
}

// Default returns the configuration every file and override starts from.
func Default() Config {
	return Config{
		Issuer:   "http://127.0.0.1:8080",
		Listen:   "127.0.0.1:8080",
		Database: "sqlite:latchkey.db",
		Tokens: Tokens{
			CodeTTL:          5 * time.Minute,
			AccessTokenTTL:   time.Hour,
			RefreshTokenTTL:  30 * 24 * time.Hour,
			ImplicitTokenTTL: 15 * time.Minute,
			Algorithm:        "ES256",

			RefreshReuseGrace: DefaultRefreshReuseGrace,

			// Device authorization (RFC 8628).
			DeviceCodeTTL:      10 * time.Minute,
			DevicePollInterval: 5 * time.Second,

			// Pushed authorization requests (RFC 9126 §7.2: short-lived).
			PARTTL: DefaultPARTTL,
		},
		Session:  SessionConfig{TTL: 24 * time.Hour, AuthRequestTTL: 15 * time.Minute, IdleTTL: DefaultIdleTTL},
		Activity: ActivityConfig{Retention: 90 * 24 * time.Hour},
		Janitor:  JanitorConfig{Interval: time.Minute, Batch: 500},
		Consent:  ConsentConfig{Lifetimes: []string{"1h", "24h", "720h", Forever}, DefaultLifetime: Forever},
		Scopes:   append([]Scope(nil), DefaultScopes...),
		Registration: RegistrationConfig{
			Mode: RegistrationGated,
			Policy: RegistrationPolicy{
				GrantTypes:   []string{"authorization_code", "refresh_token"},
				Scopes:       []string{"openid", "profile", "email", "offline_access"},
				RedirectURIs: RedirectHTTPSOrLoopback,
				AllowPublic:  true,
			},
			UnusedClientTTL:   30 * 24 * time.Hour,
			PerAddressPerHour: 10,
		},
	}
}
