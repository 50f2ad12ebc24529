package oauth

import (
	"fmt"
	"testing"
	"time"
)

// TestThrottle_FullTableKeepsLiveWindows: when the table of keys is full, a
// new key evicts an expired window first, else the oldest one; a key is
// never evicted while there is room, so a guesser cannot wipe its own
// failures by trying other keys, and the table never exceeds its size.
func TestThrottle_FullTableKeepsLiveWindows(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := NewThrottle("t", 2, time.Minute, 3)
	use := func(key string, at time.Time) {
		for range 2 {
			if ok, _ := th.Reserve(key, at); !ok {
				t.Fatalf("%s refused within its limit", key)
			}
		}
	}
	refused := func(key string, at time.Time) bool { ok, _ := th.Exceeded(key, at); return ok }

	use("a", t0)
	use("b", t0.Add(time.Second))
	th.Reserve("c", t0.Add(2*time.Second)) // the table is full now
	if !refused("a", t0.Add(3*time.Second)) || !refused("b", t0.Add(3*time.Second)) {
		t.Fatal("filling the table to its size forgot a live window")
	}
	th.Reserve("d", t0.Add(3*time.Second)) // evicts the oldest, a
	if refused("a", t0.Add(4*time.Second)) || !refused("b", t0.Add(4*time.Second)) {
		t.Fatal("a full table must evict the oldest window, and only it")
	}
	if len(th.entries) > 3 {
		t.Fatalf("%d keys in a table of 3", len(th.entries))
	}
	th.Reserve("e", t0.Add(62*time.Second)) // b's window has ended
	if len(th.entries) > 3 {
		t.Fatalf("%d keys in a table of 3", len(th.entries))
	}
	for i := range 10 {
		th.Reserve(fmt.Sprintf("k%d", i), t0.Add(70*time.Second))
		if len(th.entries) > 3 {
			t.Fatalf("%d keys in a table of 3", len(th.entries))
		}
	}
}
