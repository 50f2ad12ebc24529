package oauth

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/dbtest"
)

func TestThrottleCountsFailuresOnly(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := NewThrottle("t", 3, time.Minute, 100)
	for range 10 { // ten successes: reserved, then given back
		if ok, _ := th.Reserve("k", now); !ok {
			t.Fatal("a success used up the budget")
		}
		th.Release("k")
	}
	for range 3 {
		th.Reserve("k", now)
	}
	if ok, wait := th.Reserve("k", now.Add(10*time.Second)); ok || wait != 50*time.Second {
		t.Fatalf("the 4th failure: ok %v, wait %v; want refused for the rest of the window (50s)", ok, wait)
	}
	th.Forget("k")
	if ok, _ := th.Reserve("k", now.Add(10*time.Second)); !ok {
		t.Fatal("Forget did not clear the failures")
	}
}

func TestThrottleGrowingDelay(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := NewThrottle("t", 10, time.Hour, 100).WithDelay(2, time.Second)
	th.Reserve("k", now)
	th.Reserve("k", now)
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		if ok, wait := th.Reserve("k", now); ok || wait != want {
			t.Fatalf("after %d failures: ok %v, wait %v; want %v", i+2, ok, wait, want)
		}
		now = now.Add(want)
		if ok, _ := th.Reserve("k", now); !ok {
			t.Fatalf("refused after waiting %v", want)
		}
	}
}

// TestThrottleSyncSharesCountsBetweenNodes: two nodes' throttles over one
// database learn each other's failures; a failed sync loses nothing.
func TestThrottleSyncSharesCountsBetweenNodes(t *testing.T) {
	st := dbtest.Open(t, "sqlite")
	now := time.Now().UTC().Truncate(time.Second)
	a := NewThrottle("shared", 5, time.Minute, 100)
	b := NewThrottle("shared", 5, time.Minute, 100)
	a.Reserve("k", now)
	a.Reserve("k", now)
	a.Reserve("k", now)
	a.Release("k") // a success: given back before the sync
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	if err := a.Sync(canceled, st, now); err == nil {
		t.Fatal("a sync with a canceled context succeeded")
	}
	if err := a.Sync(t.Context(), st, now); err != nil {
		t.Fatal(err)
	}
	b.Reserve("k", now)
	if err := b.Sync(t.Context(), st, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := b.Failures("k", now.Add(time.Second)); got != 3 {
		t.Fatalf("node B knows %d failures, want 3 (2 from A, 1 of its own)", got)
	}
	if err := a.Sync(t.Context(), st, now.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := a.Failures("k", now.Add(2*time.Second)); got != 3 {
		t.Fatalf("node A knows %d failures, want 3", got)
	}
	// A success on A clears the key everywhere.
	a.Forget("k")
	a.Sync(t.Context(), st, now.Add(3*time.Second))
	b.Sync(t.Context(), st, now.Add(4*time.Second))
	if got := b.Failures("k", now.Add(4*time.Second)); got != 0 {
		t.Fatalf("node B still knows %d failures after A's success", got)
	}
}

// TestThrottleWindowEndsExactlyAtItsLength: a window of one minute that
// began at t is over at t+1m, for counting, refusing and reporting alike.
func TestThrottleWindowEndsExactlyAtItsLength(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := NewThrottle("t", 1, time.Minute, 100)
	th.Reserve("k", start)
	end := start.Add(time.Minute)
	if over, _ := th.Exceeded("k", end.Add(-time.Nanosecond)); !over {
		t.Fatal("refused a nanosecond before the end: not exceeded")
	}
	if got := th.Failures("k", end.Add(-time.Nanosecond)); got != 1 {
		t.Fatalf("%d failures just before the end, want 1", got)
	}
	if over, _ := th.Exceeded("k", end); over {
		t.Fatal("still exceeded when the window ended")
	}
	if got := th.Failures("k", end); got != 0 {
		t.Fatalf("%d failures after the window, want 0", got)
	}
	if ok, _ := th.Reserve("k", end); !ok {
		t.Fatal("refused when the window ended")
	}
}

// TestThrottleReleaseNeverGoesBelowZero: giving back more than was
// reserved (a success on a fresh key) grants no extra attempt.
func TestThrottleReleaseNeverGoesBelowZero(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := NewThrottle("t", 2, time.Minute, 100)
	th.Reserve("k", now)
	th.Release("k")
	th.Release("k")
	th.Reserve("k", now)
	th.Reserve("k", now)
	if ok, _ := th.Reserve("k", now); ok {
		t.Fatal("a third failure was allowed after an extra release")
	}
}

func TestTooManyAttemptsSecondsRoundUp(t *testing.T) {
	for wait, want := range map[time.Duration]int{0: 1, time.Millisecond: 1, time.Second: 1, 1500 * time.Millisecond: 2, time.Minute: 60} {
		if got := (&TooManyAttempts{RetryAfter: wait}).Seconds(); got != want {
			t.Errorf("Seconds(%v) = %d, want %d", wait, got, want)
		}
	}
}

// TestSpreadLocksOnlyForManyAddresses: an account is locked for everyone
// only after enough failures from enough addresses, until the window
// ends; the tracked accounts are bounded.
func TestSpreadLocksOnlyForManyAddresses(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newSpread(3, 2, time.Minute, 2)
	for range 10 {
		s.Fail("alice", "203.0.113.1", now)
	}
	if locked, _ := s.Locked("alice", now); locked {
		t.Fatal("failures from one address locked the account for everyone")
	}
	s.Fail("bob", "203.0.113.1", now)
	s.Fail("bob", "203.0.113.2", now)
	if locked, _ := s.Locked("bob", now); locked {
		t.Fatal("locked after 2 failures, want 3")
	}
	s.Fail("bob", "203.0.113.2", now)
	if locked, wait := s.Locked("bob", now.Add(10*time.Second)); !locked || wait != 50*time.Second {
		t.Fatalf("after 3 failures from 2 addresses: locked %v for %v, want true for 50s", locked, wait)
	}
	if locked, _ := s.Locked("bob", now.Add(time.Minute)); locked {
		t.Fatal("still locked when the window ended")
	}
	s.Fail("carol", "203.0.113.3", now)
	s.mu.Lock()
	n := len(s.entries)
	s.mu.Unlock()
	if n > 2 {
		t.Fatalf("%d accounts tracked, want at most 2", n)
	}
}

// TestThrottleSuccessesLeaveNoEntries: a reservation given back, or
// failures forgotten, leave nothing in the table (unless a sync still owes
// the shared counters the change), so clients' own calls never fill it.
func TestThrottleSuccessesLeaveNoEntries(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := NewThrottle("t", 5, time.Minute, 100)
	for i := range 50 {
		key := fmt.Sprintf("client-%d 198.51.100.1", i)
		th.Reserve(key, now)
		th.Release(key)
	}
	th.Reserve("guessed", now)
	th.Reserve("guessed", now)
	th.Forget("guessed")
	if n := len(th.entries); n != 0 {
		t.Fatalf("%d entries left by successes, want 0", n)
	}
}
