package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// Grant types a client may be allowed (RFC 6749 §4, RFC 8628 §3.4).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantImplicit          = "implicit"
	GrantPassword          = "password"
	GrantClientCredentials = "client_credentials"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
)

// KnownGrantTypes lists every grant type a client may be registered for.
var KnownGrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken, GrantImplicit, GrantPassword, GrantClientCredentials, GrantDeviceCode}

// NewClientID returns a random client identifier (RFC 6749 §2.2).
func NewClientID() string { return "lk_" + secret.RandomString(12) }

// NewClientSecret returns a generated 256-bit client secret and its stored
// verifier; the plain secret is shown once and never stored.
func NewClientSecret() (secret.Value, string) {
	v := secret.New(secret.PrefixClientSecret)
	return v, secret.HashClientSecret(string(v))
}

// ValidateClient reports every problem of a client registration at once.
func ValidateClient(c store.Client, scopes *Scopes) error {
	var errs []error
	if c.ID == "" || len(c.ID) > 255 || !validClientID(c.ID) {
		errs = append(errs, errors.New("client id must be 1 to 255 characters without spaces or colons"))
	}
	if strings.TrimSpace(c.Name) == "" || len(c.Name) > 200 {
		errs = append(errs, errors.New("client name must be 1 to 200 characters"))
	}
	keyAuth := c.TokenEndpointAuthMethod == AuthPrivateKeyJWT
	switch c.TokenEndpointAuthMethod {
	case "", AuthSecretBasic, AuthSecretPost, AuthPrivateKeyJWT:
	default:
		errs = append(errs, fmt.Errorf("unknown token_endpoint_auth_method %q", c.TokenEndpointAuthMethod))
	}
	switch {
	case c.Public && (c.SecretHash != "" || c.TokenEndpointAuthMethod != "" || c.JWKS != "" || c.JWKSURI != ""):
		errs = append(errs, errors.New("a public client has no secret and no keys"))
	case !c.Public && keyAuth && c.SecretHash != "":
		errs = append(errs, errors.New("a private_key_jwt client has no secret"))
	case !c.Public && keyAuth && (c.JWKS == "") == (c.JWKSURI == ""):
		errs = append(errs, errors.New("a private_key_jwt client needs exactly one of jwks and jwks_uri"))
	case !c.Public && !keyAuth && c.SecretHash == "":
		errs = append(errs, errors.New("a confidential client needs a secret"))
	case !keyAuth && (c.JWKS != "" || c.JWKSURI != ""):
		errs = append(errs, errors.New("jwks and jwks_uri are only for private_key_jwt clients"))
	}
	if c.JWKS != "" {
		var set jose.JSONWebKeySet
		if len(c.JWKS) > jwksMaxBytes || json.Unmarshal([]byte(c.JWKS), &set) != nil || len(set.Keys) == 0 {
			errs = append(errs, errors.New("jwks must be a JWK Set of at most 64 KiB with at least one key"))
		}
		for _, k := range set.Keys {
			if !k.IsPublic() || !k.Valid() {
				errs = append(errs, errors.New("jwks must hold valid public keys only"))
				break
			}
		}
	}
	if c.JWKSURI != "" {
		if err := CheckJWKSURI(c.JWKSURI); err != nil {
			errs = append(errs, err)
		}
	}
	switch c.AccessTokenFormat {
	case "", FormatJWT, FormatOpaque:
	default:
		errs = append(errs, fmt.Errorf("access token format must be jwt or opaque, got %q", c.AccessTokenFormat))
	}
	if len(c.GrantTypes) == 0 {
		errs = append(errs, errors.New("at least one grant type is required"))
	}
	for _, g := range c.GrantTypes {
		if !slices.Contains(KnownGrantTypes, g) {
			errs = append(errs, fmt.Errorf("unknown grant type %q", g))
		}
		if g == GrantClientCredentials && c.Public {
			errs = append(errs, errors.New("client_credentials needs a confidential client (RFC 6749 §4.4)"))
		}
		if g == GrantPassword && c.Public {
			errs = append(errs, errors.New("the password grant is never allowed for public clients (RFC 9700 §2.4)"))
		}
	}
	for _, s := range c.RequiredScopes {
		if !slices.Contains(c.Scopes, s) {
			errs = append(errs, fmt.Errorf("required scope %q is not one of the client's scopes", s))
		}
	}
	redirects := slices.Contains(c.GrantTypes, GrantAuthorizationCode) || slices.Contains(c.GrantTypes, GrantImplicit)
	if redirects && len(c.RedirectURIs) == 0 {
		errs = append(errs, errors.New("authorization_code and implicit need at least one redirect URI"))
	}
	for _, u := range c.RedirectURIs {
		if err := ValidateRegisteredRedirectURI(u); err != nil {
			errs = append(errs, fmt.Errorf("redirect URI %q: %w", u, err))
		}
	}
	for _, s := range c.Scopes {
		switch {
		case IsAdminScope(s) && (c.Public || !slices.Contains(c.GrantTypes, GrantClientCredentials)):
			errs = append(errs, fmt.Errorf("scope %q is only for confidential clients with client_credentials", s))
		case !IsAdminScope(s) && !scopes.Known(s):
			errs = append(errs, fmt.Errorf("unknown scope %q", s))
		}
	}
	for _, d := range []struct {
		name string
		v    int64
	}{{"code_ttl", int64(c.CodeTTL)}, {"access_token_ttl", int64(c.AccessTokenTTL)}, {"refresh_token_ttl", int64(c.RefreshTokenTTL)}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", d.name))
		}
	}
	if c.CodeTTL > 10*60*1e9 {
		errs = append(errs, errors.New("code_ttl must be at most 10m (RFC 6749 §4.1.2)"))
	}
	for _, r := range c.Resources {
		if !ValidResourceURI(r) {
			errs = append(errs, fmt.Errorf("resource %q must be an absolute URI without a fragment (RFC 8707 §2)", r))
		}
	}
	if err := ValidateOpenIDClient(c); err != nil {
		errs = append(errs, err)
	}
	if c.RequireSignedRequestObject && c.JWKS == "" && c.JWKSURI == "" {
		errs = append(errs, errors.New("a client that must sign its request objects needs its keys registered (jwks or jwks_uri)"))
	}
	errs = append(errs, validateProfile(c)...)
	return errors.Join(errs...)
}

// ValidateResource reports every problem of a resource registration at
// once.
func ValidateResource(r store.Resource, scopes *Scopes) error {
	var errs []error
	if !ValidResourceURI(r.URI) {
		errs = append(errs, fmt.Errorf("resource URI %q must be an absolute URI without a fragment, at most %d bytes (RFC 8707 §2)", r.URI, maxResourceLen))
	}
	if strings.TrimSpace(r.Name) == "" || len(r.Name) > 200 {
		errs = append(errs, errors.New("resource name must be 1 to 200 characters"))
	}
	if len(r.Scopes) == 0 {
		errs = append(errs, errors.New("a resource serves at least one scope"))
	}
	for _, s := range r.Scopes {
		if !scopes.Known(s) {
			errs = append(errs, fmt.Errorf("unknown scope %q", s))
		}
	}
	if r.ClientID == "" || len(r.ClientID) > 255 || !validClientID(r.ClientID) {
		errs = append(errs, errors.New("the resource's client id must be 1 to 255 characters without spaces or colons"))
	}
	return errors.Join(errs...)
}

// ResourceCredentials returns the client a resource introspects with:
// confidential, with no grant type, so it can get no token of its own.
func ResourceCredentials(r store.Resource, secretHash string) store.Client {
	return store.Client{ID: r.ClientID, SecretHash: secretHash, Name: r.Name + " (resource server)",
		GrantTypes: []string{}, Scopes: []string{}, RedirectURIs: []string{}, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// validClientID: RFC 6749 Appendix A.1 "client-id = *VSCHAR" (%x20-7E),
// without the space and, because Basic joins id and secret with it
// (RFC 6749 §2.3.1), without ":".
func validClientID(id string) bool {
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' || id[i] == ':' {
			return false
		}
	}
	return true
}

// AllowsGrant reports whether the client is registered for grant type g
// and its profile allows it.
func AllowsGrant(c store.Client, g string) bool {
	return slices.Contains(c.GrantTypes, g) && (!isFAPI2(c) || slices.Contains(fapi2Grants, g))
}
