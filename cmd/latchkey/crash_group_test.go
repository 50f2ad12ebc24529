package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/dbtest"
)

// TestCrash_GroupCommittedTokensSurvive (SECURITY.md c.0, D1): a SIGKILL
// while 16 clients get opaque tokens, whose writes group commit shares
// among a few commits, loses none of them: every token a client received
// (a 200 with its access token) is active after the restart. A write
// answered before its batch's commit was durable would be missing.
func TestCrash_GroupCommittedTokensSurvive(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			// Dev mode keeps the system secret of a PostgreSQL database in
			// the working directory: a temporary one, for the server too.
			t.Chdir(t.TempDir())
			db := dbtest.DSN(t, backend)
			var c struct {
				ClientID     string `json:"client_id"`
				ClientSecret string `json:"client_secret"`
			}
			mustRunJSON(t, &c, "clients", "create", "--dev", "--database", db, "--name", "Backup", "--grant-type", "client_credentials",
				"--scope", "notes.read", "--access-token-format", "opaque")
			addr := freeAddr(t)
			s := startServer(t, addr, "serve", "--dev", "--database", db)

			var mu sync.Mutex
			var received []string
			enough := make(chan struct{})
			var wg sync.WaitGroup
			for range 16 {
				wg.Go(func() {
					client := &http.Client{Timeout: 10 * time.Second}
					for {
						req, _ := http.NewRequest(http.MethodPost, s.base+"/token", strings.NewReader("grant_type=client_credentials"))
						req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
						req.SetBasicAuth(c.ClientID, c.ClientSecret)
						resp, err := client.Do(req)
						if err != nil {
							return // the server is gone
						}
						var out struct {
							AccessToken string `json:"access_token"`
						}
						err = json.NewDecoder(resp.Body).Decode(&out)
						resp.Body.Close()
						if err != nil || resp.StatusCode != 200 || out.AccessToken == "" {
							continue // cut off mid-answer: not received
						}
						mu.Lock()
						received = append(received, out.AccessToken)
						if len(received) == 500 {
							close(enough)
						}
						mu.Unlock()
					}
				})
			}
			select {
			case <-enough:
			case <-time.After(60 * time.Second):
				t.Fatal("500 tokens were not issued within a minute")
			}
			// SIGKILL in the middle of the load: batches are being written.
			if err := s.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			s.cmd.Wait()
			wg.Wait()

			s = startServer(t, addr, "serve", "--dev", "--database", db)
			for i, tok := range received {
				code, out := s.post(t, "/introspect", c.ClientID, c.ClientSecret, url.Values{"token": {tok}})
				if code != 200 || out["active"] != true {
					t.Fatalf("token %d of %d, received before the kill, is %d %v after the restart", i+1, len(received), code, out)
				}
			}
			t.Logf("%d tokens received before the kill, all active after the restart", len(received))
		})
	}
}
