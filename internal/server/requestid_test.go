package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
)

// get sends GET path with an X-Request-Id (none if sent is "") and
// returns the id the answer carries.
func getWithRequestID(t *testing.T, e *env, path, sent string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.issuer+path, nil)
	if sent != "" {
		req.Header.Set("X-Request-Id", sent)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	if id == "" {
		t.Fatalf("GET %s: no X-Request-Id in the answer", path)
	}
	return id
}

// TestRequestID_EveryLogLineOfARequestCarriesIt: each request gets an id,
// sent back in X-Request-Id and on its log lines; a client's own id is not
// believed, as it could forge another request's lines.
func TestRequestID_EveryLogLineOfARequestCarriesIt(t *testing.T) {
	e := newEnv(t, "sqlite")
	a := getWithRequestID(t, e, "/.well-known/openid-configuration", "")
	b := getWithRequestID(t, e, "/.well-known/openid-configuration", "")
	if a == b {
		t.Fatalf("two requests share the id %q", a)
	}
	if !strings.Contains(e.logs.String(), "request_id="+a) {
		t.Fatalf("no log line carries request_id=%s:\n%s", a, e.logs.String())
	}
	if got := getWithRequestID(t, e, "/healthz", "forged-by-a-client"); got == "forged-by-a-client" {
		t.Fatal("a client's own X-Request-Id was believed")
	}
}

// TestRequestID_TakenFromATrustedProxy: a trusted proxy's X-Request-Id is
// used and logged when it is a plain token; anything else is replaced.
func TestRequestID_TakenFromATrustedProxy(t *testing.T) {
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) {
		c.Server.TrustedProxies = []string{"127.0.0.1", "::1"}
	})
	if got := getWithRequestID(t, e, "/healthz", "edge-7f3a:42"); got != "edge-7f3a:42" {
		t.Fatalf("a trusted proxy's id became %q", got)
	}
	if !strings.Contains(e.logs.String(), "request_id=edge-7f3a:42") {
		t.Fatalf("the proxy's id is not on the log lines:\n%s", e.logs.String())
	}
	for _, bad := range []string{"two words", "quote\"", strings.Repeat("x", 129)} {
		if got := getWithRequestID(t, e, "/healthz", bad); got == bad {
			t.Fatalf("the malformed id %q was kept", bad)
		}
	}
}
