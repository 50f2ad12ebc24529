package oauth

import (
	"errors"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
)

// validOpenIDClient returns a confidential client with every OpenID field
// set, passing ValidateOpenIDClient; each case changes one thing.
func validOpenIDClient() store.Client {
	c := validClient()
	c.PostLogoutRedirectURIs = []string{"https://app.example/bye", "http://127.0.0.1/bye", "com.example.app:/bye"}
	c.BackchannelLogoutURI = "https://app.example/backchannel?tenant=a"
	c.FrontchannelLogoutURI = "https://app.example/frontchannel"
	c.InitiateLoginURI = "https://app.example/login"
	c.LogoURI = "https://cdn.example/logo.png"
	c.ClientURI = "https://app.example/"
	c.Description = "Notes, on every device"
	c.FirstParty = true
	c.IDTokenAlg = "ES256"
	return c
}

func TestValidateOpenIDClient(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *store.Client)
		want   string // substring of the error; "" for valid
	}{
		{"valid/every_field", func(c *store.Client) {}, ""},
		{"valid/no_field", func(c *store.Client) { *c = validClient() }, ""},
		{"valid/public_not_first_party", func(c *store.Client) { c.Public, c.SecretHash, c.FirstParty = true, "", false }, ""},
		{"valid/loopback_http", func(c *store.Client) {
			c.BackchannelLogoutURI, c.FrontchannelLogoutURI = "http://127.0.0.1:8081/bc", "http://[::1]/fc"
			c.InitiateLoginURI, c.LogoURI, c.ClientURI = "http://127.0.0.1/login", "http://127.0.0.1/logo.png", "http://127.0.0.1/"
		}, ""},
		{"valid/id_token_alg_empty_means_RS256", func(c *store.Client) { c.IDTokenAlg = "" }, ""},
		{"valid/id_token_alg_RS256", func(c *store.Client) { c.IDTokenAlg = "RS256" }, ""},
		{"valid/id_token_alg_EdDSA", func(c *store.Client) { c.IDTokenAlg = "EdDSA" }, ""},
		{"valid/description_1000_characters", func(c *store.Client) { c.Description = strings.Repeat("é", 1000) }, ""},
		{"valid/uri_2048_bytes", func(c *store.Client) {
			c.LogoURI = "https://cdn.example/" + strings.Repeat("a", 2048-len("https://cdn.example/"))
		}, ""},

		{"RPLogout_3.1/post_logout_uri_like_redirect_uri/fragment", func(c *store.Client) { c.PostLogoutRedirectURIs = []string{"https://app.example/bye#x"} }, `post-logout redirect URI "https://app.example/bye#x": redirect URI must not contain a fragment`},
		{"RPLogout_3.1/post_logout_uri_like_redirect_uri/http_not_loopback", func(c *store.Client) { c.PostLogoutRedirectURIs = []string{"http://app.example/bye"} }, "loopback"},
		{"RPLogout_3.1/post_logout_uri_like_redirect_uri/relative", func(c *store.Client) { c.PostLogoutRedirectURIs = []string{"/bye"} }, "absolute"},
		{"RPLogout_3.1/post_logout_uri_like_redirect_uri/javascript", func(c *store.Client) { c.PostLogoutRedirectURIs = []string{"javascript:alert(1)"} }, "not allowed"},
		{"RPLogout_3.1/post_logout_uri_like_redirect_uri/empty", func(c *store.Client) { c.PostLogoutRedirectURIs = []string{""} }, "1 to 2048"},

		{"BCLogout_2.2/backchannel_fragment", func(c *store.Client) { c.BackchannelLogoutURI = "https://app.example/bc#frag" }, "backchannel_logout_uri: must not contain a fragment"},
		{"BCLogout_2.2/backchannel_empty_fragment", func(c *store.Client) { c.BackchannelLogoutURI = "https://app.example/bc#" }, "backchannel_logout_uri: must not contain a fragment"},
		{"BCLogout_2.2/backchannel_relative", func(c *store.Client) { c.BackchannelLogoutURI = "/bc" }, "backchannel_logout_uri: must be an absolute https URL"},
		{"BCLogout_2.2/backchannel_http", func(c *store.Client) { c.BackchannelLogoutURI = "http://app.example/bc" }, "backchannel_logout_uri: must use https"},
		{"RFC8252_8.3/backchannel_http_localhost_name", func(c *store.Client) { c.BackchannelLogoutURI = "http://localhost/bc" }, "backchannel_logout_uri: must use https"},
		{"frontchannel_fragment", func(c *store.Client) { c.FrontchannelLogoutURI = "https://app.example/fc#x" }, "frontchannel_logout_uri: must not contain a fragment"},
		{"frontchannel_other_scheme", func(c *store.Client) { c.FrontchannelLogoutURI = "ftp://app.example/fc" }, `frontchannel_logout_uri: must use https, not "ftp"`},
		{"frontchannel_javascript", func(c *store.Client) { c.FrontchannelLogoutURI = "javascript:alert(1)" }, "frontchannel_logout_uri: must be an absolute https URL"},
		{"initiate_login_user_info", func(c *store.Client) { c.InitiateLoginURI = "https://user:pw@app.example/login" }, "initiate_login_uri: must not contain user information"},
		{"initiate_login_space", func(c *store.Client) { c.InitiateLoginURI = "https://app.example/log in" }, "initiate_login_uri: must not contain a space"},
		{"logo_data_uri", func(c *store.Client) { c.LogoURI = "data:image/png;base64,AAAA" }, "logo_uri: must be an absolute https URL"},
		{"logo_2049_bytes", func(c *store.Client) {
			c.LogoURI = "https://cdn.example/" + strings.Repeat("a", 2049-len("https://cdn.example/"))
		}, "logo_uri: must be at most 2048 bytes"},
		{"client_uri_no_host", func(c *store.Client) { c.ClientURI = "https:///path" }, "client_uri: must be an absolute https URL"},
		{"client_uri_upper_case_scheme", func(c *store.Client) { c.ClientURI = "HTTPS://app.example/" }, "client_uri: scheme must be lower case"},
		{"client_uri_backslash", func(c *store.Client) { c.ClientURI = `https://app.example\@evil.example/` }, "client_uri: must not contain"},

		{"id_token_alg/none_refused", func(c *store.Client) { c.IDTokenAlg = "none" }, `id_token_alg must be RS256, ES256 or EdDSA, got "none"`},
		{"id_token_alg/HS256_refused", func(c *store.Client) { c.IDTokenAlg = "HS256" }, "id_token_alg"},
		{"id_token_alg/case_matters", func(c *store.Client) { c.IDTokenAlg = "es256" }, "id_token_alg"},

		{"description_1001_characters", func(c *store.Client) { c.Description = strings.Repeat("é", 1001) }, "description must be at most 1000 characters, got 1001"},
		{"description_invalid_UTF8", func(c *store.Client) { c.Description = "a\xffb" }, "description must be valid UTF-8"},

		{"RFC8252_8.6/public_first_party", func(c *store.Client) { c.Public, c.SecretHash = true, "" }, "a public client cannot be first-party: RFC 8252 §8.6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validOpenIDClient()
			tt.change(&c)
			err := ValidateOpenIDClient(c)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ValidateOpenIDClient = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ValidateOpenIDClient = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestValidateOpenIDClientReportsEveryProblem(t *testing.T) {
	c := validOpenIDClient()
	c.Public, c.SecretHash = true, ""
	c.PostLogoutRedirectURIs = []string{"https://ok.example/bye", "http://evil.example/bye", "https://x.example/#f"}
	c.BackchannelLogoutURI = "https://app.example/bc#x"
	c.FrontchannelLogoutURI = "http://app.example/fc"
	c.InitiateLoginURI = "login"
	c.LogoURI = "ftp://cdn.example/logo"
	c.ClientURI = "http://user@app.example/#top"
	c.IDTokenAlg = "PS256"
	c.Description = strings.Repeat("d", 1001)
	err := ValidateOpenIDClient(c)
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		t.Fatalf("ValidateOpenIDClient = %v, want joined problems", err)
	}
	want := []string{
		`post-logout redirect URI "http://evil.example/bye"`,
		`post-logout redirect URI "https://x.example/#f"`,
		"backchannel_logout_uri: must not contain a fragment",
		"frontchannel_logout_uri: must use https",
		"initiate_login_uri: must be an absolute https URL",
		"logo_uri: must use https",
		"client_uri: must use https (http only on a loopback IP address); must not contain user information; must not contain a fragment",
		"id_token_alg",
		"description must be at most 1000",
		"a public client cannot be first-party",
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not report %q:\n%v", w, err)
		}
	}
	if n := len(joined.Unwrap()); n != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", n, len(want), err)
	}
	if strings.Contains(err.Error(), "ok.example") {
		t.Errorf("a valid post-logout redirect URI was reported:\n%v", err)
	}
}
