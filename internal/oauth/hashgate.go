package oauth

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"time"
)

// ErrBusy: every hash slot stayed taken for the queue timeout, or the queue
// is full; the caller answers 503 temporarily_unavailable.
var ErrBusy = errors.New("the server is busy checking passwords")

// HashGate bounds the server's argon2id work, user passwords and imported
// client secrets alike: at most slots hashes run at once (each holds about
// 19 MiB), at most queue requests wait for a slot, and none waits longer
// than wait. A flood of guesses thus costs bounded CPU and memory, and
// cannot starve the token endpoint.
type HashGate struct {
	slots   chan struct{}
	waiting atomic.Int64
	queue   int64
	wait    time.Duration
	runs    atomic.Int64
}

// NewHashGate returns a gate of slots concurrent hashes and queue waiters.
func NewHashGate(slots, queue int, wait time.Duration) *HashGate {
	return &HashGate{slots: make(chan struct{}, slots), queue: int64(queue), wait: wait}
}

// Do runs fn in a slot; ErrBusy or the context's error if none frees up.
func (g *HashGate) Do(ctx context.Context, fn func()) error {
	select {
	case g.slots <- struct{}{}:
	default:
		if g.waiting.Add(1) > g.queue {
			g.waiting.Add(-1)
			return ErrBusy
		}
		timer := time.NewTimer(g.wait)
		defer timer.Stop()
		select {
		case g.slots <- struct{}{}:
			g.waiting.Add(-1)
		case <-timer.C:
			g.waiting.Add(-1)
			return ErrBusy
		case <-ctx.Done():
			g.waiting.Add(-1)
			return ctx.Err()
		}
	}
	defer func() { <-g.slots }()
	g.runs.Add(1)
	fn()
	return nil
}

// Runs returns how many hashes the gate has let run (for metrics).
func (g *HashGate) Runs() int64 { return g.runs.Load() }

// Waiting returns how many callers wait for a slot now (for metrics).
func (g *HashGate) Waiting() int64 { return g.waiting.Load() }

// DefaultHashGate allows GOMAXPROCS hashes at once (about 19 MiB each),
// 32 waiters per slot, for at most two seconds each.
func DefaultHashGate() *HashGate {
	n := runtime.GOMAXPROCS(0)
	return NewHashGate(n, 32*n, 2*time.Second)
}
