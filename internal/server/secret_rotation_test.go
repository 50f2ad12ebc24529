package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/server"
)

// TestSystemSecretRotation_NodesOnTheNewSecretKeepServing: a node started
// with a new system secret alone refuses the keys the old one sealed; with
// the old one as system_secret_previous it starts, publishes the same
// keys, and accepts the tokens the old node signed.
func TestSystemSecretRotation_NodesOnTheNewSecretKeepServing(t *testing.T) {
	st := dbtest.Open(t, "sqlite")
	old := newEnvOn(t, "sqlite", st) // system secret "k"×32
	tok := old.postToken(url.Values{"grant_type": {"client_credentials"}}, &old.svc, true)
	if tok.status != 200 {
		t.Fatalf("%d %v", tok.status, tok.body)
	}
	cfg := config.Default()
	cfg.Issuer, cfg.Tokens.Audience = old.issuer, []string{old.issuer, "notes-api"}
	cfg.SystemSecret = strings.Repeat("n", 32)
	if _, err := server.New(server.Options{Config: cfg, Store: st}); err == nil || !strings.Contains(err.Error(), "system secret") {
		t.Fatalf("a node on the new secret alone started: %v", err)
	}
	cfg.SystemSecretPrevious = strings.Repeat("k", 32)
	s, err := server.New(server.Options{Config: cfg, Store: st})
	if err != nil {
		t.Fatalf("a node on the new secret with the previous one: %v", err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	next := *old
	next.issuer = srv.URL
	if a := next.introspect(&next.api, tok.str("access_token")); !active(a) {
		t.Fatalf("the new node does not accept the old node's token: %v", a.body)
	}
	if got, want := readURL(t, srv.URL+"/jwks.json"), readURL(t, old.issuer+"/jwks.json"); got != want {
		t.Fatalf("the nodes publish different keys:\n%s\n%s", got, want)
	}
}

func readURL(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return readBody(t, resp)
}
