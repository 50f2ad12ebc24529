package registration

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/oauth"
)

// FuzzClientMetadata (SECURITY.md F11) posts arbitrary JSON to /register
// on a real SQLite store: the answer is 201 or 400, never a 5xx; a
// registered client never has the client_id it asked for, passes
// oauth.ValidateClient, and has only https or loopback redirect URIs.
func FuzzClientMetadata(f *testing.F) {
	for _, seed := range []string{
		`{"redirect_uris":["https://a.example/cb"],"client_name":"a"}`,
		`{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}`,
		`{"redirect_uris":["JaVaScRiPt:alert(1)"]}`,
		`{"redirect_uris":["https://a/cb#x"]}`,
		`{"redirect_uris":["https://a/cb?code=1"]}`,
		`{"client_id":"admin","redirect_uris":["https://a.example/cb"]}`,
		`{"jwks":{"keys":[]},"jwks_uri":"https://a.example/k","token_endpoint_auth_method":"private_key_jwt"}`,
		`{"grant_types":["implicit"],"response_types":["token"]}`,
		`{"software_statement":"a.b.c"}`,
		`{"scope":"openid \u0000"}`,
		`[]`, `null`, `{"redirect_uris":null}`,
	} {
		f.Add([]byte(seed))
	}
	st := dbtest.Open(f, "sqlite")
	cfg := config.Default().Registration
	cfg.Enabled, cfg.Mode, cfg.PerAddressPerHour = true, config.RegistrationOpen, 0
	scopes := oauth.NewScopes(config.DefaultScopes)
	h, err := New(Options{Store: st, Scopes: scopes, Config: cfg, Issuer: "https://id.example", Now: func() time.Time { return time.Unix(1_800_000_000, 0) }})
	if err != nil {
		f.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Routes(mux)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/register", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated && rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		var answer struct {
			ClientID string `json:"client_id"`
			Error    string `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("answer is not JSON: %q", rec.Body)
		}
		if rec.Code == http.StatusBadRequest {
			if answer.Error == "" {
				t.Fatalf("a refusal without an error code: %s", rec.Body)
			}
			return
		}
		c, err := st.GetClient(context.Background(), answer.ClientID)
		if err != nil {
			t.Fatalf("registered client not stored: %v", err)
		}
		if !strings.HasPrefix(c.ID, "lk_") || !c.SelfRegistered || c.FirstParty {
			t.Fatalf("client %q self-registered %v first-party %v", c.ID, c.SelfRegistered, c.FirstParty)
		}
		if err := oauth.ValidateClient(c, scopes); err != nil {
			t.Fatalf("registered an invalid client: %v", err)
		}
		for _, r := range c.RedirectURIs {
			u, err := url.Parse(r)
			if err != nil || !(u.Scheme == "https" || u.Scheme == "http" && (u.Hostname() == "127.0.0.1" || u.Hostname() == "::1")) {
				t.Fatalf("registered redirect URI %q", r)
			}
		}
		for _, g := range c.GrantTypes {
			if g == oauth.GrantImplicit || g == oauth.GrantPassword {
				t.Fatalf("registered grant %s", g)
			}
		}
	})
}
