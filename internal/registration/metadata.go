package registration

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// Metadata is the client metadata of RFC 7591 §2 (and the OpenID Connect
// Registration fields Latchkey acts on). Fields it does not know are
// ignored, as §2 requires.
type Metadata struct {
	RedirectURIs            []string        `json:"redirect_uris,omitempty"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method,omitempty"`
	GrantTypes              []string        `json:"grant_types,omitempty"`
	ResponseTypes           []string        `json:"response_types,omitempty"`
	ClientName              string          `json:"client_name,omitempty"`
	ClientURI               string          `json:"client_uri,omitempty"`
	LogoURI                 string          `json:"logo_uri,omitempty"`
	Scope                   string          `json:"scope,omitempty"`
	Contacts                []string        `json:"contacts,omitempty"`
	TOSURI                  string          `json:"tos_uri,omitempty"`
	PolicyURI               string          `json:"policy_uri,omitempty"`
	JWKSURI                 string          `json:"jwks_uri,omitempty"`
	JWKS                    json.RawMessage `json:"jwks,omitempty"`
	SoftwareID              string          `json:"software_id,omitempty"`
	SoftwareVersion         string          `json:"software_version,omitempty"`
	// OpenID Connect Registration §2 and RP-Initiated Logout §3.1.
	IDTokenSignedResponseAlg string   `json:"id_token_signed_response_alg,omitempty"`
	PostLogoutRedirectURIs   []string `json:"post_logout_redirect_uris,omitempty"`
}

// kept is what RegistrationMetadata stores: metadata Latchkey keeps and
// returns without acting on it.
type kept struct {
	Contacts        []string `json:"contacts,omitempty"`
	TOSURI          string   `json:"tos_uri,omitempty"`
	PolicyURI       string   `json:"policy_uri,omitempty"`
	SoftwareID      string   `json:"software_id,omitempty"`
	SoftwareVersion string   `json:"software_version,omitempty"`
	// Statement: the registration was pre-approved by a software
	// statement of this issuer.
	Statement string `json:"software_statement_iss,omitempty"`
}

// Limits of metadata values, so that one registration stays small.
const (
	maxContacts   = 10
	maxValueBytes = 2048
	maxNameBytes  = 200
)

// refusal is a registration error (RFC 7591 §3.2.2).
type refusal struct {
	Code        string `json:"error"`
	Description string `json:"error_description"`
	status      int
}

func (r *refusal) Error() string { return r.Code + ": " + r.Description }

func invalidMetadata(format string, args ...any) *refusal {
	return &refusal{Code: "invalid_client_metadata", Description: fmt.Sprintf(format, args...), status: 400}
}

func invalidRedirectURI(format string, args ...any) *refusal {
	return &refusal{Code: "invalid_redirect_uri", Description: fmt.Sprintf(format, args...), status: 400}
}

// withDefaults fills what RFC 7591 §2 says an omitted field means:
// grant_types authorization_code, response_types code,
// token_endpoint_auth_method client_secret_basic.
func (m Metadata) withDefaults() Metadata {
	if len(m.GrantTypes) == 0 {
		m.GrantTypes = []string{oauth.GrantAuthorizationCode}
	}
	if len(m.ResponseTypes) == 0 && slices.Contains(m.GrantTypes, oauth.GrantAuthorizationCode) {
		m.ResponseTypes = []string{"code"}
	}
	if m.TokenEndpointAuthMethod == "" {
		m.TokenEndpointAuthMethod = oauth.AuthSecretBasic
	}
	return m
}

// checkShape checks what oauth.ValidateClient does not know about: the
// consistency of grant_types and response_types (§2.1), the extra URIs
// and the contacts.
func (m Metadata) checkShape() *refusal {
	// §2.1: "code" goes with authorization_code; "token" would need
	// implicit, which is never registered here.
	for _, rt := range m.ResponseTypes {
		if rt != "code" {
			return invalidMetadata("response_types may only be code: the implicit and hybrid flows are not offered")
		}
	}
	if slices.Contains(m.GrantTypes, oauth.GrantAuthorizationCode) != slices.Contains(m.ResponseTypes, "code") {
		return invalidMetadata("response_types code and grant_types authorization_code go together (RFC 7591 §2.1)")
	}
	for _, g := range m.GrantTypes {
		if g == oauth.GrantImplicit || g == oauth.GrantPassword {
			return invalidMetadata("grant type %s is never allowed (RFC 9700 §2.1.2, §2.4)", g)
		}
	}
	for name, u := range map[string]string{"client_uri": m.ClientURI, "logo_uri": m.LogoURI, "tos_uri": m.TOSURI, "policy_uri": m.PolicyURI} {
		if u != "" && !httpsURL(u) {
			return invalidMetadata("%s must be an https URL of at most %d bytes", name, maxValueBytes)
		}
	}
	if len(m.Contacts) > maxContacts {
		return invalidMetadata("at most %d contacts", maxContacts)
	}
	for _, c := range m.Contacts {
		if c == "" || len(c) > maxNameBytes || strings.ContainsAny(c, "\r\n\x00") {
			return invalidMetadata("each contact must be 1 to %d characters on one line", maxNameBytes)
		}
	}
	if len(m.ClientName) > maxNameBytes {
		return invalidMetadata("client_name must be at most %d bytes", maxNameBytes)
	}
	if len(m.SoftwareID) > maxNameBytes || len(m.SoftwareVersion) > maxNameBytes {
		return invalidMetadata("software_id and software_version must be at most %d bytes", maxNameBytes)
	}
	if m.JWKSURI != "" {
		// Fetching a URL a stranger names is a server-side request
		// forgery risk; self-registered clients register their keys inline.
		return invalidMetadata("jwks_uri is not accepted at registration: send the keys inline in jwks")
	}
	return nil
}

// httpsURL reports whether u is an absolute https URL with a host, no
// user information and no fragment.
func httpsURL(u string) bool {
	if len(u) > maxValueBytes {
		return false
	}
	p, err := url.Parse(u)
	return err == nil && p.Scheme == "https" && p.Host != "" && p.User == nil && p.Fragment == "" && !strings.Contains(u, "#")
}

// apply sets the fields of c that m describes; the rest of c (id,
// secret, times) is the caller's.
func (m Metadata) apply(c *store.Client, scopes []string, statementIss string) error {
	c.Name = m.ClientName
	if strings.TrimSpace(c.Name) == "" {
		c.Name = defaultName(m.RedirectURIs)
	}
	c.Public = m.TokenEndpointAuthMethod == oauth.AuthNone
	c.TokenEndpointAuthMethod = m.TokenEndpointAuthMethod
	if c.Public {
		c.TokenEndpointAuthMethod = ""
	}
	c.RedirectURIs = m.RedirectURIs
	c.GrantTypes = m.GrantTypes
	c.Scopes = scopes
	c.LogoURI, c.ClientURI = m.LogoURI, m.ClientURI
	c.JWKS = string(m.JWKS)
	c.JWKSURI = ""
	c.IDTokenAlg = m.IDTokenSignedResponseAlg
	c.PostLogoutRedirectURIs = m.PostLogoutRedirectURIs
	c.SelfRegistered = true
	c.FirstParty = false
	k := kept{Contacts: m.Contacts, TOSURI: m.TOSURI, PolicyURI: m.PolicyURI, SoftwareID: m.SoftwareID,
		SoftwareVersion: m.SoftwareVersion, Statement: statementIss}
	b, err := json.Marshal(k)
	if err != nil {
		return err
	}
	c.RegistrationMetadata = ""
	if string(b) != "{}" {
		c.RegistrationMetadata = string(b)
	}
	return nil
}

// defaultName names a client that gave no client_name after the host of
// its first redirect URI, so the consent page still says who asks.
func defaultName(redirects []string) string {
	for _, r := range redirects {
		if u, err := url.Parse(r); err == nil && u.Hostname() != "" && utf8.ValidString(u.Hostname()) && len(u.Hostname()) <= maxNameBytes {
			return u.Hostname()
		}
	}
	return "Unnamed application"
}

// metadataOf is the registered metadata of c, as a read answers it.
func metadataOf(c store.Client) Metadata {
	m := Metadata{
		RedirectURIs: c.RedirectURIs, GrantTypes: c.GrantTypes, ClientName: c.Name,
		ClientURI: c.ClientURI, LogoURI: c.LogoURI, Scope: oauth.FormatScope(c.Scopes),
		TokenEndpointAuthMethod:  c.TokenEndpointAuthMethod,
		IDTokenSignedResponseAlg: c.IDTokenAlg, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
	}
	if c.Public {
		m.TokenEndpointAuthMethod = oauth.AuthNone
	}
	if c.JWKS != "" {
		m.JWKS = json.RawMessage(c.JWKS)
	}
	if slices.Contains(c.GrantTypes, oauth.GrantAuthorizationCode) {
		m.ResponseTypes = []string{"code"}
	}
	var k kept
	if c.RegistrationMetadata != "" && json.Unmarshal([]byte(c.RegistrationMetadata), &k) == nil {
		m.Contacts, m.TOSURI, m.PolicyURI, m.SoftwareID, m.SoftwareVersion = k.Contacts, k.TOSURI, k.PolicyURI, k.SoftwareID, k.SoftwareVersion
	}
	return m
}

// classify turns oauth.ValidateClient's problems into the RFC 7591 §3.2.2
// error: redirect URI problems are invalid_redirect_uri.
func classify(c store.Client, err error) *refusal {
	for _, u := range c.RedirectURIs {
		if e := oauth.ValidateRegisteredRedirectURI(u); e != nil {
			return invalidRedirectURI("redirect URI %q: %v", u, e)
		}
	}
	var msgs []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if line != "" {
			msgs = append(msgs, line)
		}
	}
	if len(msgs) == 0 {
		return invalidMetadata("the metadata is not valid")
	}
	if strings.Contains(msgs[0], "redirect URI") {
		return invalidRedirectURI("%s", strings.Join(msgs, "; "))
	}
	return invalidMetadata("%s", strings.Join(msgs, "; "))
}

var errNoKeys = errors.New("no software statement keys are configured")
