package oauth

import (
	"context"
	"errors"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// usedAtPrecision is how stale a self-registered client's UsedAt may get:
// the janitor deletes clients unused for far longer (days), so writing it
// at most once an hour per client keeps the token endpoint free of a write
// per request.
const usedAtPrecision = time.Hour

// noteUse records that a self-registered client was used, so that the
// janitor keeps it (config registration.unused_client_ttl).
func (p *Provider) noteUse(ctx context.Context, c store.Client) {
	if !c.SelfRegistered {
		return
	}
	now := p.Now()
	if now.Sub(c.UsedAt) < usedAtPrecision {
		return
	}
	if last, ok := p.touched.Load(c.ID); ok && now.Sub(last.(time.Time)) < usedAtPrecision {
		return
	}
	p.touched.Store(c.ID, now)
	if err := p.Store.TouchClient(ctx, c.ID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
		p.Logger.WarnContext(ctx, "could not record the use of a self-registered client", "client_id", c.ID, "err", err)
	}
}
