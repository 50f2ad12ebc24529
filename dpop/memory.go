package dpop

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"
)

// ErrSeen is what a MemoryReplay answers for an identifier used before.
var ErrSeen = errors.New("dpop: proof identifier already used")

// ErrFull: a MemoryReplay holds as many unexpired identifiers as it may.
var ErrFull = errors.New("dpop: too many proofs in the replay window")

// MemoryReplay remembers proof identifiers in this process's memory until
// they expire, for a server that is the only one to see its proofs (a
// resource server without a database, an authorization server owning a
// SQLite file). Set it as Verifier.Memory: the verifier's restart rule
// keeps refused what it forgets in a restart. It holds at most max
// identifiers (32 bytes each, hashed): past that, proofs are refused
// rather than remembered in unbounded memory.
type MemoryReplay struct {
	mu   sync.Mutex
	seen map[[sha256.Size]byte]time.Time
	max  int
	// fullUntil: a sweep found nothing to forget before then, so none is
	// tried again until then (a full set is not swept on every proof).
	fullUntil time.Time
}

// NewMemoryReplay returns an empty set of at most max identifiers.
func NewMemoryReplay(max int) *MemoryReplay {
	return &MemoryReplay{seen: map[[sha256.Size]byte]time.Time{}, max: max}
}

// UseOnce records (scope, id) until expiresAt; ErrSeen if it is recorded
// and unexpired at now, ErrFull if max unexpired identifiers are.
func (m *MemoryReplay) UseOnce(_ context.Context, scope, id string, expiresAt, now time.Time) error {
	k := sha256.Sum256([]byte(scope + "\x00" + id))
	m.mu.Lock()
	defer m.mu.Unlock()
	if exp, ok := m.seen[k]; ok && now.Before(exp) {
		return ErrSeen
	}
	if len(m.seen) >= m.max {
		if now.Before(m.fullUntil) {
			return ErrFull
		}
		var next time.Time
		for key, exp := range m.seen {
			switch {
			case !now.Before(exp):
				delete(m.seen, key)
			case next.IsZero() || exp.Before(next):
				next = exp
			}
		}
		if len(m.seen) >= m.max {
			m.fullUntil = next
			return ErrFull
		}
	}
	m.seen[k] = expiresAt
	return nil
}
