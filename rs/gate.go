package rs

import (
	"context"
	"sync"
	"time"
)

// gate runs one fetch from the authorization server at a time and spaces
// them out: none starts before next, which a success puts okGap ahead and
// a failure an exponential backoff ahead. So however many requests need
// the metadata or the keys at once, and however the server fails, the
// server sees a bounded trickle of fetches.
type gate struct {
	mu      sync.Mutex
	running chan struct{} // closed when the fetch in flight ends
	next    time.Time
	backoff time.Duration
	lastErr error // the last fetch's error, nil after a success
}

// Backoff after failed fetches.
const (
	minBackoff = time.Second
	maxBackoff = time.Minute
)

// run runs fetch, unless it is too early (it returns the last fetch's
// error at once) or another fetch is running: then, with wait, it waits for
// that one (or for ctx) and returns its error; without, it returns nil at
// once. Either way the caller looks at what the fetches stored.
func (g *gate) run(ctx context.Context, now time.Time, okGap time.Duration, wait bool, fetch func() error) error {
	g.mu.Lock()
	if ch := g.running; ch != nil {
		g.mu.Unlock()
		if !wait {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.lastErr
	}
	if now.Before(g.next) {
		defer g.mu.Unlock()
		return g.lastErr
	}
	ch := make(chan struct{})
	g.running = ch
	g.mu.Unlock()

	err := fetch()

	g.mu.Lock()
	defer g.mu.Unlock()
	if err == nil {
		g.next, g.backoff = now.Add(okGap), 0
	} else {
		g.backoff = min(max(2*g.backoff, minBackoff), maxBackoff)
		g.next = now.Add(g.backoff)
	}
	g.lastErr = err
	g.running = nil
	close(ch)
	return err
}
