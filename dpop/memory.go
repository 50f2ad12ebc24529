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
// they expire, for a resource server without a database. Pair it with
// Verifier.NotBefore set to its creation time: what it forgets in a
// restart is then refused anyway. It holds at most max identifiers (32
// bytes each, hashed): past that, proofs are refused rather than
// remembered in unbounded memory.
type MemoryReplay struct {
	mu   sync.Mutex
	seen map[[sha256.Size]byte]time.Time
	max  int
}

// NewMemoryReplay returns an empty set of at most max identifiers.
func NewMemoryReplay(max int) *MemoryReplay {
	return &MemoryReplay{seen: map[[sha256.Size]byte]time.Time{}, max: max}
}

// UseOnce records (scope, id) until expiresAt; ErrSeen if it is recorded
// and unexpired at now.
func (m *MemoryReplay) UseOnce(_ context.Context, scope, id string, expiresAt, now time.Time) error {
	k := sha256.Sum256([]byte(scope + "\x00" + id))
	m.mu.Lock()
	defer m.mu.Unlock()
	if exp, ok := m.seen[k]; ok && now.Before(exp) {
		return ErrSeen
	}
	if len(m.seen) >= m.max {
		for key, exp := range m.seen {
			if !now.Before(exp) {
				delete(m.seen, key)
			}
		}
		if len(m.seen) >= m.max {
			return ErrFull
		}
	}
	m.seen[k] = expiresAt
	return nil
}
