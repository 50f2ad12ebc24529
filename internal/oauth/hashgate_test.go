package oauth

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// TestHashGateBoundsConcurrentHashes: at most slots hashes run at once, at
// most queue callers wait, and a waiter gives up after the timeout with
// ErrBusy (answered 503 temporarily_unavailable), so a flood of argon2id
// checks costs bounded CPU and memory.
func TestHashGateBoundsConcurrentHashes(t *testing.T) {
	g := NewHashGate(2, 3, time.Minute)
	release := make(chan struct{})
	var running, most atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			errs <- g.Do(context.Background(), func() {
				n := running.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				<-release
				running.Add(-1)
			})
		})
	}
	// Once every caller is in: 2 run, 3 wait, 5 were refused at once.
	for deadline := time.Now().Add(10 * time.Second); running.Load()+g.Waiting()+int64(len(errs)) < 10; {
		if time.Now().After(deadline) {
			t.Fatalf("callers not settled: %d running, %d waiting, %d answered", running.Load(), g.Waiting(), len(errs))
		}
		time.Sleep(time.Millisecond)
	}
	if running.Load() != 2 || g.Waiting() != 3 || len(errs) != 5 {
		t.Fatalf("%d running, %d waiting, %d refused; want 2, 3, 5", running.Load(), g.Waiting(), len(errs))
	}
	for range 5 {
		if err := <-errs; !errors.Is(err, ErrBusy) {
			t.Fatalf("a caller beyond slots and queue got %v, want ErrBusy", err)
		}
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a queued caller: %v", err)
		}
	}
	if most.Load() != 2 {
		t.Fatalf("%d hashes ran at once, want 2", most.Load())
	}
	if g.Runs() != 5 || g.Waiting() != 0 {
		t.Fatalf("%d runs and %d still waiting, want 5 and 0", g.Runs(), g.Waiting())
	}
}

func TestHashGateWaiterGivesUpAfterTheTimeout(t *testing.T) {
	g := NewHashGate(1, 1, 10*time.Millisecond)
	release := make(chan struct{})
	go g.Do(context.Background(), func() { <-release })
	defer close(release)
	for g.Runs() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := g.Do(context.Background(), func() { t.Fatal("ran without a slot") }); !errors.Is(err, ErrBusy) {
		t.Fatalf("err %v, want ErrBusy", err)
	}
	if g.Waiting() != 0 {
		t.Fatalf("%d waiters left", g.Waiting())
	}
}

// TestRFC6749_2_3_1_UnknownClientIDsCostWhatTheirSecretWould: a secret that
// is not Latchkey-generated could only match an imported (argon2id)
// secret, so for an unknown client id it is hashed like one, through the
// gate; a generated secret costs a SHA-256 either way. Whether a client id
// exists thus does not show in the time of a failure.
func TestRFC6749_2_3_1_UnknownClientIDsCostWhatTheirSecretWould(t *testing.T) {
	st := dbtest.Open(t, "sqlite")
	gate := NewHashGate(1, 1, time.Second)
	p := &Provider{Store: st, Now: time.Now, Logger: slog.New(slog.DiscardHandler), Passwords: NewPasswords(st, time.Now, gate)}
	p.clients = newClientCache(st, time.Now)
	if err := st.CreateClient(t.Context(), store.Client{ID: "imported", SecretHash: secret.HashImportedSecret("an imported secret"),
		GrantTypes: []string{GrantClientCredentials}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id, secret string
		hashes     int64
	}{
		{"imported", "a wrong secret", 1},
		{"nobody", "a wrong secret", 1},
		{"nobody", "lk_cs_" + strings.Repeat("A", 43), 0},
		{"nobody-by-post", "a wrong secret", 1},
		{"imported", "an imported secret", 1},
	} {
		before := gate.Runs()
		method := AuthSecretBasic
		if strings.HasSuffix(tc.id, "-by-post") {
			method = AuthSecretPost
		}
		_, e := p.checkClient(t.Context(), clientCredentials{method: method, id: tc.id, secret: tc.secret})
		if got := gate.Runs() - before; got != tc.hashes {
			t.Errorf("client %q, secret %q: %d argon2id checks, want %d", tc.id, tc.secret, got, tc.hashes)
		}
		if wantOK := tc.secret == "an imported secret"; (e == nil) != wantOK {
			t.Errorf("client %q, secret %q: error %v", tc.id, tc.secret, e)
		}
	}
}
