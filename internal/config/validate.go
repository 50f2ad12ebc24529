package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits enforced by Validate.
const (
	// MinSystemSecretLen is the shortest system secret accepted, in bytes.
	MinSystemSecretLen = 32
	// MinClientSecretLen is the shortest client secret an operator may
	// give instead of a generated one (RFC 6819 §5.1.4.2.2: secrets of high
	// entropy; throttling alone does not make "secret" safe).
	MinClientSecretLen = 16
	// MaxCodeTTL is the longest authorization code lifetime: RFC 6749 §4.1.2
	// "A maximum authorization code lifetime of 10 minutes is RECOMMENDED."
	MaxCodeTTL = 10 * time.Minute
	// MaxDeviceCodeTTL is the longest device code lifetime: the longer a
	// user code lives, the more guesses it can take (RFC 8628 §5.1).
	MaxDeviceCodeTTL = time.Hour
	// MaxRefreshReuseGrace bounds tokens.refresh_reuse_grace: a rotated
	// refresh token answered for longer would be a second live token
	// (RFC 9700 §4.14.2), and no retry needs more.
	MaxRefreshReuseGrace = time.Minute
	// MinPasswordLen is the shortest user password accepted, in characters.
	MinPasswordLen = 8
)

// Validate reports every problem of the configuration at once (joined with
// errors.Join), each prefixed with the key it concerns. A static client is
// checked here only for what the file alone can tell (id present and unique,
// one secret form); its full registration is checked with oauth.ValidateClient
// when it is applied.
func (c Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	if err := ValidateIssuer(c.Issuer, c.Dev); err != nil {
		add("issuer", "%v", err)
	}
	for _, p := range c.Server.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				add("server.trusted_proxies", "%q is not an IP address or CIDR", p)
			}
		}
	}
	if (c.Server.TLSCert == "") != (c.Server.TLSKey == "") {
		add("server.tls_cert", "server.tls_cert and server.tls_key go together: set both or neither")
	}
	if a := c.Server.AdminListen; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			add("server.admin_listen", "%q is not a host:port address", a)
		} else if a == c.Listen {
			add("server.admin_listen", "must differ from listen (%q)", c.Listen)
		}
	}
	switch strings.ToLower(c.Server.ProxyHeader) {
	case "", "x-forwarded-for", "forwarded":
	default:
		add("server.proxy_header", "must be X-Forwarded-For or Forwarded, got %q", c.Server.ProxyHeader)
	}
	for _, l := range c.Consent.Lifetimes {
		if d, err := time.ParseDuration(l); l != Forever && (err != nil || d <= 0) {
			add("consent.lifetimes", "%q is neither a positive duration nor %q", l, Forever)
		}
	}
	if len(c.Consent.Lifetimes) == 0 {
		add("consent.lifetimes", "offer at least one lifetime")
	} else if !slices.Contains(c.Consent.Lifetimes, c.Consent.DefaultLifetime) {
		add("consent.default_lifetime", "%q is not one of consent.lifetimes", c.Consent.DefaultLifetime)
	}
	errs = append(errs, c.Registration.validate()...)
	if err := ValidateListen(c.Listen); err != nil {
		add("listen", "%v", err)
	}
	if err := ValidateDatabase(c.Database); err != nil {
		add("database", "%v", err)
	}
	switch {
	case c.SystemSecret == "" && !c.Dev:
		add("system_secret", "is required (at least %d bytes, e.g. `openssl rand -base64 32`) unless dev is on", MinSystemSecretLen)
	case c.SystemSecret != "" && len(c.SystemSecret) < MinSystemSecretLen:
		add("system_secret", "must be at least %d bytes, got %d", MinSystemSecretLen, len(c.SystemSecret))
	}
	switch p := c.SystemSecretPrevious; {
	case p == "":
	case c.SystemSecret == "":
		add("system_secret_previous", "needs system_secret: it is the secret being replaced by system_secret")
	case len(p) < MinSystemSecretLen:
		add("system_secret_previous", "must be at least %d bytes, got %d", MinSystemSecretLen, len(p))
	case p == c.SystemSecret:
		add("system_secret_previous", "is the same as system_secret: set it to the secret being replaced")
	}

	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"tokens.code_ttl", c.Tokens.CodeTTL},
		{"tokens.access_token_ttl", c.Tokens.AccessTokenTTL},
		{"tokens.refresh_token_ttl", c.Tokens.RefreshTokenTTL},
		{"tokens.implicit_token_ttl", c.Tokens.ImplicitTokenTTL},
		{"session.ttl", c.Session.TTL},
		{"session.auth_request_ttl", c.Session.AuthRequestTTL},
		{"session.idle_ttl", c.Session.IdleTTL},
		{"activity.retention", c.Activity.Retention},
		{"janitor.interval", c.Janitor.Interval},
	} {
		if d.v <= 0 {
			add(d.key, "must be positive, got %s", d.v)
		}
	}
	if b := c.Janitor.Batch; b < 1 || b > MaxJanitorBatch {
		add("janitor.batch", "must be between 1 and %d, got %d", MaxJanitorBatch, b)
	}
	if c.Session.TTL > 0 && c.Session.IdleTTL > c.Session.TTL {
		add("session.idle_ttl", "must be at most session.ttl (%s), got %s", c.Session.TTL, c.Session.IdleTTL)
	}
	if c.Tokens.CodeTTL > MaxCodeTTL {
		add("tokens.code_ttl", "must be at most %s (RFC 6749 §4.1.2), got %s", MaxCodeTTL, c.Tokens.CodeTTL)
	}
	switch d := c.Tokens.DeviceCodeTTL; {
	case d <= 0 || d > MaxDeviceCodeTTL:
		add("tokens.device_code_ttl", "must be positive and at most %s (RFC 8628 §5.1: a user code lives only as long as it must), got %s", MaxDeviceCodeTTL, d)
	case c.Tokens.DevicePollInterval >= d:
		add("tokens.device_poll_interval", "must be shorter than tokens.device_code_ttl (%s)", d)
	}
	if d := c.Tokens.DevicePollInterval; d < time.Second || d%time.Second != 0 {
		add("tokens.device_poll_interval", "must be a whole number of seconds, at least 1s (RFC 8628 §3.2 interval), got %s", d)
	}
	if d := c.Tokens.PARTTL; d < time.Second || d > MaxPARTTL || d%time.Second != 0 {
		add("tokens.par_ttl", "must be a whole number of seconds from 1s to %s (RFC 9126 §7.2: a request_uri is short-lived), got %s", MaxPARTTL, d)
	}
	if d := c.Tokens.RefreshReuseGrace; d < 0 || d > MaxRefreshReuseGrace {
		add("tokens.refresh_reuse_grace", "must be between 0 (strict: any reuse revokes the family) and %s, got %s", MaxRefreshReuseGrace, d)
	}
	switch c.Tokens.Algorithm {
	case "ES256", "RS256", "EdDSA":
	default:
		add("tokens.algorithm", "must be ES256, RS256 or EdDSA, got %q", c.Tokens.Algorithm)
	}
	for i, a := range c.Tokens.Audience {
		if a == "" || strings.ContainsAny(a, " \t\r\n\x00") {
			add(fmt.Sprintf("tokens.audience[%d]", i), "must be a non-empty string without spaces")
		}
	}

	seenScope := make(map[string]int, len(c.Scopes))
	for i, s := range c.Scopes {
		key := fmt.Sprintf("scopes[%d].name", i)
		if err := ValidateScopeName(s.Name); err != nil {
			add(key, "%v", err)
			continue
		}
		if j, dup := seenScope[s.Name]; dup {
			add(key, "duplicate scope %q (also scopes[%d])", s.Name, j)
			continue
		}
		seenScope[s.Name] = i
	}

	seenClient := make(map[string]int, len(c.Clients))
	for i, cl := range c.Clients {
		key := fmt.Sprintf("clients[%d]", i)
		switch j, dup := seenClient[cl.ID]; {
		case strings.TrimSpace(cl.ID) == "":
			add(key+".id", "is required")
		case dup:
			add(key+".id", "duplicate client id %q (also clients[%d])", cl.ID, j)
		default:
			seenClient[cl.ID] = i
		}
		if cl.Secret != "" && cl.SecretHash != "" {
			add(key, "set secret or secret_hash, not both")
		}
		if cl.Secret != "" {
			if err := ValidateGivenSecret(cl.Secret); err != nil {
				add(key+".secret", "%v", err)
			}
		}
		if cl.SecretHash != "" && !wellFormedSecretHash(cl.SecretHash) {
			add(key+".secret_hash", `must be "sha256:<64 hex digits>" or an argon2id PHC string ("$argon2id$...")`)
		}
	}

	seenResource := make(map[string]int, len(c.Resources))
	for i, r := range c.Resources {
		key := fmt.Sprintf("resources[%d]", i)
		switch j, dup := seenResource[r.URI]; {
		case strings.TrimSpace(r.URI) == "":
			add(key+".uri", "is required")
		case dup:
			add(key+".uri", "duplicate resource %q (also resources[%d])", r.URI, j)
		default:
			seenResource[r.URI] = i
		}
		switch j, dup := seenClient[r.ClientID]; {
		case strings.TrimSpace(r.ClientID) == "":
			add(key+".client_id", "is required")
		case dup:
			add(key+".client_id", "client id %q is taken (also clients[%d]); a resource has a client of its own", r.ClientID, j)
		}
		switch {
		case r.ClientSecret != "" && r.ClientSecretHash != "":
			add(key, "set client_secret or client_secret_hash, not both")
		case r.ClientSecret == "" && r.ClientSecretHash == "":
			add(key, "client_secret or client_secret_hash is required")
		case r.ClientSecretHash != "" && !wellFormedSecretHash(r.ClientSecretHash):
			add(key+".client_secret_hash", `must be "sha256:<64 hex digits>" or an argon2id PHC string ("$argon2id$...")`)
		case r.ClientSecret != "":
			if err := ValidateGivenSecret(r.ClientSecret); err != nil {
				add(key+".client_secret", "%v", err)
			}
		}
	}

	seenUser := make(map[string]int, len(c.Users))
	for i, u := range c.Users {
		key := fmt.Sprintf("users[%d]", i)
		switch j, dup := seenUser[u.Username]; {
		case strings.TrimSpace(u.Username) == "":
			add(key+".username", "is required")
		case dup:
			add(key+".username", "duplicate username %q (also users[%d])", u.Username, j)
		default:
			seenUser[u.Username] = i
			if err := ValidateUsername(u.Username); err != nil {
				add(key+".username", "%v", err)
			}
		}
		switch {
		case u.Password != "" && u.PasswordHash != "":
			add(key, "set password or password_hash, not both")
		case u.Password == "" && u.PasswordHash == "":
			add(key, "password or password_hash is required")
		case u.Password != "" && utf8.RuneCountInString(u.Password) < MinPasswordLen:
			add(key+".password", "must be at least %d characters", MinPasswordLen)
		case u.PasswordHash != "" && !strings.HasPrefix(u.PasswordHash, "$argon2id$"):
			add(key+".password_hash", `must be an argon2id PHC string ("$argon2id$...")`)
		}
		if u.EmailVerified && u.Email == "" {
			add(key+".email_verified", "needs an email")
		}
	}
	return errors.Join(errs...)
}

// ValidateIssuer checks the issuer identifier (RFC 8414 §2: "a URL that uses
// the "https" scheme and has no query or fragment components"). Plain http is
// accepted for a loopback or localhost host, or anywhere when dev is on. A
// trailing slash is refused because endpoint URLs are built by appending
// paths to the issuer.
func ValidateIssuer(issuer string, dev bool) error {
	if issuer == "" {
		return errors.New("is required")
	}
	u, err := url.Parse(issuer)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("must be an absolute http(s) URL, got %q", issuer)
	}
	var errs []error
	switch u.Scheme {
	case "https":
	case "http":
		if !dev && !isLoopbackOrLocalhost(u.Hostname()) {
			errs = append(errs, errors.New("must use https unless the host is loopback or localhost (or dev is on)"))
		}
	default:
		errs = append(errs, fmt.Errorf("must use the http or https scheme, got %q", u.Scheme))
	}
	if u.User != nil {
		errs = append(errs, errors.New("must not contain user information"))
	}
	if u.RawQuery != "" || u.ForceQuery || strings.Contains(issuer, "?") {
		errs = append(errs, errors.New("must not have a query component (RFC 8414 §2)"))
	}
	if u.Fragment != "" || strings.Contains(issuer, "#") {
		errs = append(errs, errors.New("must not have a fragment component (RFC 8414 §2)"))
	}
	if strings.HasSuffix(u.Path, "/") {
		errs = append(errs, errors.New("must not end with a slash"))
	}
	return joinInline(errs)
}

// ValidateListen checks a host:port TCP address; the host may be empty (all
// interfaces) and the port 0 (any free port).
func ValidateListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port, got %q", addr)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("invalid host %q", host)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || port == "" || n > 65535 {
		return fmt.Errorf("invalid port %q", port)
	}
	return nil
}

// ValidateDatabase checks the shape of a database DSN: "sqlite:PATH" or a
// "postgres://" / "postgresql://" URL. The backend reports everything else.
func ValidateDatabase(dsn string) error {
	switch {
	case dsn == "":
		return errors.New(`is required ("sqlite:PATH" or "postgres://...")`)
	case strings.HasPrefix(dsn, "sqlite:"):
		if strings.TrimPrefix(dsn, "sqlite:") == "" {
			return errors.New(`"sqlite:" needs a file path, e.g. "sqlite:latchkey.db"`)
		}
		return nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		u, err := url.Parse(dsn)
		if err != nil {
			// Do not echo the DSN: it may hold a password.
			return errors.New("is not a valid postgres:// URL")
		}
		if u.Host == "" && !u.Query().Has("host") {
			return errors.New("postgres URL needs a host")
		}
		return nil
	default:
		return errors.New(`must start with "sqlite:", "postgres://" or "postgresql://"`)
	}
}

// ValidateGivenSecret checks a client secret an operator gives (a static
// client, --secret, the admin API): at least MinClientSecretLen bytes and
// at most 512, printable ASCII as a password manager or another server
// would produce. Generated secrets (lk_cs_...) always pass.
func ValidateGivenSecret(s string) error {
	if len(s) < MinClientSecretLen || len(s) > 512 {
		return fmt.Errorf("a client secret must be %d to 512 characters (got %d); leave it out and one is generated", MinClientSecretLen, len(s))
	}
	for i := 0; i < len(s); i++ {
		if ch := s[i]; ch < 0x20 || ch > 0x7e {
			return errors.New("a client secret must be printable ASCII (RFC 6749 §2.3.1 sends it form-encoded in HTTP Basic)")
		}
	}
	return nil
}

// ValidateScopeName checks a scope token (RFC 6749 §3.3:
// scope-token = 1*( %x21 / %x23-5B / %x5D-7E )), at most 128 bytes.
func ValidateScopeName(name string) error {
	if name == "" {
		return errors.New("is required")
	}
	if len(name) > 128 {
		return errors.New("must be at most 128 characters")
	}
	for i := 0; i < len(name); i++ {
		if ch := name[i]; ch < 0x21 || ch == 0x22 || ch == 0x5c || ch > 0x7e {
			return fmt.Errorf("%q is not a valid scope token (RFC 6749 §3.3: printable ASCII without space, '\"' or '\\')", name)
		}
	}
	return nil
}

// ValidateUsername checks a username: 1 to 255 bytes of valid UTF-8 without
// spaces or control characters.
func ValidateUsername(username string) error {
	if username == "" || len(username) > 255 {
		return errors.New("must be 1 to 255 characters")
	}
	if !utf8.ValidString(username) {
		return errors.New("must be valid UTF-8")
	}
	for _, r := range username {
		if r <= ' ' || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\u00a0' {
			return errors.New("must not contain spaces or control characters")
		}
	}
	return nil
}

// wellFormedSecretHash reports whether h looks like a verifier Latchkey can
// check: "sha256:" and 64 hex digits, or an argon2id PHC string.
func wellFormedSecretHash(h string) bool {
	if rest, ok := strings.CutPrefix(h, "sha256:"); ok {
		if len(rest) != 64 {
			return false
		}
		for i := 0; i < len(rest); i++ {
			if !strings.ContainsRune("0123456789abcdef", rune(rest[i])) {
				return false
			}
		}
		return true
	}
	return strings.HasPrefix(h, "$argon2id$")
}

func isLoopbackOrLocalhost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// joinInline joins problems of one key with "; " so the key is printed once.
func joinInline(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

// registrationGrants are the grant types a registration policy may allow:
// never implicit or password (RFC 9700 §2.1.2, §2.4).
var registrationGrants = []string{"authorization_code", "refresh_token", "client_credentials",
	"urn:ietf:params:oauth:grant-type:device_code"}

func (r RegistrationConfig) validate() []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("registration.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if r.Mode != RegistrationOpen && r.Mode != RegistrationGated {
		add("mode", "must be %q or %q, got %q", RegistrationOpen, RegistrationGated, r.Mode)
	}
	for _, g := range r.Policy.GrantTypes {
		if !slices.Contains(registrationGrants, g) {
			add("policy.grant_types", "%q may not be allowed to self-registered clients (one of %s)", g, strings.Join(registrationGrants, ", "))
		}
	}
	for _, sc := range r.Policy.Scopes {
		if err := ValidateScopeName(sc); err != nil {
			add("policy.scopes", "%v (in LATCHKEY_REGISTRATION_POLICY_SCOPES, separate scopes with commas)", err)
		} else if strings.HasPrefix(sc, "latchkey:admin") {
			add("policy.scopes", "%q may never be given to a self-registered client", sc)
		}
	}
	if r.Policy.RedirectURIs != RedirectHTTPS && r.Policy.RedirectURIs != RedirectHTTPSOrLoopback {
		add("policy.redirect_uris", "must be %q or %q, got %q", RedirectHTTPS, RedirectHTTPSOrLoopback, r.Policy.RedirectURIs)
	}
	if r.UnusedClientTTL <= 0 {
		add("unused_client_ttl", "must be positive")
	}
	if r.PerAddressPerHour < 0 {
		add("per_address_per_hour", "must not be negative")
	}
	if r.SoftwareStatementKeys != "" && r.SoftwareStatementKeysFile != "" {
		add("software_statement_keys", "set software_statement_keys or software_statement_keys_file, not both")
	}
	return errs
}
