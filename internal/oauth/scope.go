package oauth

import (
	"slices"
	"strings"
	"sync/atomic"

	"github.com/latchkey/latchkey/internal/config"
)

// maxScopes bounds how many scope tokens one request may carry.
const maxScopes = 64

// ParseScope splits a scope parameter (RFC 6749 §3.3): space-delimited tokens
// of %x21 / %x23-5B / %x5D-7E; repeated tokens count once; order is kept.
func ParseScope(s string) ([]string, *Error) {
	var out []string
	for tok := range strings.SplitSeq(s, " ") {
		if tok == "" {
			continue
		}
		if !validScopeToken(tok) {
			return nil, InvalidScope("scope contains a character RFC 6749 §3.3 does not allow")
		}
		if !slices.Contains(out, tok) {
			out = append(out, tok)
		}
		if len(out) > maxScopes {
			return nil, InvalidScope("too many scopes")
		}
	}
	return out, nil
}

func validScopeToken(tok string) bool {
	if len(tok) > 128 {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

// FormatScope joins scopes for a response or a token (RFC 6749 §3.3).
func FormatScope(scopes []string) string { return strings.Join(scopes, " ") }

// Subset reports whether every element of a is in b.
func Subset(a, b []string) bool {
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}

// Union returns a's scopes followed by those of b not in a.
func Union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Intersect returns the scopes of a that are in b, in a's order.
func Intersect(a, b []string) []string {
	var out []string
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// Scopes is the registry of scopes the server knows, with the descriptions
// the consent page shows. Replace swaps the whole registry at once (a
// configuration reload): each method reads one consistent registry, so a
// request in flight sees either the old one or the new one, never a mix
// within a call.
type Scopes struct {
	set atomic.Pointer[scopeSet]
}

type scopeSet struct {
	list []config.Scope
	desc map[string]string
	skip map[string]bool
}

// NewScopes builds the registry from configuration.
func NewScopes(list []config.Scope) *Scopes {
	s := &Scopes{}
	s.Replace(list)
	return s
}

// Replace makes list the registry, atomically.
func (s *Scopes) Replace(list []config.Scope) {
	set := &scopeSet{list: slices.Clone(list), desc: make(map[string]string, len(list)), skip: make(map[string]bool)}
	for _, sc := range list {
		set.desc[sc.Name] = sc.Description
		set.skip[sc.Name] = sc.SkipConsent
	}
	s.set.Store(set)
}

// Known reports whether name is a registered scope.
func (s *Scopes) Known(name string) bool { _, ok := s.set.Load().desc[name]; return ok }

// Description returns the consent text of a scope.
func (s *Scopes) Description(name string) string { return s.set.Load().desc[name] }

// NeedConsent reports whether any of scopes needs the user's consent.
func (s *Scopes) NeedConsent(scopes []string) bool {
	skip := s.set.Load().skip
	for _, sc := range scopes {
		if !skip[sc] {
			return true
		}
	}
	return false
}

// Names returns every registered scope name in registry order.
func (s *Scopes) Names() []string {
	list := s.set.Load().list
	out := make([]string, len(list))
	for i, sc := range list {
		out[i] = sc.Name
	}
	return out
}
