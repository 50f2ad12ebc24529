package oauth

import (
	"encoding/json"
	"net/http"

	"github.com/latchkey/latchkey/dpop"

	"github.com/latchkey/latchkey/internal/oidc"
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
	// DPoPSigningAlgValuesSupported: the proof algorithms (RFC 9449 §5.1).
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
	// RFC 8628 §4.
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint"`
	// RFC 9126 §5.
	PushedAuthorizationRequestEndpoint string `json:"pushed_authorization_request_endpoint"`
	RequirePushedAuthorizationRequests bool   `json:"require_pushed_authorization_requests"`
	// RFC 8414 §2 (RFC 7591): only while registration is on.
	RegistrationEndpoint string `json:"registration_endpoint,omitempty"`

	// OpenID Connect Discovery 1.0 §3, Session Management, Front- and
	// Back-Channel Logout, RP-Initiated Logout.
	UserinfoEndpoint                 string   `json:"userinfo_endpoint"`
	EndSessionEndpoint               string   `json:"end_session_endpoint"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported                  []string `json:"claims_supported"`
	ClaimTypesSupported              []string `json:"claim_types_supported"`
	ClaimsParameterSupported         bool     `json:"claims_parameter_supported"`
	RequestParameterSupported        bool     `json:"request_parameter_supported"`
	// RFC 9101 §10.1 (also OpenID Connect Discovery §3).
	RequestObjectSigningAlgValuesSupported []string `json:"request_object_signing_alg_values_supported"`
	RequestURIParameterSupported           bool     `json:"request_uri_parameter_supported"`
	ACRValuesSupported                     []string `json:"acr_values_supported"`
	DisplayValuesSupported                 []string `json:"display_values_supported"`
	PromptValuesSupported                  []string `json:"prompt_values_supported"`
	BackchannelLogoutSupported             bool     `json:"backchannel_logout_supported"`
	BackchannelLogoutSessionSupported      bool     `json:"backchannel_logout_session_supported"`
	FrontchannelLogoutSupported            bool     `json:"frontchannel_logout_supported"`
	FrontchannelLogoutSessionSupported     bool     `json:"frontchannel_logout_session_supported"`
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
		ResponseTypesSupported:            ResponseTypes,
		ResponseModesSupported:            ResponseModes,
		GrantTypesSupported:               []string{GrantAuthorizationCode, GrantRefreshToken, GrantImplicit, GrantPassword, GrantClientCredentials, GrantDeviceCode},
		TokenEndpointAuthMethodsSupported: auth,
		TokenEndpointAuthSigningAlgValuesSupported: ClientAssertionAlgs,
		RevocationEndpointAuthMethodsSupported:     auth,
		IntrospectionEndpointAuthMethodsSupported:  auth[:3],
		CodeChallengeMethodsSupported:              []string{pkceS256},
		AuthorizationResponseIssParameterSupported: true,

		UserinfoEndpoint:                       p.Issuer + "/userinfo",
		EndSessionEndpoint:                     p.Issuer + LogoutPath,
		SubjectTypesSupported:                  []string{"public"},
		IDTokenSigningAlgValuesSupported:       p.IDTokenAlgs,
		ClaimsSupported:                        oidc.SupportedClaims,
		ClaimTypesSupported:                    []string{"normal"},
		ClaimsParameterSupported:               true,
		RequestParameterSupported:              true,
		RequestObjectSigningAlgValuesSupported: RequestObjectAlgs,
		RequestURIParameterSupported:           false,
		ACRValuesSupported:                     []string{oidc.ACRSession, oidc.ACRLogin},
		DisplayValuesSupported:                 []string{"page", "popup", "touch", "wap"},
		PromptValuesSupported:                  []string{oidc.PromptNone, oidc.PromptLogin, oidc.PromptConsent, oidc.PromptSelectAccount},
		BackchannelLogoutSupported:             true,
		BackchannelLogoutSessionSupported:      true,
		FrontchannelLogoutSupported:            true,
		FrontchannelLogoutSessionSupported:     true,
	}
	m.DeviceAuthorizationEndpoint = p.Issuer + "/device_authorization"
	m.PushedAuthorizationRequestEndpoint = p.Issuer + PARPath
	m.RequirePushedAuthorizationRequests = p.RequirePAR
	if p.RegistrationEnabled {
		m.RegistrationEndpoint = p.Issuer + RegistrationPath
	}
	if len(m.IDTokenSigningAlgValuesSupported) == 0 {
		m.IDTokenSigningAlgValuesSupported = []string{oidc.DefaultIDTokenAlg}
	}
	if p.JWT != nil && p.SigningAlgorithm != "" {
		m.AccessTokenSigningAlgValuesSupported = []string{p.SigningAlgorithm}
	}
	if p.DPoP != nil {
		m.DPoPSigningAlgValuesSupported = dpop.Algs
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
	w.Write(*p.metadata.Load())
}
