package oauth

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/store"
)

// maxOpenIDClientDescription bounds a client's description, in characters.
const maxOpenIDClientDescription = 1000

// ValidateOpenIDClient reports every problem of a client's OpenID Connect
// and platform metadata at once (joined with errors.Join); nil if there is
// none. Every field is optional.
//
//   - post_logout_redirect_uris follow the rules of redirect URIs
//     (ValidateRegisteredRedirectURI): RP-Initiated Logout 1.0 §3.1 sends the
//     browser there, so it is a redirect like any other.
//   - backchannel_logout_uri, frontchannel_logout_uri, initiate_login_uri,
//     logo_uri and client_uri are absolute https URLs (http only on a
//     loopback IP), without user information or a fragment, of at most
//     2048 bytes. Back-Channel Logout 1.0 §2.2: "The backchannel_logout_uri
//     MUST NOT include a fragment component."
//   - id_token_alg is empty (RS256), RS256, ES256 or EdDSA.
//   - description is valid UTF-8 of at most 1000 characters.
//   - a public client is never first-party: its consent is never implied,
//     since its identity cannot be verified (RFC 8252 §8.6).
func ValidateOpenIDClient(c store.Client) error {
	var errs []error
	for _, u := range c.PostLogoutRedirectURIs {
		if err := ValidateRegisteredRedirectURI(u); err != nil {
			errs = append(errs, fmt.Errorf("post-logout redirect URI %q: %w", u, err))
		}
	}
	for _, f := range []struct{ name, value string }{
		{"backchannel_logout_uri", c.BackchannelLogoutURI},
		{"frontchannel_logout_uri", c.FrontchannelLogoutURI},
		{"initiate_login_uri", c.InitiateLoginURI},
		{"logo_uri", c.LogoURI},
		{"client_uri", c.ClientURI},
	} {
		if f.value == "" {
			continue
		}
		if err := checkOpenIDClientURL(f.value); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.name, err))
		}
	}
	// The ID-token signing algorithm (OpenID Connect Registration §2,
	// id_token_signed_response_alg); empty means RS256, which OpenID
	// Connect Core §15.1 requires every provider to support.
	switch c.IDTokenAlg {
	case "", "RS256", "ES256", "EdDSA":
	default:
		errs = append(errs, fmt.Errorf("id_token_alg must be RS256, ES256 or EdDSA, got %q", c.IDTokenAlg))
	}
	if !utf8.ValidString(c.Description) {
		errs = append(errs, errors.New("description must be valid UTF-8"))
	} else if n := utf8.RuneCountInString(c.Description); n > maxOpenIDClientDescription {
		errs = append(errs, fmt.Errorf("description must be at most %d characters, got %d", maxOpenIDClientDescription, n))
	}
	if c.FirstParty && c.Public {
		errs = append(errs, errors.New("a public client cannot be first-party: RFC 8252 §8.6"))
	}
	return errors.Join(errs...)
}

// checkOpenIDClientURL checks a URL the server calls, frames, links to or shows
// for a client: absolute, https (http only on a loopback IP, RFC 8252
// §8.3), no user information, no fragment, at most 2048 bytes. The value is
// not echoed: the caller names the field.
func checkOpenIDClientURL(raw string) error {
	if len(raw) > maxRedirectURILen {
		return fmt.Errorf("must be at most %d bytes", maxRedirectURILen)
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] <= ' ' || raw[i] == 0x7f || raw[i] == '\\' {
			return errors.New("must not contain a space, a control character or a backslash")
		}
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return errors.New("must be an absolute https URL")
	}
	var errs []string
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			errs = append(errs, "must use https (http only on a loopback IP address)")
		}
	default:
		errs = append(errs, fmt.Sprintf("must use https, not %q", u.Scheme))
	}
	// url.Parse lower-cases the scheme; a URL compared byte for byte
	// elsewhere keeps the form that was registered.
	if !strings.HasPrefix(raw, u.Scheme+":") {
		errs = append(errs, "scheme must be lower case")
	}
	if u.User != nil {
		errs = append(errs, "must not contain user information")
	}
	if strings.Contains(raw, "#") {
		errs = append(errs, "must not contain a fragment")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}
