package rs

import (
	"context"
	"sync"
)

// flight makes concurrent requests that present the same uncached token
// share one verification, so that a burst of them costs the authorization
// server one introspection, not one each.
type flight struct {
	mu    sync.Mutex
	calls map[cacheKey]*call
}

type call struct {
	done chan struct{}
	tok  *Token
	err  *Error
}

// do runs verify for k, or waits for the run already in flight (or for
// ctx).
func (f *flight) do(ctx context.Context, k cacheKey, verify func() (*Token, *Error)) (*Token, *Error) {
	f.mu.Lock()
	if c, ok := f.calls[k]; ok {
		f.mu.Unlock()
		select {
		case <-c.done:
			return c.tok, c.err
		case <-ctx.Done():
			return nil, unavailable("the request ended before its access token was checked", ctx.Err())
		}
	}
	if f.calls == nil {
		f.calls = map[cacheKey]*call{}
	}
	c := &call{done: make(chan struct{})}
	f.calls[k] = c
	f.mu.Unlock()

	defer func() {
		if c.tok == nil && c.err == nil { // verify panicked
			c.err = unavailable("the access token could not be checked", nil)
		}
		f.mu.Lock()
		delete(f.calls, k)
		f.mu.Unlock()
		close(c.done)
	}()
	c.tok, c.err = verify()
	return c.tok, c.err
}
