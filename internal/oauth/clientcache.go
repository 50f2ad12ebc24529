package oauth

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// clientCacheTTL is how long a client record is served from memory. A change
// made by the CLI or another node is seen within this time.
const (
	clientCacheTTL    = 5 * time.Second
	clientNegativeTTL = time.Second
	clientCacheMax    = 10_000
)

// clientCache keeps client records in memory so that the token and
// introspection endpoints do not read the database for the client on every
// request. Unknown ids are remembered briefly too, so a flood of bogus ids
// cannot turn into a flood of queries.
type clientCache struct {
	store store.ClientStore
	now   func() time.Time
	mu    sync.RWMutex
	items map[string]clientEntry
}

type clientEntry struct {
	client  store.Client
	missing bool
	until   time.Time
}

func newClientCache(st store.ClientStore, now func() time.Time) *clientCache {
	return &clientCache{store: st, now: now, items: make(map[string]clientEntry)}
}

// Get returns the client; store.ErrNotFound if it does not exist.
func (c *clientCache) Get(ctx context.Context, id string) (store.Client, error) {
	now := c.now()
	c.mu.RLock()
	e, ok := c.items[id]
	c.mu.RUnlock()
	if ok && now.Before(e.until) {
		if e.missing {
			return store.Client{}, store.ErrNotFound
		}
		return e.client, nil
	}
	client, err := c.store.GetClient(ctx, id)
	switch {
	case err == nil:
		e = clientEntry{client: client, until: now.Add(clientCacheTTL)}
	case errors.Is(err, store.ErrNotFound):
		e = clientEntry{missing: true, until: now.Add(clientNegativeTTL)}
	default:
		return store.Client{}, err
	}
	c.mu.Lock()
	if len(c.items) >= clientCacheMax {
		clear(c.items) // rare: more distinct ids than the bound within a TTL
	}
	c.items[id] = e
	c.mu.Unlock()
	return client, err
}

// forget drops every cached record (a configuration reload changed
// clients): the next request for each reads the store again.
func (c *clientCache) forget() {
	c.mu.Lock()
	clear(c.items)
	c.mu.Unlock()
}

// drop forgets one client's record (a change made on this node).
func (c *clientCache) drop(id string) {
	c.mu.Lock()
	delete(c.items, id)
	c.mu.Unlock()
}

// ClientsChanged makes a change of clients or resources made on this node
// (the admin API) take effect here at once: the client's cached record is
// dropped and the resource registry reloads at its next use. Other nodes
// see the change within their cache lifetimes (seconds), as for the
// command line.
func (p *Provider) ClientsChanged(clientID string) {
	if clientID != "" {
		p.clients.drop(clientID)
	}
	p.resources.cur.Store(nil)
}
