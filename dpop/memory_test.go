package dpop

import (
	"crypto/ecdsa"
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// process is one run of a server that keeps proof jtis in memory: its
// own MemoryReplay, started at started, over store (nil for none), which
// outlives it as a database does.
func process(store *memReplay, started time.Time, future time.Duration, clock *time.Time) *Verifier {
	v := &Verifier{Memory: NewMemoryReplay(1 << 10), Started: started, Future: future, Now: func() time.Time { return *clock }}
	if store != nil {
		v.Replay, v.ReplayUsed = store, errUsed
	}
	return v
}

// TestRFC9449_11_1_MemoryJTIsAndTheRestartRule: an authorization server
// owning its database keeps proof jtis in memory, writing only those a
// restart could otherwise let through (dated ahead of its clock, or
// within the future window of its start); after a restart, no proof seen
// before it passes (SECURITY.md: no resurrection).
func TestRFC9449_11_1_MemoryJTIsAndTheRestartRule(t *testing.T) {
	key := ecKey(t)
	store := &memReplay{seen: map[string]bool{}}
	clock := now
	first := process(store, now.Add(-time.Hour), 0, &clock)
	use := func(v *Verifier, p string) error {
		_, err := v.Verify(t.Context(), p, tokenRequest)
		return err
	}
	past := sign(t, key, jose.ES256, claims(func(c map[string]any) { c["iat"], c["jti"] = now.Add(-10*time.Second).Unix(), "past" }))
	ahead := sign(t, key, jose.ES256, claims(func(c map[string]any) { c["iat"], c["jti"] = now.Add(50*time.Second).Unix(), "ahead" }))
	if err := use(first, past); err != nil {
		t.Fatal(err)
	}
	if len(store.seen) != 0 {
		t.Fatalf("a proof dated before now was written to the store: %v", store.seen)
	}
	if err := use(first, ahead); err != nil {
		t.Fatal(err)
	}
	if len(store.seen) != 1 {
		t.Fatalf("a proof dated ahead of the clock is not in the store: %v", store.seen)
	}
	if err := use(first, past); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay: %v, want ErrReplayed", err)
	}
	clock = now.Add(55 * time.Second) // the ahead proof's iat has passed
	if err := use(first, ahead); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay of a proof once dated ahead: %v, want ErrReplayed", err)
	}

	// A restart: new memory, the same store.
	clock = now.Add(2 * time.Second)
	second := process(store, clock, 0, &clock)
	if err := use(second, past); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a proof made before the restart, after it: %v, want ErrInvalid", err)
	}
	clock = now.Add(55 * time.Second)
	if err := use(second, ahead); !errors.Is(err, ErrReplayed) {
		t.Fatalf("a proof dated ahead and seen before the restart, after it: %v, want ErrReplayed", err)
	}
	// Within MaxFuture of the start, proofs go to the store too; later,
	// memory alone holds them.
	early := sign(t, key, jose.ES256, claims(func(c map[string]any) { c["iat"], c["jti"] = now.Add(50*time.Second).Unix(), "early" }))
	if err := use(second, early); err != nil || !store.seen["dpop:"+thumb(t, key)+" early"] {
		t.Fatalf("a proof within MaxFuture of the start: %v, stored %v", err, store.seen)
	}
	clock = now.Add(2*time.Minute + 10*time.Second)
	late := sign(t, key, jose.ES256, claims(func(c map[string]any) { c["iat"], c["jti"] = clock.Unix(), "late" }))
	if err := use(second, late); err != nil || len(store.seen) != 2 {
		t.Fatalf("a proof after the start's window: %v, stored %v", err, store.seen)
	}
	if err := use(second, late); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay: %v, want ErrReplayed", err)
	}
}

// TestRFC9449_11_1_MemoryOnlyBoundsTheFuture: without a store (a resource
// server) a proof may be dated at most Future ahead, and none dated within
// Future of the start passes, so that one dated ahead and seen before a
// restart cannot pass after it.
func TestRFC9449_11_1_MemoryOnlyBoundsTheFuture(t *testing.T) {
	key := ecKey(t)
	clock := now
	future := 5 * time.Second
	first := process(nil, now, future, &clock)
	at := func(iat time.Time, jti string) string {
		return sign(t, key, jose.ES256, claims(func(c map[string]any) { c["iat"], c["jti"] = iat.Unix(), jti }))
	}
	use := func(v *Verifier, p string) error {
		_, err := v.Verify(t.Context(), p, tokenRequest)
		return err
	}
	if err := use(first, at(now, "at-start")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a proof dated at the start: %v, want ErrInvalid", err)
	}
	clock = now.Add(10 * time.Second)
	if err := use(first, at(clock.Add(future+time.Second), "too-far")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a proof dated more than Future ahead: %v, want ErrInvalid", err)
	}
	ahead := at(clock.Add(4*time.Second), "ahead")
	if err := use(first, ahead); err != nil {
		t.Fatal(err)
	}
	clock = now.Add(11 * time.Second)
	second := process(nil, clock, future, &clock)
	clock = now.Add(14 * time.Second) // the proof's iat has passed
	if err := use(second, ahead); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a proof dated ahead and seen before the restart, after it: %v, want ErrInvalid", err)
	}
	clock = now.Add(30 * time.Second)
	fresh := at(clock, "fresh")
	if err := use(second, fresh); err != nil {
		t.Fatal(err)
	}
	if err := use(second, fresh); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay: %v, want ErrReplayed", err)
	}
}

// TestRFC9449_11_1_MemoryReplayIsBounded: a MemoryReplay holds at most
// its max identifiers; past that it refuses until some expire, and then
// forgets the expired ones.
func TestRFC9449_11_1_MemoryReplayIsBounded(t *testing.T) {
	m := NewMemoryReplay(3)
	ctx := t.Context()
	for i, id := range []string{"a", "b", "c"} {
		if err := m.UseOnce(ctx, "s", id, now.Add(time.Duration(i+1)*time.Minute), now); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.UseOnce(ctx, "s", "d", now.Add(time.Minute), now); !errors.Is(err, ErrFull) {
		t.Fatalf("a fourth identifier: %v, want ErrFull", err)
	}
	if err := m.UseOnce(ctx, "s", "a", now.Add(time.Minute), now.Add(30*time.Second)); !errors.Is(err, ErrSeen) {
		t.Fatalf("a full set still knows its identifiers: %v, want ErrSeen", err)
	}
	later := now.Add(2*time.Minute + time.Second) // a and b have expired
	for _, id := range []string{"d", "e"} {
		if err := m.UseOnce(ctx, "s", id, later.Add(time.Minute), later); err != nil {
			t.Fatal(err)
		}
	}
	if len(m.seen) != 3 {
		t.Fatalf("%d identifiers held, want 3", len(m.seen))
	}
	if err := m.UseOnce(ctx, "s", "f", later.Add(time.Minute), later); !errors.Is(err, ErrFull) {
		t.Fatalf("%v, want ErrFull", err)
	}
}

func thumb(t *testing.T, key *ecdsa.PrivateKey) string {
	t.Helper()
	jkt, err := Thumbprint(&jose.JSONWebKey{Key: key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	return jkt
}

// TestRFC9449_11_1_SharedNonceKeysProveNothingNew: nonces derived from the
// system secret are the same before and after a restart, so a proof that
// carries one is held to the restart rule like any other; only a nonce of
// ProcessNonces (a key this process drew) lets a proof skip it.
func TestRFC9449_11_1_SharedNonceKeysProveNothingNew(t *testing.T) {
	key := ecKey(t)
	secretKey := []byte("derived from the system secret, the same after a restart")
	clock := now
	first := process(nil, now.Add(-time.Hour), 0, &clock)
	first.NonceKey = secretKey
	nonce := first.Nonce(now)
	p := sign(t, key, jose.ES256, claims(func(c map[string]any) { c["iat"], c["jti"], c["nonce"] = now.Unix(), "n1", nonce }))
	if _, err := first.Verify(t.Context(), p, tokenRequest); err != nil {
		t.Fatal(err)
	}
	clock = now.Add(2 * time.Second)
	restarted := process(nil, clock, 0, &clock)
	restarted.NonceKey = secretKey
	if _, err := restarted.Verify(t.Context(), p, tokenRequest); err == nil {
		t.Fatal("a proof with a shared nonce, seen before the restart, passed after it")
	}
}
