package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/internal/config"
)

// TestReload_ScopesReplacedWhileServing: Reload swaps the scope registry
// while token and metadata requests run (go test -race): every request sees
// a whole registry, the old or the new one, and the scope both hold is
// always granted.
func TestReload_ScopesReplacedWhileServing(t *testing.T) {
	e := newEnv(t, "sqlite")
	base := config.Default()
	with := base
	with.Scopes = append(slices.Clone(base.Scopes), config.Scope{Name: "reports.read", Description: "Read your reports"})
	stop := make(chan struct{})
	var reloads sync.WaitGroup
	reloads.Add(1)
	go func() {
		defer reloads.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			cfg := base
			if i%2 == 0 {
				cfg = with
			}
			if err := e.server.Reload(cfg); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var clients sync.WaitGroup
	for range 4 {
		clients.Add(1)
		go func() {
			defer clients.Done()
			for range 50 {
				a := e.postToken(url.Values{"grant_type": {"client_credentials"}, "scope": {"notes.read"}}, &e.svc, true)
				if a.status != 200 || a.str("scope") != "notes.read" {
					t.Errorf("token during reloads: %d %v", a.status, a.body)
					return
				}
				resp, err := http.Get(e.issuer + "/.well-known/openid-configuration")
				if err != nil {
					t.Error(err)
					return
				}
				var m struct {
					Scopes []string `json:"scopes_supported"`
				}
				err = json.NewDecoder(resp.Body).Decode(&m)
				resp.Body.Close()
				if err != nil || (len(m.Scopes) != len(base.Scopes) && len(m.Scopes) != len(with.Scopes)) {
					t.Errorf("metadata during reloads: %v, %v", m.Scopes, err)
					return
				}
			}
		}()
	}
	clients.Wait()
	close(stop)
	reloads.Wait()

	// The last registry holds: reports.read is known only with it.
	if err := e.server.Reload(base); err != nil {
		t.Fatal(err)
	}
	a := e.postToken(url.Values{"grant_type": {"client_credentials"}, "scope": {"reports.read"}}, &e.svc, true)
	wantError(t, a, http.StatusBadRequest, "invalid_scope")
}
