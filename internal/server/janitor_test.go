package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// TestJanitor_EveryTableStaysBoundedUnderSteadyLoad (operations issue,
// item 4): a steady load with short lifetimes, the janitor running after
// every round, leaves every table as large after 2N rounds as after N. A
// round is two hours of the test clock: a sign-in to an app with a code,
// two refresh rotations and a reuse of a rotated refresh token (which
// revokes the family), client-credentials tokens (opaque, and a JWT
// revoked, which records its jti), two device authorizations, a replay
// record, and the activity all this writes.
func TestJanitor_EveryTableStaysBoundedUnderSteadyLoad(t *testing.T) {
	const step = 2 * time.Hour
	const rounds = 16 // device codes stay a day past their expiry: 12 rounds
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			db := dbtest.Open(t, backend)
			e := newEnvConfig(t, backend, db, func(c *config.Config) {
				c.Tokens.RefreshTokenTTL = 3 * time.Hour
				c.Session.TTL, c.Session.IdleTTL = 3*time.Hour, time.Hour
				c.Activity.Retention = 6 * time.Hour
				c.Janitor.Batch = 7 // several statements per table and run
			})
			e.mustCreateClient(store.Client{ID: "notes-tv", Name: "Notes for TV", Public: true,
				GrantTypes: []string{oauth.GrantDeviceCode, oauth.GrantRefreshToken}, Scopes: []string{"notes.read"}})
			ctx := context.Background()
			j := e.server.Janitor()

			// Each round runs the janitor, then the load: the rows counted
			// after a round are those the janitor kept and the round's own.
			round := func(i int) {
				t.Helper()
				e.clock.Advance(step)
				if _, err := j.RunOnce(ctx); err != nil {
					t.Fatalf("janitor run: %v", err)
				}
				e.steadyLoadRound(ctx, i)
				if err := e.server.FlushActivity(ctx); err != nil {
					t.Fatalf("FlushActivity: %v", err)
				}
			}
			for i := range rounds {
				round(i)
			}
			after := tableRows(t, db, e.clock.Now())
			for i := rounds; i < 2*rounds; i++ {
				round(i)
			}
			final := tableRows(t, db, e.clock.Now())
			t.Logf("rows after %d rounds: %v; after %d: %v", rounds, after, 2*rounds, final)
			for table, n := range final {
				if bound := after[table] + after[table]/10 + 2; n > bound {
					t.Errorf("%s: %d rows after %d rounds, %d after %d: it grows with the run", table, after[table], rounds, n, 2*rounds)
				}
			}
			for _, table := range []string{"tokens", "codes", "device_codes", "auth_requests", "sessions", "activity", "replay"} {
				if after[table] == 0 {
					t.Errorf("%s holds no row: the load does not exercise it", table)
				}
			}
			deleted := j.Counters().Deleted
			for _, table := range []string{"tokens", "codes", "device_codes", "auth_requests", "sessions", "activity", "replay"} {
				if deleted[table] == 0 {
					t.Errorf("the janitor never deleted from %s (deleted: %v)", table, deleted)
				}
			}
			// The same figures at /metrics.
			fams := scrape(t, e.issuer+"/metrics")
			wantSample(t, fams, float64(deleted["tokens"]), "latchkey_janitor_deleted_rows_total", "table", "tokens")
			wantSample(t, fams, float64(2*rounds), "latchkey_janitor_runs_total", "result", "ok")
			wantSample(t, fams, 0, "latchkey_janitor_runs_total", "result", "failed")
		})
	}
}

// steadyLoadRound is one round of TestJanitor_EveryTableStaysBoundedUnderSteadyLoad.
func (e *env) steadyLoadRound(ctx context.Context, i int) {
	t := e.t
	t.Helper()
	// A sign-in in a new browser (session, authorization request, code),
	// the code's tokens, two rotations, and a reuse of the first refresh
	// token, which revokes the family.
	conf := e.oauth2Config(e.web, "notes.read", "offline_access")
	verifier := oauth2.GenerateVerifier()
	loc := e.authorize(e.browser(), conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	ctx = context.WithValue(ctx, oauth2.HTTPClient, http.DefaultClient)
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("round %d: exchange: %v", i, err)
	}
	first := tok.RefreshToken
	rt := first
	for range 2 {
		next, err := refresh(ctx, conf, rt)
		if err != nil {
			t.Fatalf("round %d: refresh: %v", i, err)
		}
		rt = next.RefreshToken
	}
	if _, err := refresh(ctx, conf, first); oauthErrorCode(err) != "invalid_grant" {
		t.Fatalf("round %d: reuse of a rotated refresh token: %v, want invalid_grant", i, err)
	}

	// Client credentials: opaque tokens, and a JWT revoked (its jti row).
	for range 3 {
		e.clientCredentials(e.opaque)
	}
	jwt := e.clientCredentials(e.svc)
	resp, err := http.PostForm(e.issuer+"/revoke", url.Values{"token": {jwt}, "client_id": {e.svc.id}, "client_secret": {e.svc.secret}})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("round %d: revoke: %v %v", i, resp.Status, err)
	}
	resp.Body.Close()

	// Device authorizations nobody finishes.
	for range 2 {
		resp, err := http.PostForm(e.issuer+"/device_authorization", url.Values{"client_id": {"notes-tv"}, "scope": {"notes.read"}})
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("round %d: device authorization: %v %v", i, resp.Status, err)
		}
		resp.Body.Close()
	}

	// A one-time identifier (a client assertion's jti), good for an hour.
	now := e.clock.Now()
	if err := e.store.UseOnce(ctx, "client_assertion:test", fmt.Sprintf("jti-%d", i), now.Add(time.Hour), now); err != nil {
		t.Fatalf("round %d: UseOnce: %v", i, err)
	}
}

// clientCredentials returns an access token of c by the client-credentials
// grant.
func (e *env) clientCredentials(c testClient) string {
	e.t.Helper()
	resp, err := http.PostForm(e.issuer+"/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"notes.read"},
		"client_id": {c.id}, "client_secret": {c.secret}})
	if err != nil {
		e.t.Fatal(err)
	}
	body := readBody(e.t, resp)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := jsonUnmarshal(body, &tok); err != nil || tok.AccessToken == "" || resp.StatusCode != http.StatusOK {
		e.t.Fatalf("client credentials for %s: %d %s", c.id, resp.StatusCode, strings.TrimSpace(body))
	}
	return tok.AccessToken
}

// tableRows returns the rows of every table.
func tableRows(t *testing.T, db *sqlstore.DB, now time.Time) map[string]int64 {
	t.Helper()
	stats, err := db.Stats(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int64{}
	for _, s := range stats {
		rows[s.Table] = s.Rows
	}
	return rows
}
