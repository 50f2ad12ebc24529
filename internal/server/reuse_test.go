package server_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/dbtest"
)

// TestRFC9700_4_14_2_ConcurrentReuseRevokesWithoutDeadlock replays one
// refresh token from 16 and 64 clients at once (a thief racing the client).
// One refresh wins; every loser is reuse and answers invalid_grant; the
// family ends; and the losers' revocations, which all lock the same rows,
// never make PostgreSQL abort a transaction for a deadlock (they once took
// them in no fixed order: dozens of deadlocks, 12-27 s answers, a 503).
func TestRFC9700_4_14_2_ConcurrentReuseRevokesWithoutDeadlock(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		for _, n := range []int{16, 64} {
			t.Run(fmt.Sprintf("%s/%d_reuses", backend, n), func(t *testing.T) {
				// Strict rotation: within tokens.refresh_reuse_grace the
				// racers would all be answered (grace_test.go).
				e := newEnvConfig(t, backend, dbtest.Open(t, backend), strictRefresh)
				retried, countsRetries := e.store.(interface{ Retries() int64 })
				var before int64
				if countsRetries {
					before = retried.Retries()
				}
				a := e.postToken(url.Values{"grant_type": {"password"}, "username": {e.user}, "password": {e.pass},
					"scope": {"notes.read offline_access"}}, &e.app, true)
				if a.status != 200 {
					t.Fatalf("password grant: %d %v", a.status, a.body)
				}
				// A few generations make the family several rows.
				rt := a.str("refresh_token")
				first := rt
				for range 5 {
					a = e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, &e.app, true)
					if a.status != 200 {
						t.Fatalf("refresh: %d %v", a.status, a.body)
					}
					rt = a.str("refresh_token")
				}

				took := make([]time.Duration, n)
				var next = make(chan int, n)
				for i := range n {
					next <- i
				}
				answers := raceAll(n, func() tokenAnswer {
					i := <-next
					start := time.Now()
					defer func() { took[i] = time.Since(start) }()
					return e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, &e.app, true)
				})
				if got := countStatuses(answers); got[200] != 1 || got[400] != n-1 {
					t.Fatalf("statuses %v, want exactly one 200 and %d 400", got, n-1)
				}
				for _, a := range answers {
					if a.status == 400 && a.str("error") != "invalid_grant" {
						t.Fatalf("a loser got %v, want invalid_grant", a.body)
					}
				}
				won := winner(t, answers)
				for name, tok := range map[string]string{"the reused refresh token": rt, "the winner's access token": won.str("access_token"), "the winner's refresh token": won.str("refresh_token")} {
					if a := e.introspect(&e.app, tok); active(a) {
						t.Fatalf("RFC 9700 §4.14.2: %s is still active after reuse: %v", name, a.body)
					}
				}
				// Reusing a long-rotated token again, all at once, revokes
				// the revoked family again from every request.
				again := raceAll(n, func() tokenAnswer {
					return e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first}}, &e.app, true)
				})
				if got := countStatuses(again); got[400] != n {
					t.Fatalf("reusing the first generation: statuses %v, want %d 400", got, n)
				}
				if countsRetries {
					if d := retried.Retries() - before; d != 0 {
						t.Errorf("PostgreSQL aborted %d transactions for a deadlock or serialization failure", d)
					}
				}
				if logs := e.logs.String(); strings.Contains(logs, "deadlock") || strings.Contains(logs, "40P01") {
					t.Errorf("the server logged a deadlock:\n%s", logs)
				}
				slices.Sort(took)
				t.Logf("%d concurrent reuses on %s: median %v, p99 %v, slowest %v", n, backend,
					took[n/2], took[(n*99-1)/100], took[n-1])
			})
		}
	}
}
