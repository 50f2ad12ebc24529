package registration

import (
	"net/url"
	"slices"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
)

// checkPolicy holds m to the operator's registration policy. A
// registration pre-approved by a trusted software statement may get grant
// types and scopes beyond the policy's lists (the statement's signer
// vouches for them); every other rule still applies to it.
func checkPolicy(p config.RegistrationPolicy, m Metadata, scopes []string, approved bool) *refusal {
	public := m.TokenEndpointAuthMethod == oauth.AuthNone
	if public && !p.AllowPublic {
		return invalidMetadata("public clients (token_endpoint_auth_method none) may not register here; register a confidential client")
	}
	if !approved {
		for _, g := range m.GrantTypes {
			if !slices.Contains(p.GrantTypes, g) {
				return invalidMetadata("grant type %s is not allowed for self-registered clients (allowed: %v)", g, p.GrantTypes)
			}
		}
		for _, s := range scopes {
			if !slices.Contains(p.Scopes, s) {
				return invalidMetadata("scope %s is not available to self-registered clients (available: %v)", s, p.Scopes)
			}
		}
	}
	for _, raw := range append(slices.Clone(m.RedirectURIs), m.PostLogoutRedirectURIs...) {
		u, err := url.Parse(raw)
		if err != nil {
			return invalidRedirectURI("redirect URI %q is not a valid URI", raw)
		}
		switch {
		case u.Scheme == "https" && u.Host != "":
		case u.Scheme == "http" && (u.Hostname() == "127.0.0.1" || u.Hostname() == "::1"):
			if p.RedirectURIs != config.RedirectHTTPSOrLoopback {
				return invalidRedirectURI("redirect URI %q: only https redirect URIs may be registered here", raw)
			}
			if !public {
				return invalidRedirectURI("redirect URI %q: loopback redirect URIs are for native apps, which register as public clients (token_endpoint_auth_method none, RFC 8252 §7.3)", raw)
			}
		default:
			if p.RedirectURIs == config.RedirectHTTPS {
				return invalidRedirectURI("redirect URI %q: only https redirect URIs may be registered here", raw)
			}
			return invalidRedirectURI("redirect URI %q: only https, or http on 127.0.0.1 or [::1] for native apps, may be registered here", raw)
		}
	}
	return nil
}
