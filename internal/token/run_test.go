package token

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// lockedBuffer collects log output written from Run's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRun_ReloadsAndReportsOnlyRealFailures: Run reloads on its interval,
// logs a reload that fails while it runs, stays quiet when reloads succeed,
// and with a zero interval uses the default instead of panicking.
func TestRun_ReloadsAndReportsOnlyRealFailures(t *testing.T) {
	open := func(t *testing.T) (*Keys, *memKeyStore, *lockedBuffer) {
		st := newMemKeyStore()
		logs := &lockedBuffer{}
		k, err := NewKeys(context.Background(), KeysOptions{Store: st, SealKey: newSealKey(t), Algorithm: ES256,
			Now: newClock().Now, Logger: slog.New(slog.NewTextHandler(logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return k, st, logs
	}
	waitLists := func(st *memKeyStore, n int) bool {
		for range 500 {
			st.mu.Lock()
			got := st.lists
			st.mu.Unlock()
			if got >= n {
				return true
			}
			time.Sleep(2 * time.Millisecond)
		}
		return false
	}

	t.Run("successful_reloads_log_nothing", func(t *testing.T) {
		k, st, logs := open(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { k.Run(ctx, time.Millisecond); close(done) }()
		if !waitLists(st, 5) {
			t.Fatal("Run did not reload")
		}
		cancel()
		<-done
		if strings.Contains(logs.String(), "reload signing keys") {
			t.Fatalf("a successful reload was logged as a failure:\n%s", logs)
		}
	})
	t.Run("a_failing_reload_is_logged", func(t *testing.T) {
		k, st, logs := open(t)
		st.setListHook(func() (bool, error) { return false, errors.New("database down") })
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { k.Run(ctx, time.Millisecond); close(done) }()
		if !waitLists(st, 5) {
			t.Fatal("Run did not reload")
		}
		cancel()
		<-done
		if !strings.Contains(logs.String(), "reload signing keys") || !strings.Contains(logs.String(), "database down") {
			t.Fatalf("a failed reload was not logged:\n%s", logs)
		}
	})
	t.Run("zero_interval_means_the_default", func(t *testing.T) {
		k, _, _ := open(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { k.Run(ctx, 0); close(done) }() // time.NewTicker(0) would panic
		time.Sleep(10 * time.Millisecond)
		cancel()
		<-done
	})
}

// TestRFC7519_4_1_3_AudienceRefusesEmptyInput: called directly (json never
// does) with nothing to read, the aud decoder answers an error, never a
// panic or a silent empty audience.
func TestRFC7519_4_1_3_AudienceRefusesEmptyInput(t *testing.T) {
	for _, in := range []string{"", "   ", "\n"} {
		var a Audience
		if err := a.UnmarshalJSON([]byte(in)); err == nil {
			t.Errorf("UnmarshalJSON(%q) = nil, %v", in, a)
		}
	}
}

// TestReload_UnchangedStoreKeepsTheSnapshot: a reload that finds the same
// keys keeps the snapshot (and so the JWKS bytes verifiers may compare); a
// new key replaces it.
func TestReload_UnchangedStoreKeepsTheSnapshot(t *testing.T) {
	f := newFixture(t, ES256)
	ctx := context.Background()
	before := f.keys.set.Load()
	if err := f.keys.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if f.keys.set.Load() != before {
		t.Fatal("an unchanged key set was replaced on reload")
	}
	if _, err := Rotate(ctx, f.st, f.sealKey, ES256, f.clk.Now(), time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := f.keys.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	after := f.keys.set.Load()
	if after == before || len(after.keys) != 2 {
		t.Fatalf("a rotation was not picked up: %d keys", len(after.keys))
	}
	if sameSet(nil, after) || sameSet(after, nil) || !sameSet(after, after) || sameSet(before, after) {
		t.Fatal("sameSet answers wrongly for nil, identical and different snapshots")
	}
}

// TestList_OrderIndependentOfTheStore: List groups keys by algorithm (RS256,
// ES256, EdDSA, then unknown ones by name) and orders each group newest
// first, whatever order the store returns them in.
func TestList_OrderIndependentOfTheStore(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	row := func(id, alg string, active int) store.SigningKey {
		return store.SigningKey{ID: id, Algorithm: alg, ActiveAt: t0.Add(time.Duration(active) * time.Hour), CreatedAt: t0}
	}
	rows := []store.SigningKey{
		row("ps-old", "PS256", 1), row("es-old", ES256, 1), row("hs", "HS256", 5), row("rs-new", RS256, 3),
		row("ed", EdDSA, 2), row("es-new", ES256, 4), row("rs-old", RS256, 0), row("ps-new", "PS256", 6),
	}
	sortRows(rows)
	var got []string
	for _, r := range rows {
		got = append(got, r.ID)
	}
	want := []string{"rs-new", "rs-old", "es-new", "es-old", "ed", "hs", "ps-new", "ps-old"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}
