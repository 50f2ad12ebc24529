package oauth

import (
	"encoding/json"
	"net/http"
)

// Metadata is the authorization server metadata (RFC 8414 §2). It lists
// exactly what Latchkey implements, and nothing else.
type Metadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	AccessTokenSigningAlgValuesSupported       []string `json:"access_token_signing_alg_values_supported,omitempty"`
}

// ClientAssertionAlgs are the algorithms accepted for private_key_jwt.
var ClientAssertionAlgs = []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}

func (p *Provider) buildMetadata() []byte {
	auth := []string{AuthSecretBasic, AuthSecretPost, AuthPrivateKeyJWT, AuthNone}
	m := Metadata{
		Issuer:                            p.Issuer,
		AuthorizationEndpoint:             p.Issuer + "/authorize",
		TokenEndpoint:                     p.Issuer + "/token",
		JWKSURI:                           p.Issuer + "/jwks.json",
		RevocationEndpoint:                p.Issuer + "/revoke",
		IntrospectionEndpoint:             p.Issuer + "/introspect",
		ScopesSupported:                   p.Scopes.Names(),
		ResponseTypesSupported:            []string{"code", "token"},
		ResponseModesSupported:            []string{"query", "fragment"},
		GrantTypesSupported:               []string{GrantAuthorizationCode, GrantRefreshToken, GrantImplicit, GrantPassword, GrantClientCredentials},
		TokenEndpointAuthMethodsSupported: auth,
		TokenEndpointAuthSigningAlgValuesSupported: ClientAssertionAlgs,
		RevocationEndpointAuthMethodsSupported:     auth,
		IntrospectionEndpointAuthMethodsSupported:  auth[:3],
		CodeChallengeMethodsSupported:              []string{pkceS256},
		AuthorizationResponseIssParameterSupported: true,
	}
	if p.JWT != nil && p.SigningAlgorithm != "" {
		m.AccessTokenSigningAlgValuesSupported = []string{p.SigningAlgorithm}
	}
	b, _ := json.Marshal(m)
	return b
}

// HandleMetadata serves the metadata from memory (RFC 8414 §3), at both
// /.well-known/oauth-authorization-server and /.well-known/openid-configuration.
func (p *Provider) HandleMetadata(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("Access-Control-Allow-Origin", "*")
	w.Write(p.metadata)
}
