// Package store defines Latchkey's persistent entities and the role interfaces
// that every storage backend implements. Verbs name their guarantee: RedeemCode
// and RotateRefreshToken are atomic and single-use, decided by the database.
//
// Secrets never reach this package in plain text: codes, tokens, sessions and
// client secrets arrive as lookup hashes (see internal/secret).
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors returned by every backend; compare with errors.Is.
var (
	// ErrNotFound: no row with that key (or it belongs to a different kind).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a unique key (client id, username, hash) already exists.
	ErrConflict = errors.New("store: conflict")
	// ErrAlreadyUsed: a single-use artifact (code, refresh token, pending
	// authorization request) was already consumed, rotated, revoked or has
	// expired by the time the atomic update ran.
	ErrAlreadyUsed = errors.New("store: already used")
	// ErrInvalid: a value the backend cannot store (for example a NUL byte,
	// which PostgreSQL refuses in text); callers answer 400, never 500.
	ErrInvalid = errors.New("store: invalid value")
)

// Client is a registered OAuth client (RFC 6749 §2).
type Client struct {
	ID string
	// SecretHash is the self-describing verifier of the client secret
	// ("sha256:<hex>" for generated secrets, an argon2id PHC string for
	// imported ones); empty for public clients.
	SecretHash   string
	Name         string
	Public       bool
	RedirectURIs []string
	GrantTypes   []string
	Scopes       []string
	// AccessTokenFormat is "jwt" (RFC 9068) or "opaque"; empty means jwt.
	AccessTokenFormat string
	// TokenEndpointAuthMethod is how a confidential client authenticates
	// (RFC 7591 §2): "client_secret_basic" or "client_secret_post" (either
	// accepted when empty), or "private_key_jwt" with JWKS or JWKSURI.
	TokenEndpointAuthMethod string
	JWKS                    string // inline JWK Set (JSON) for private_key_jwt
	JWKSURI                 string // or where to fetch it (https, or loopback http)
	// Per-client lifetimes; zero means the server default.
	CodeTTL         time.Duration
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	CreatedAt       time.Time
	UpdatedAt       time.Time

	// OpenID Connect and platform metadata (OpenID Connect Registration
	// §2, RP-Initiated Logout §3.1, Back-Channel Logout §2.2, Front-Channel
	// Logout §2, Core §4).
	PostLogoutRedirectURIs []string
	BackchannelLogoutURI   string
	FrontchannelLogoutURI  string
	InitiateLoginURI       string // third-party-initiated login; listed on the portal
	LogoURI                string
	ClientURI              string
	Description            string
	// FirstParty marks an application of the platform itself: its consent
	// is implied (never for public clients, RFC 8252 §8.6).
	FirstParty bool
	// IDTokenAlg signs this client's ID tokens: RS256 (empty) , ES256 or EdDSA.
	IDTokenAlg string
	// RequiredScopes cannot be unticked on the consent page (a subset of
	// Scopes); openid always is.
	RequiredScopes []string
	// Resources are the URIs of the registered resources (RFC 8707) the
	// client may ask tokens for; empty: every resource that serves one of
	// its scopes.
	Resources []string
	// RequirePushedAuthorizationRequests: the client's authorization
	// requests must be pushed (RFC 9126 §6); /authorize refuses the others.
	RequirePushedAuthorizationRequests bool
	// DPoPBoundAccessTokens: every token request of the client must carry
	// a DPoP proof (RFC 9449 §5.2); its tokens are never bearer tokens.
	DPoPBoundAccessTokens bool
	// RequireSignedRequestObject: the client's authorization requests must
	// be request objects signed with one of its keys (RFC 9101 §10.5).
	RequireSignedRequestObject bool
	// Profile is a security profile the client is held to on every
	// request, whatever its other settings: "fapi2" (the FAPI 2.0
	// Security Profile) or empty.
	Profile string

	// Dynamic registration (RFC 7591, RFC 7592).
	// SelfRegistered: the client registered itself at /register; its
	// users are told it is not verified and it never skips consent.
	SelfRegistered bool
	// RegistrationTokenHash is the SHA-256 of the client's registration
	// access token (RFC 7592 §3), empty when it has none.
	RegistrationTokenHash string
	// RegistrationMetadata is a JSON object of the registered metadata
	// Latchkey keeps without acting on it (contacts, tos_uri, policy_uri,
	// software_id, software_version), empty when there is none.
	RegistrationMetadata string
	// UsedAt is when the client was last used (written at most about once
	// an hour); zero before its first use.
	UsedAt time.Time
}

// RegistrationToken is an initial access token (RFC 7591 §3) that lets
// its bearer register a client when registration is gated.
type RegistrationToken struct {
	ID          string // a public handle to list and delete it by
	Hash        string // SHA-256 of the token; the token itself is never stored
	Description string
	CreatedAt   time.Time
	ExpiresAt   time.Time // zero: never expires
	MaxUses     int       // zero: any number of registrations
	Uses        int
}

// Resource is a protected API registered as an RFC 8707 resource. Its URI
// is the aud of the access tokens meant for it, and it introspects them
// with the credentials of its own client (ClientID, a confidential client
// without grant types), which is created and deleted with it.
type Resource struct {
	URI       string // the resource indicator: an absolute URI without a fragment
	Name      string
	Scopes    []string // the scopes it serves
	ClientID  string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// User is a resource owner who signs in with a username and password.
type User struct {
	ID           string
	Username     string
	PasswordHash string // argon2id PHC string
	Name         string
	Email        string
	// EmailVerified: the operator vouches that Email belongs to the user
	// (the email_verified claim, OpenID Connect Core §5.1).
	EmailVerified bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// DisabledAt is when an administrator disabled the account (zero:
	// enabled): a disabled user cannot sign in.
	DisabledAt time.Time
}

// Grant is a user's decision at consent: user x client x scopes x lifetime.
// Every code and token belongs to one grant; revoking the grant revokes them all.
type Grant struct {
	ID        string
	UserID    string
	ClientID  string
	Scopes    []string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: until revoked
	RevokedAt time.Time // zero: active
}

// Active reports whether the grant may still issue tokens at now.
func (g Grant) Active(now time.Time) bool {
	return g.RevokedAt.IsZero() && (g.ExpiresAt.IsZero() || now.Before(g.ExpiresAt))
}

// AuthRequest is a pending authorization request (RFC 6749 §4.1.1) waiting
// for the user to sign in and consent. It is bound to the browser that
// started it and consumed exactly once.
type AuthRequest struct {
	ID                  string // random, shown to the browser in forms
	BrowserHash         string // SHA-256 of the browser-binding cookie
	ClientID            string
	RedirectURI         string // the URI the response goes to (validated)
	RedirectURIGiven    bool   // whether the request carried redirect_uri (RFC 6749 §4.1.3)
	ResponseType        string
	Scopes              []string
	State               string
	CodeChallenge       string
	CodeChallengeMethod string
	Nonce               string
	// OpenID Connect request parameters (Core §3.1.2.1).
	ResponseMode string // query, fragment or form_post; empty: the response type's default
	Prompt       string // space-separated prompt values
	MaxAge       int64  // seconds; -1 when absent
	LoginHint    string
	ACRValues    string
	UILocales    string
	Claims       string // the claims request parameter (JSON), validated
	// Resources are the RFC 8707 resource parameters, validated; empty:
	// the resources follow from the scopes.
	Resources  []string
	UserID     string    // set once the user signed in
	SessionID  string    // the sid of the session that user signed in with
	AuthTime   time.Time // when that user signed in
	CreatedAt  time.Time
	ExpiresAt  time.Time
	ConsumedAt time.Time
	Device     string // the browser that started it, for the user's device list
	// DPoPJKT is the dpop_jkt parameter (RFC 9449 §10): the thumbprint of
	// the key the code must be redeemed with; empty: any.
	DPoPJKT string
}

// PushedRequest is an authorization request a client pushed (RFC 9126 §2),
// waiting for the browser to bring its request_uri to the authorization
// endpoint. It is stored by the hash of the request_uri's random part, used
// at most once, and only until it expires.
type PushedRequest struct {
	Hash     string // SHA-256 lookup hash of the request_uri's random part
	ClientID string
	// Params are the pushed authorization parameters, validated when
	// pushed, url-encoded (client authentication left out).
	Params    string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero: not used
}

// AuthCode is an authorization code (RFC 6749 §4.1.2). The row is kept after
// redemption (UsedAt set) so that a replay can find and revoke what it issued.
type AuthCode struct {
	Hash                string // SHA-256 lookup hash of the code
	GrantID             string
	ClientID            string
	UserID              string
	RedirectURI         string
	RedirectURIGiven    bool
	Scopes              []string
	CodeChallenge       string
	CodeChallengeMethod string
	Nonce               string
	AuthTime            time.Time
	// For the ID token issued at redemption (OpenID Connect Core §2).
	SessionID string // sid
	ACR       string
	Claims    string // the claims request parameter (JSON)
	// Resources the authorization was given for (RFC 8707); empty: those
	// of its scopes.
	Resources []string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero: not redeemed
	Device    string    // the browser that authorized, for the user's device list
	// DPoPJKT binds the code to a DPoP key (RFC 9449 §10); empty: unbound.
	DPoPJKT string
}

// Token kinds.
const (
	KindAccess  = "access"
	KindRefresh = "refresh"
)

// Token is an issued opaque access token or a refresh token, stored by hash.
// Tokens of one family descend from one code redemption; replay of that code
// or reuse of a rotated refresh token revokes the whole family.
type Token struct {
	Hash     string
	Kind     string // KindAccess or KindRefresh
	FamilyID string
	GrantID  string // empty for tokens issued without a user (client credentials)
	ClientID string
	UserID   string
	Scopes   []string
	AuthTime time.Time
	// Claims is the claims request parameter (JSON) of the authorization,
	// kept for /userinfo and for refreshed ID tokens.
	Claims string
	// Resources: of an access token, its audience (RFC 8707; empty: the
	// server's default audience); of a refresh token, the resources its
	// authorization was given for (empty: those of its scopes).
	Resources []string
	CreatedAt time.Time
	ExpiresAt time.Time
	RotatedAt time.Time // refresh tokens: zero until exchanged
	RevokedAt time.Time // zero: not revoked
	// Successor, of a rotated refresh token, is the refresh token that
	// replaced it, sealed by the caller under a key of its own (never the
	// plain token), so that a retry within the reuse grace can be answered
	// with it again; nil if the rotation kept none. Set only by
	// RotateRefreshTokenWithSuccessor.
	Successor []byte
	// Device describes the device or browser of the family (its first
	// authorization); Address is where the request that issued this token
	// came from.
	Device  string
	Address string
	// JKT is the JWK SHA-256 thumbprint of the key the token is bound to
	// (DPoP, RFC 9449 cnf.jkt); empty for a bearer token.
	JKT string
}

// Device is one refresh-token family of a user's app: a phone, a TV, a
// browser. It began when its code was redeemed and was last used when its
// newest token was issued.
type Device struct {
	FamilyID    string
	GrantID     string
	ClientID    string
	Description string
	Address     string // of the last use
	StartedAt   time.Time
	LastUsedAt  time.Time
}

// Active reports whether the token is usable at now.
func (t Token) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && t.RotatedAt.IsZero() && now.Before(t.ExpiresAt)
}

// Device code states (RFC 8628 §3.5): pending until the user decides.
const (
	DeviceCodePending  = "pending"
	DeviceCodeApproved = "approved"
	DeviceCodeDenied   = "denied"
)

// DeviceCode is a device authorization (RFC 8628 §3.2): the device polls
// with the device code while the user enters the user code on another
// screen and approves or denies it. The row is kept after redemption
// (UsedAt set), as a code's is, so a second redemption finds what the
// first issued.
type DeviceCode struct {
	Hash         string // SHA-256 lookup hash of the device code
	UserCodeHash string // keyed hash of the normalized user code; unique
	ClientID     string
	// Scopes are those requested; once approved, those the device gets.
	Scopes []string
	// Resources are the RFC 8707 resource values requested, as given.
	Resources []string
	Device    string // the device, from its User-Agent, for the user's device list
	Address   string // where the device authorization request came from
	CreatedAt time.Time
	ExpiresAt time.Time
	// Interval is how long the device must wait between polls; it grows
	// when the device polls too fast (RFC 8628 §3.5 slow_down).
	Interval   time.Duration
	LastPollAt time.Time // zero: never polled
	Status     string    // DeviceCodePending, DeviceCodeApproved or DeviceCodeDenied
	// Set when the user approves: who, under which grant, from which
	// session (signed in at AuthTime).
	UserID    string
	GrantID   string
	SessionID string
	AuthTime  time.Time
	UsedAt    time.Time // zero: not redeemed
}

// DeviceApproval is a user's approval of a device code.
type DeviceApproval struct {
	UserID    string
	SessionID string
	AuthTime  time.Time
	Scopes    []string // what the device gets (within the grant's scopes)
	// Grant is saved as CompleteAuthRequest saves it: inserted, or the
	// user's unrevoked grant to the client extended.
	Grant Grant
}

// Session is a signed-in browser (single sign-on), stored by the hash of its
// cookie. It is the platform session of OpenID Connect: ID is its public sid
// (Front- and Back-Channel Logout), and Clients are the applications the user
// signed in to with it, which single logout notifies.
type Session struct {
	Hash       string
	ID         string // sid: random, public, unique
	UserID     string
	AuthTime   time.Time
	CreatedAt  time.Time
	ExpiresAt  time.Time // absolute timeout
	LastSeenAt time.Time // for the idle timeout; updated by TouchSession
	Clients    []string  // client ids, in the order first signed in to; filled by GetSession
}

// SigningKey is a key that signs JWTs (access tokens, later ID tokens). All
// of a deployment's keys live in the database, so every node serves the same
// JWKS. The private key is sealed with the system secret (AES-256-GCM).
//
// Life of a key: published in JWKS from CreatedAt; signs from ActiveAt
// (later than CreatedAt on rotation, so verifiers can fetch it first) until
// a newer key becomes active; removed from JWKS at RetireAt (zero: never),
// which rotation sets past the expiry of every token the key signed.
type SigningKey struct {
	ID        string // the JWK "kid"
	Algorithm string // "ES256", "RS256" or "EdDSA"
	Sealed    []byte // sealed PKCS #8 DER private key
	PublicJWK []byte // the public JWK, JSON
	CreatedAt time.Time
	ActiveAt  time.Time
	RetireAt  time.Time
}

// ClientStore manages registered clients.
type ClientStore interface {
	// CreateClient inserts c; ErrConflict if the id exists.
	CreateClient(ctx context.Context, c Client) error
	// GetClient returns the client; ErrNotFound.
	GetClient(ctx context.Context, id string) (Client, error)
	// ListClients returns every client ordered by id.
	ListClients(ctx context.Context) ([]Client, error)
	// UpdateClient replaces every field of the client with c.ID; ErrNotFound.
	UpdateClient(ctx context.Context, c Client) error
	// DeleteClient removes the client and everything issued to it; ErrNotFound.
	DeleteClient(ctx context.Context, id string) error
	// TouchClient records that the client was used at t: UsedAt becomes t
	// unless it is already later; ErrNotFound.
	TouchClient(ctx context.Context, id string, t time.Time) error
	// DeleteUnusedClients removes, with everything issued to them, the
	// self-registered clients last used (or, never used, created) before
	// t, and returns their ids. Clients an operator created are never
	// removed.
	DeleteUnusedClients(ctx context.Context, t time.Time) ([]string, error)
}

// RegistrationTokenStore manages initial access tokens (RFC 7591 §3).
type RegistrationTokenStore interface {
	// CreateRegistrationToken inserts t; ErrConflict if its id or hash
	// exists.
	CreateRegistrationToken(ctx context.Context, t RegistrationToken) error
	// ListRegistrationTokens returns every token ordered by id.
	ListRegistrationTokens(ctx context.Context) ([]RegistrationToken, error)
	// DeleteRegistrationToken removes the token; ErrNotFound.
	DeleteRegistrationToken(ctx context.Context, id string) error
	// UseRegistrationToken counts one use of the token with hash, in one
	// statement so that racing registrations never exceed MaxUses;
	// ErrNotFound if no such token, if it expired at or before now, or if
	// it is used up.
	UseRegistrationToken(ctx context.Context, hash string, now time.Time) error
}

// ResourceStore manages registered resources (protected APIs).
type ResourceStore interface {
	// CreateResource inserts credentials (the resource's client) and r in
	// one transaction; ErrConflict if the URI or the client id exists.
	CreateResource(ctx context.Context, r Resource, credentials Client) error
	// GetResource returns the resource by URI; ErrNotFound.
	GetResource(ctx context.Context, uri string) (Resource, error)
	// ListResources returns every resource ordered by URI.
	ListResources(ctx context.Context) ([]Resource, error)
	// UpdateResource sets the name, scopes and UpdatedAt of the resource
	// with r.URI; ErrNotFound.
	UpdateResource(ctx context.Context, r Resource) error
	// DeleteResource removes the resource and its client; ErrNotFound.
	DeleteResource(ctx context.Context, uri string) error
}

// UserStore manages resource owners.
type UserStore interface {
	// CreateUser inserts u; ErrConflict if the id or username exists.
	CreateUser(ctx context.Context, u User) error
	// GetUser returns the user by id; ErrNotFound.
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByUsername returns the user by exact username; ErrNotFound.
	GetUserByUsername(ctx context.Context, username string) (User, error)
	// ListUsers returns every user ordered by username.
	ListUsers(ctx context.Context) ([]User, error)
	// UpdateUser replaces the fields of the user with u.ID; ErrNotFound.
	UpdateUser(ctx context.Context, u User) error
	// DeleteUser removes the user with their sessions, grants and tokens; ErrNotFound.
	DeleteUser(ctx context.Context, id string) error
}

// GrantStore manages consent decisions.
type GrantStore interface {
	// CreateGrant inserts g (a grant made without a consent page, such as
	// the password grant's); ErrConflict if the id exists, ErrNotFound if
	// the user or client does not.
	CreateGrant(ctx context.Context, g Grant) error
	// SaveGrant inserts g or, if a grant with its id exists and is not
	// revoked, sets its scopes and expiry to g's; ErrAlreadyUsed if that
	// grant is revoked, ErrConflict if another unrevoked grant of the same
	// user and client exists, ErrNotFound if the user or client does not.
	SaveGrant(ctx context.Context, g Grant) error
	// GetGrant returns the grant; ErrNotFound.
	GetGrant(ctx context.Context, id string) (Grant, error)
	// ListGrantsByUser returns the user's grants, newest first.
	ListGrantsByUser(ctx context.Context, userID string) ([]Grant, error)
	// ListGrantsByClient returns the client's grants, newest first,
	// revoked and expired ones included.
	ListGrantsByClient(ctx context.Context, clientID string) ([]Grant, error)
	// RevokeGrant marks the grant and every token of it revoked at now, in one
	// transaction; ErrNotFound.
	RevokeGrant(ctx context.Context, id string, now time.Time) error
}

// AuthRequestStore manages pending authorization requests.
type AuthRequestStore interface {
	// CreateAuthRequest inserts r; ErrConflict on a duplicate id.
	CreateAuthRequest(ctx context.Context, r AuthRequest) error
	// GetAuthRequest returns the request; ErrNotFound.
	GetAuthRequest(ctx context.Context, id string) (AuthRequest, error)
	// ChallengeInUse reports whether a request unexpired at now, from
	// another browser than browserHash, carries the PKCE code challenge.
	ChallengeInUse(ctx context.Context, challenge, browserHash string, now time.Time) (bool, error)
	// SetAuthRequestUser records who signed in for a request, with the sid
	// of their session, for a request that is neither consumed nor expired
	// at authTime; ErrNotFound, ErrAlreadyUsed.
	SetAuthRequestUser(ctx context.Context, id, userID, sessionID string, authTime time.Time) error
	// CompleteAuthRequest is the consent decision, atomically: it marks the
	// request consumed (only if not yet consumed and not expired at now),
	// saves grant (inserted, or, if a grant with its id exists and is not
	// revoked, given its scopes and expiry; a revoked one is ErrAlreadyUsed:
	// consent never revives a revoked grant; another unrevoked grant of the
	// same user and client is ErrConflict) and, if code is non-nil, inserts
	// the code. Exactly one concurrent caller succeeds; the others get
	// ErrAlreadyUsed and nothing is written. ErrNotFound if no such request.
	CompleteAuthRequest(ctx context.Context, id string, now time.Time, grant *Grant, code *AuthCode) error
	// CreateCompletedAuthRequest inserts r, consumed at r.ConsumedAt (which
	// must be set), and saves grant and code as CompleteAuthRequest does, in
	// one transaction: a request of a signed-in user answered at once, with
	// no page in between. ErrConflict as CompleteAuthRequest, or on a
	// duplicate id; on any error nothing is written.
	CreateCompletedAuthRequest(ctx context.Context, r AuthRequest, grant *Grant, code *AuthCode) error
	// ConsumeAuthRequest marks the request consumed without a grant (the user
	// denied); ErrNotFound, ErrAlreadyUsed as above.
	ConsumeAuthRequest(ctx context.Context, id string, now time.Time) error
	// FindGrant returns the user's unrevoked grant to the client, expired
	// or not (one grant per user and client); ErrNotFound.
	FindGrant(ctx context.Context, userID, clientID string) (Grant, error)
}

// PushedRequestStore manages pushed authorization requests (RFC 9126).
type PushedRequestStore interface {
	// CreatePushedRequest inserts r; ErrConflict if its hash exists,
	// ErrNotFound if its client does not, ErrInvalid.
	CreatePushedRequest(ctx context.Context, r PushedRequest) error
	// ConsumePushedRequest atomically marks the request with hash of
	// client clientID used at now and returns it, provided it is unused and
	// unexpired at now. Exactly one concurrent caller succeeds; the others
	// get ErrAlreadyUsed. ErrAlreadyUsed too if it was used or has expired;
	// ErrNotFound if there is no such request of that client (a request of
	// another client is left unused).
	ConsumePushedRequest(ctx context.Context, hash, clientID string, now time.Time) (PushedRequest, error)
}

// CodeStore manages authorization codes.
type CodeStore interface {
	// GetCode returns the code by hash, used or not; ErrNotFound.
	GetCode(ctx context.Context, hash string) (AuthCode, error)
	// GetCodeWithGrant returns the code by hash, used or not, and its grant
	// in one lookup (the zero Grant if the grant no longer exists);
	// ErrNotFound if no such code.
	GetCodeWithGrant(ctx context.Context, hash string) (AuthCode, Grant, error)
	// RedeemCode atomically marks the code used at now and inserts the tokens
	// it issues, provided the code is unused, unexpired, and its grant active.
	// Exactly one concurrent caller succeeds; the others get ErrAlreadyUsed
	// and nothing is written. ErrNotFound if no such code.
	RedeemCode(ctx context.Context, hash string, now time.Time, issued []Token) error
}

// DeviceCodeStore manages device authorizations (RFC 8628).
type DeviceCodeStore interface {
	// CreateDeviceCode inserts d; ErrConflict if its hash or its user
	// code hash exists, ErrNotFound if its client does not, ErrInvalid.
	CreateDeviceCode(ctx context.Context, d DeviceCode) error
	// GetDeviceCode returns the code by hash, in any state; ErrNotFound.
	GetDeviceCode(ctx context.Context, hash string) (DeviceCode, error)
	// GetDeviceCodeByUserCode returns the pending code with that user code
	// hash, unexpired at now; ErrNotFound for any other.
	GetDeviceCodeByUserCode(ctx context.Context, userCodeHash string, now time.Time) (DeviceCode, error)
	// ApproveDeviceCode is the user's approval, atomically: it marks the
	// code approved by a.UserID with a.Scopes (only if it is pending and
	// unexpired at now) and saves a.Grant as CompleteAuthRequest does (a
	// revoked grant is ErrAlreadyUsed, another unrevoked grant of the same
	// user and client ErrConflict). Exactly one concurrent decision
	// (approval or denial) succeeds; the others get ErrAlreadyUsed and
	// nothing is written. ErrNotFound if no such code.
	ApproveDeviceCode(ctx context.Context, hash string, now time.Time, a DeviceApproval) error
	// DenyDeviceCode marks the code denied, only if it is pending and
	// unexpired at now; ErrNotFound, ErrAlreadyUsed as ApproveDeviceCode.
	DenyDeviceCode(ctx context.Context, hash string, now time.Time) error
	// PollDeviceCode records a poll of the code by clientID at now and
	// returns the code as it then is, with whether the poll came too soon:
	// while the code is pending, a poll earlier than its previous poll plus
	// its interval less slack is too soon, and the interval grows by
	// slowDown for it and every later poll (RFC 8628 §3.5). Concurrent
	// polls are recorded one after another. ErrNotFound if no such code,
	// or if it belongs to another client (which changes nothing).
	PollDeviceCode(ctx context.Context, hash, clientID string, now time.Time, slack, slowDown time.Duration) (DeviceCode, bool, error)
	// RedeemDeviceCode atomically marks the code used at now and inserts
	// the tokens it issues, provided the code is approved, unused,
	// unexpired, and its grant active. Exactly one concurrent caller
	// succeeds; the others get ErrAlreadyUsed and nothing is written.
	// ErrNotFound if no such code.
	RedeemDeviceCode(ctx context.Context, hash string, now time.Time, issued []Token) error
}

// TokenStore manages access and refresh tokens.
type TokenStore interface {
	// CreateTokens inserts the tokens in one transaction; ErrConflict.
	CreateTokens(ctx context.Context, tokens []Token) error
	// GetToken returns the token by hash, in any state; ErrNotFound.
	GetToken(ctx context.Context, hash string) (Token, error)
	// GetTokenWithGrant returns the token by hash, in any state, and its
	// grant in one lookup (the zero Grant if it has none); ErrNotFound if no
	// such token.
	GetTokenWithGrant(ctx context.Context, hash string) (Token, Grant, error)
	// GetTokenWithUsername returns the token by hash, in any state, and the
	// username of its user ("" if it has none) in one lookup, what an
	// introspection answer needs; ErrNotFound if no such token.
	GetTokenWithUsername(ctx context.Context, hash string) (Token, string, error)
	// RotateRefreshToken atomically marks the refresh token oldHash rotated
	// at now and inserts issued, provided the old token is an active refresh
	// token (not rotated, not revoked, unexpired) of an active grant.
	// Exactly one concurrent caller succeeds; the others get ErrAlreadyUsed
	// and nothing is written. ErrNotFound if no such token.
	RotateRefreshToken(ctx context.Context, oldHash string, now time.Time, issued []Token) error
	// RotateRefreshTokenWithSuccessor is RotateRefreshToken that also
	// keeps sealedSuccessor (the new refresh token, sealed; never plain) on
	// the old token's row, in the same atomic update (Token.Successor).
	RotateRefreshTokenWithSuccessor(ctx context.Context, oldHash string, now time.Time, sealedSuccessor []byte, issued []Token) error
	// IssueWithinGrace inserts issued (the access tokens answering a
	// rotated refresh token presented again within the reuse grace)
	// provided, atomically: oldHash is a refresh token rotated at or after
	// rotatedSince and not revoked, and successorHash is an active refresh
	// token (not rotated, not revoked, unexpired at now) of the same family
	// whose grant (if it has one) is active at now. Otherwise
	// ErrAlreadyUsed and nothing is written; ErrNotFound if either token
	// does not exist; ErrConflict if an issued hash exists; ErrInvalid.
	IssueWithinGrace(ctx context.Context, oldHash, successorHash string, rotatedSince, now time.Time, issued []Token) error
	// IssueForRefreshToken inserts issued (the access tokens of a refresh
	// that keeps its refresh token: no rotation) provided, atomically,
	// that hash is an active refresh token (not rotated, not revoked,
	// unexpired at now) whose grant, if it has one, is active at now.
	// Otherwise ErrAlreadyUsed and nothing is written; ErrNotFound if no
	// such token; ErrConflict if an issued hash exists; ErrInvalid.
	IssueForRefreshToken(ctx context.Context, hash string, now time.Time, issued []Token) error
	// RevokeToken marks one token revoked at now (no error if it already was); ErrNotFound.
	RevokeToken(ctx context.Context, hash string, now time.Time) error
	// ListDevices returns the user's devices with an active token at now
	// (families of an unrevoked grant), most recently used first.
	ListDevices(ctx context.Context, userID string, now time.Time) ([]Device, error)
	// RevokeFamily marks every token of the family revoked at now and
	// returns how many changed.
	RevokeFamily(ctx context.Context, familyID string, now time.Time) (int, error)
	// RevokeRefreshTokens marks every active refresh token of the user for
	// each of the clients revoked at now, with the access tokens of their
	// families, and returns how many tokens changed (single logout with
	// offline access ended).
	RevokeRefreshTokens(ctx context.Context, userID string, clientIDs []string, now time.Time) (int, error)
}

// KeyStore manages signing keys.
type KeyStore interface {
	// CreateSigningKey inserts k; ErrConflict if the id exists.
	CreateSigningKey(ctx context.Context, k SigningKey) error
	// ListSigningKeys returns every key, newest ActiveAt first.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// RetireSigningKey sets the key's RetireAt; ErrNotFound.
	RetireSigningKey(ctx context.Context, id string, retireAt time.Time) error
	// DeleteSigningKey removes the key; ErrNotFound.
	DeleteSigningKey(ctx context.Context, id string) error
	// ResealSigningKey replaces the key's sealed private half (sealed
	// again under a new system secret); ErrNotFound.
	ResealSigningKey(ctx context.Context, id string, sealed []byte) error
}

// ReplayStore remembers one-time identifiers (the jti of client assertions,
// RFC 7523 §3; later DPoP proofs) until they expire, across restarts and nodes.
type ReplayStore interface {
	// UseOnce records (scope, id) until expiresAt. ErrAlreadyUsed if it was
	// recorded before and has not expired at now; exactly one concurrent
	// caller succeeds. Expired records may be reused and are purged.
	UseOnce(ctx context.Context, scope, id string, expiresAt, now time.Time) error
}

// SessionStore manages signed-in browsers.
type SessionStore interface {
	// CreateSession inserts s; ErrConflict.
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns an unexpired session at now, with its Clients;
	// ErrNotFound otherwise.
	GetSession(ctx context.Context, hash string, now time.Time) (Session, error)
	// TouchSession sets the session's LastSeenAt to now; ErrNotFound.
	TouchSession(ctx context.Context, hash string, now time.Time) error
	// AddSessionClient records that the user signed in to clientID with the
	// session (no error if already recorded); ErrNotFound if the session or
	// the client does not exist.
	AddSessionClient(ctx context.Context, hash, clientID string, now time.Time) error
	// DeleteSession removes the session (no error if absent).
	DeleteSession(ctx context.Context, hash string) error
	// DeleteUserSessions removes every session of the user (after a password
	// change, for example) and returns how many.
	DeleteUserSessions(ctx context.Context, userID string) (int, error)
	// DeleteOtherSessions removes every session of the user but the one
	// with keepHash (after a password change in that browser) and returns
	// how many it removed.
	DeleteOtherSessions(ctx context.Context, userID, keepHash string) (int, error)
}

// Counter is one shared rate-limit counter: failures of Key counted
// since Start.
type Counter struct {
	Key   string
	Start time.Time
	Count int
}

// CounterStore shares rate-limit counters between the nodes of one
// deployment, in batches: each node adds what it counted since its last
// sync and learns what the others counted.
type CounterStore interface {
	// SyncCounters adds each delta to its counter of scope, in one
	// transaction. A counter whose window (Start + window) ended at now
	// starts again at now. It returns every counter of scope updated at or
	// after since whose window has not ended, at most limit of them, those
	// just added included.
	SyncCounters(ctx context.Context, scope string, window time.Duration, deltas map[string]int, since, now time.Time, limit int) ([]Counter, error)
}

// Activity kinds, as the account page shows them.
const (
	ActivitySignedIn  = "signed-in"
	ActivityConsented = "consented"
	ActivityIssued    = "issued"
	ActivityRefreshed = "refreshed"
	ActivityRevoked   = "revoked"
	ActivityPassword  = "password-changed"
)

// Activity is one thing that happened on a user's account.
type Activity struct {
	// ID orders entries written at the same time; set by QueryActivity.
	ID       int64
	UserID   string
	ClientID string // empty: the account itself (a sign-in to the account page)
	Kind     string
	Device   string
	Address  string
	Detail   string // scopes, or what was revoked
	At       time.Time
}

// ActivityQuery selects a page of activity entries.
type ActivityQuery struct {
	UserID, ClientID string
	Limit            int
	// After is the last entry of the previous page (its At and ID); nil:
	// the first page.
	After *Activity
}

// ActivityStore keeps the user-facing activity log.
type ActivityStore interface {
	// AddActivity inserts the entries, in one transaction.
	AddActivity(ctx context.Context, entries []Activity) error
	// ListActivity returns the user's newest entries, at most limit.
	ListActivity(ctx context.Context, userID string, limit int) ([]Activity, error)
	// QueryActivity returns the entries of q.UserID, or of q.ClientID (one
	// of them set; both: the user's entries with the client), newest first
	// (by At, then ID), after q.After when set, at most q.Limit.
	QueryActivity(ctx context.Context, q ActivityQuery) ([]Activity, error)
	// PurgeActivity deletes up to limit entries older than before and
	// returns how many it deleted.
	PurgeActivity(ctx context.Context, before time.Time, limit int) (int, error)
}

// Purge says what a PurgeExpired run deletes.
type Purge struct {
	// Expired: rows whose lifetime ended at or before this time are
	// deleted, except those reuse and replay detection still need (see
	// PurgeExpired). Callers pass a time a little before now, so that a
	// node whose clock lags never meets a row another node deleted.
	Expired time.Time
	// Activity: activity entries older than this are deleted; zero keeps
	// them all.
	Activity time.Time
	// Successors: the sealed successors kept by refresh tokens rotated at
	// or before this time are cleared (the reuse grace no longer needs
	// them); zero keeps them.
	Successors time.Time
	// Batch bounds the rows one DELETE statement removes; zero or less
	// means DefaultPurgeBatch.
	Batch int
}

// DefaultPurgeBatch is the rows per DELETE of a purge unless set: small
// enough that each statement holds the write lock for milliseconds.
const DefaultPurgeBatch = 500

// Purged is what a PurgeExpired run did.
type Purged struct {
	// Rows deleted per table, by table name; every table the janitor
	// purges is present, with 0 when nothing was deleted.
	Rows map[string]int64
	// Skipped: another node held the purge lock (PostgreSQL), so this run
	// deleted nothing.
	Skipped bool
	// Successors counts the sealed successors cleared (rows kept).
	Successors int64
}

// Total returns the rows deleted over all tables.
func (p Purged) Total() int64 {
	var n int64
	for _, v := range p.Rows {
		n += v
	}
	return n
}

// Janitor deletes expired rows.
type Janitor interface {
	// PurgeExpired deletes, in statements of at most p.Batch rows each
	// (each its own short transaction), every row expired at p.Expired of
	// the tables that hold expiring rows, until none is left, and the
	// activity entries older than p.Activity. It keeps what reuse and
	// replay detection still read:
	//   - a refresh token, rotated or not, while any token of its family
	//     is unexpired, since reuse of a rotated refresh token revokes the
	//     family (an access token goes once expired: a revoked JWT's row
	//     denies its jti exactly until then);
	//   - a redeemed code or device code while any token of its family is
	//     unexpired, since its replay revokes those tokens (RFC 6749
	//     §4.1.2); a device code also for a day after it expired, so a
	//     late poll still hears expired_token;
	//   - every unexpired row, revoked or not.
	// Grants, users, clients and keys are never deleted. On PostgreSQL
	// one node at a time purges: a run that finds another node's purge
	// under way deletes nothing and reports Skipped. A run stopped by ctx
	// returns what it deleted so far with the context's error.
	PurgeExpired(ctx context.Context, p Purge) (Purged, error)
}

// Store is everything a Latchkey server needs from a backend.
type Store interface {
	Janitor
	ActivityStore
	CounterStore
	ClientStore
	RegistrationTokenStore
	ResourceStore
	UserStore
	GrantStore
	AuthRequestStore
	PushedRequestStore
	CodeStore
	DeviceCodeStore
	TokenStore
	SessionStore
	KeyStore
	ReplayStore
	// Ping checks that the database answers (for /readyz).
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}
