package rs

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config configures a Guard. Issuer and Resource are required; every other
// field has a default.
type Config struct {
	// Issuer is the authorization server's issuer identifier. Its metadata
	// is read from the RFC 8414 §3.1 well-known URL
	// (/.well-known/oauth-authorization-server, inserted before the
	// issuer's path, if any), falling back to OpenID Connect Discovery's
	// Issuer+"/.well-known/openid-configuration"; the document's "issuer"
	// must equal Issuer exactly (RFC 8414 §3.3).
	Issuer string
	// Resource is this API's resource indicator (RFC 8707), for example
	// "https://api.example/notes": a token is accepted only if its aud
	// contains it (RFC 9068 §4), and it is the "resource" of the RFC 9728
	// metadata.
	Resource string
	// Realm is the realm of WWW-Authenticate challenges (RFC 6750 §3);
	// default Resource.
	Realm string
	// ClientID and ClientSecret authenticate this API at the introspection
	// endpoint with client_secret_basic (RFC 7662 §2.1, RFC 6749 §2.3.1).
	// Without them opaque tokens are refused as invalid_token.
	ClientID, ClientSecret string
	// IntrospectionCacheTTL is how long an introspection answer, active or
	// not, is reused (never past the token's exp): 0 means 10s, negative
	// never cached.
	IntrospectionCacheTTL time.Duration
	// CheckRevocation also confirms JWTs at the introspection endpoint
	// (cached like opaque answers), so that a revoked JWT stops working
	// within IntrospectionCacheTTL instead of at its exp. It needs ClientID.
	CheckRevocation bool
	// Leeway is the clock skew allowed on exp, nbf and iat: 0 means 30s,
	// negative none.
	Leeway time.Duration
	// AllowFormToken accepts access_token in an
	// application/x-www-form-urlencoded body (RFC 6750 §2.2). The URI
	// query (§2.3) is never accepted.
	AllowFormToken bool
	// CacheSize bounds the verified-token cache: 0 means 10000 entries,
	// negative disables the cache (every request verifies or introspects).
	CacheSize int
	// JWKSRefreshInterval is the least time between two JWKS fetches
	// caused by an unknown kid, so that tokens with made-up kids cannot make
	// this API flood the authorization server: 0 means 10s, negative no
	// minimum. (A JWKS is also fetched again once it is 5 minutes old, so
	// that a key the server withdrew stops working, cached tokens too.)
	JWKSRefreshInterval time.Duration
	// HTTPClient fetches metadata and keys and calls introspection. The
	// default has a 10s timeout and follows no redirects.
	HTTPClient *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time

	// RFC 9728 §2 metadata, served by MetadataHandler.
	ResourceName          string
	ScopesSupported       []string
	ResourceDocumentation string
}

// Defaults for the zero values of Config.
const (
	DefaultIntrospectionCacheTTL = 10 * time.Second
	DefaultLeeway                = 30 * time.Second
	DefaultCacheSize             = 10000
	DefaultJWKSRefreshInterval   = 10 * time.Second
	DefaultHTTPTimeout           = 10 * time.Second
)

// withDefaults checks c and fills in its defaults, reporting every problem
// at once.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if err := checkURL("Issuer", c.Issuer, true); err != nil {
		errs = append(errs, err)
	}
	if err := checkURL("Resource", c.Resource, false); err != nil {
		errs = append(errs, err)
	}
	if (c.ClientID == "") != (c.ClientSecret == "") {
		errs = append(errs, errors.New("ClientID and ClientSecret go together"))
	}
	if c.CheckRevocation && c.ClientID == "" {
		errs = append(errs, errors.New("CheckRevocation needs ClientID and ClientSecret"))
	}
	for _, s := range c.ScopesSupported {
		if !validScope(s) {
			errs = append(errs, fmt.Errorf("ScopesSupported: %q is not a scope-token (RFC 6749 §3.3)", s))
		}
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("rs: %w", errors.Join(errs...))
	}
	if c.Realm == "" {
		c.Realm = c.Resource
	}
	c.IntrospectionCacheTTL = orDefault(c.IntrospectionCacheTTL, DefaultIntrospectionCacheTTL)
	c.Leeway = orDefault(c.Leeway, DefaultLeeway)
	c.JWKSRefreshInterval = orDefault(c.JWKSRefreshInterval, DefaultJWKSRefreshInterval)
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{
			Timeout: DefaultHTTPTimeout,
			// Keys and answers come from the URLs the issuer named, not
			// from wherever those redirect.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// orDefault: 0 is the default, negative is none.
func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// checkURL requires an absolute http(s) URL without fragment (RFC 8707 §2,
// RFC 9728 §1.2); an issuer also has no query (RFC 8414 §2).
func checkURL(field, s string, issuer bool) error {
	if s == "" {
		return fmt.Errorf("%s is required", field)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%s: %v", field, err)
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "", u.User != nil:
		return fmt.Errorf("%s %q: want an absolute http(s) URL", field, s)
	case strings.Contains(s, "#"):
		return fmt.Errorf("%s %q: must not have a fragment", field, s)
	case issuer && (u.RawQuery != "" || u.ForceQuery):
		return fmt.Errorf("%s %q: must not have a query (RFC 8414 §2)", field, s)
	}
	return nil
}
