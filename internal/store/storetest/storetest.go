// Package storetest is the conformance suite of store.Store: every
// guarantee documented in package store, checked against a real backend,
// racing goroutines included. Each backend's tests call Run.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// Opener returns a fresh, empty, migrated store, closed when t ends.
type Opener func(t *testing.T) store.Store

// Run runs the suite. It opens one store per subtest and runs subtests in
// parallel; every time the store is given is derived from a fixed base
// time, never from the clock.
func Run(t *testing.T, open Opener) {
	for _, group := range []func(*testing.T, Opener){
		testClients,
		testRegistration,
		testResources,
		testUsers,
		testGrants,
		testAuthRequests,
		testPushedRequests,
		testCodes,
		testDeviceCodes,
		testTokens,
		testRefreshGrace,
		testRefreshKept,
		testSessions,
		testKeys,
		testReplay,
		testReferences,
		testRevocationRaces,
		testConcurrentReuse,
		testRevokersRace,
		testCounters,
		testDevices,
		testActivity,
		testJanitor,
	} {
		group(t, open)
	}
	run(t, "Ping/answers", open, func(t *testing.T, w *world) {
		if err := w.s.Ping(w.ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
}

// t0 is the base time of every test.
func t0() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0().Add(d) }

// big is 64 KiB of multi-byte text.
func big() string { return strings.Repeat("é", 32<<10) }

// unicode is text in several scripts, with characters that need escaping
// in JSON, SQL and HTML.
const unicode = "Ünïcødé 名前 🚀 \"q\" 'a' \\ <b>&amp; \u2028 \t\n end"

// run runs fn as a parallel subtest on a store of its own.
func run(t *testing.T, name string, open Opener, fn func(t *testing.T, w *world)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		fn(t, &world{t: t, s: open(t), ctx: t.Context()})
	})
}

// world is one subtest's store with helpers that create what tests need.
type world struct {
	t   *testing.T
	s   store.Store
	ctx context.Context
	n   int // sequence for generated ids
}

func (w *world) id(prefix string) string {
	w.n++
	return fmt.Sprintf("%s-%d", prefix, w.n)
}

// client creates a client with id and returns it.
func (w *world) client(id string) store.Client {
	w.t.Helper()
	c := store.Client{
		ID:           id,
		SecretHash:   "sha256:" + strings.Repeat("ab", 32),
		Name:         "Client " + id,
		RedirectURIs: []string{"https://app.example/cb"},
		GrantTypes:   []string{"authorization_code", "refresh_token"},
		Scopes:       []string{"openid", "profile"},
		CreatedAt:    t0(),
		UpdatedAt:    t0(),
	}
	if err := w.s.CreateClient(w.ctx, c); err != nil {
		w.t.Fatalf("CreateClient(%q): %v", id, err)
	}
	return c
}

// user creates a user with id and username "name-"+id and returns it.
func (w *world) user(id string) store.User {
	w.t.Helper()
	u := store.User{ID: id, Username: "name-" + id, PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA",
		Name: "User " + id, Email: id + "@example.org", CreatedAt: t0(), UpdatedAt: t0()}
	if err := w.s.CreateUser(w.ctx, u); err != nil {
		w.t.Fatalf("CreateUser(%q): %v", id, err)
	}
	return u
}

// authRequest creates a pending request of client, valid for ten minutes
// from t0, and returns it.
func (w *world) authRequest(clientID string) store.AuthRequest {
	w.t.Helper()
	r := store.AuthRequest{
		ID:                  w.id("ar"),
		BrowserHash:         "browser",
		ClientID:            clientID,
		RedirectURI:         "https://app.example/cb",
		ResponseType:        "code",
		Scopes:              []string{"openid"},
		State:               "state",
		CodeChallenge:       "challenge",
		CodeChallengeMethod: "S256",
		CreatedAt:           t0(),
		ExpiresAt:           at(10 * time.Minute),
	}
	if err := w.s.CreateAuthRequest(w.ctx, r); err != nil {
		w.t.Fatalf("CreateAuthRequest: %v", err)
	}
	return r
}

// session creates an unexpired session of user with hash and sid "sid-"+hash
// and returns it.
func (w *world) session(hash, userID string) store.Session {
	w.t.Helper()
	s := store.Session{Hash: hash, ID: "sid-" + hash, UserID: userID, AuthTime: t0(), CreatedAt: t0(),
		ExpiresAt: at(8 * time.Hour), LastSeenAt: t0()}
	if err := w.s.CreateSession(w.ctx, s); err != nil {
		w.t.Fatalf("CreateSession(%q): %v", hash, err)
	}
	return s
}

// grant stores g through a completed authorization request (the only way a
// grant is created) and returns it.
func (w *world) grant(g store.Grant) store.Grant {
	w.t.Helper()
	r := w.authRequest(g.ClientID)
	if err := w.s.CompleteAuthRequest(w.ctx, r.ID, t0(), &g, nil); err != nil {
		w.t.Fatalf("CompleteAuthRequest(grant %q): %v", g.ID, err)
	}
	return g
}

// newGrant returns an active grant of user to client created at t0 (not stored).
func newGrant(id, userID, clientID string) store.Grant {
	return store.Grant{ID: id, UserID: userID, ClientID: clientID, Scopes: []string{"openid", "profile"}, CreatedAt: t0()}
}

// code stores c through a completed authorization request and returns it.
func (w *world) code(c store.AuthCode) store.AuthCode {
	w.t.Helper()
	clientID := c.ClientID
	if clientID == "" {
		g, err := w.s.GetGrant(w.ctx, c.GrantID)
		if err != nil {
			w.t.Fatalf("GetGrant(%q): %v", c.GrantID, err)
		}
		clientID = g.ClientID
	}
	r := w.authRequest(clientID)
	if err := w.s.CompleteAuthRequest(w.ctx, r.ID, t0(), nil, &c); err != nil {
		w.t.Fatalf("CompleteAuthRequest(code %q): %v", c.Hash, err)
	}
	return c
}

// newCode returns an unused code of grant g, valid for five minutes from t0 (not stored).
func newCode(hash string, g store.Grant) store.AuthCode {
	return store.AuthCode{
		Hash: hash, GrantID: g.ID, ClientID: g.ClientID, UserID: g.UserID,
		RedirectURI: "https://app.example/cb", RedirectURIGiven: true, Scopes: g.Scopes,
		CodeChallenge: "challenge", CodeChallengeMethod: "S256", Nonce: "nonce",
		AuthTime: t0(), CreatedAt: t0(), ExpiresAt: at(5 * time.Minute),
	}
}

// newToken returns an active token of grant g, valid for an hour from t0 (not stored).
func newToken(hash, kind, family string, g store.Grant) store.Token {
	return store.Token{
		Hash: hash, Kind: kind, FamilyID: family, GrantID: g.ID, ClientID: g.ClientID, UserID: g.UserID,
		Scopes: g.Scopes, AuthTime: t0(), CreatedAt: t0(), ExpiresAt: at(time.Hour),
	}
}

// tokens stores ts and returns them.
func (w *world) tokens(ts ...store.Token) []store.Token {
	w.t.Helper()
	if err := w.s.CreateTokens(w.ctx, ts); err != nil {
		w.t.Fatalf("CreateTokens: %v", err)
	}
	return ts
}

// base creates a client "c", a user "u" and an active grant "g" of u to c.
func (w *world) base() (store.Client, store.User, store.Grant) {
	w.t.Helper()
	c := w.client("c")
	u := w.user("u")
	return c, u, w.grant(newGrant("g", u.ID, c.ID))
}

// token returns the stored token, failing the test if it is absent.
func (w *world) token(hash string) store.Token {
	w.t.Helper()
	tok, err := w.s.GetToken(w.ctx, hash)
	if err != nil {
		w.t.Fatalf("GetToken(%q): %v", hash, err)
	}
	return tok
}

// absentToken fails the test unless no token has hash.
func (w *world) absentToken(hash string) {
	w.t.Helper()
	if _, err := w.s.GetToken(w.ctx, hash); !errors.Is(err, store.ErrNotFound) {
		w.t.Fatalf("GetToken(%q) = %v, want ErrNotFound (the token must not have been written)", hash, err)
	}
}

// wantErr fails the test unless errors.Is(err, target) (or err is nil when target is).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	switch {
	case target == nil && err != nil:
		t.Fatalf("%s: unexpected error %v", what, err)
	case target != nil && !errors.Is(err, target):
		t.Fatalf("%s = %v, want %v", what, err, target)
	}
}

// same fails the test unless got equals want field by field: times must be
// equal instants in UTC, everything else deeply equal. Differences are
// reported per field with long values shortened.
func same[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if d := diff(reflect.ValueOf(got), reflect.ValueOf(want), ""); d != "" {
		t.Fatalf("%s differs:%s", what, d)
	}
}

func diff(got, want reflect.Value, path string) string {
	if tg, ok := got.Interface().(time.Time); ok {
		tw := want.Interface().(time.Time)
		if !tg.Equal(tw) || tg.Location() != time.UTC || tg.IsZero() != tw.IsZero() {
			return fmt.Sprintf("\n  %s: got %v (%v), want %v", path, tg, tg.Location(), tw)
		}
		return ""
	}
	if got.Kind() == reflect.Struct {
		var b strings.Builder
		for i := range got.NumField() {
			b.WriteString(diff(got.Field(i), want.Field(i), path+"."+got.Type().Field(i).Name))
		}
		return b.String()
	}
	if got.Kind() == reflect.Slice && !got.IsNil() && !want.IsNil() && got.Len() == want.Len() &&
		got.Type().Elem().Kind() == reflect.Struct {
		var b strings.Builder
		for i := range got.Len() {
			b.WriteString(diff(got.Index(i), want.Index(i), fmt.Sprintf("%s[%d]", path, i)))
		}
		return b.String()
	}
	if !reflect.DeepEqual(got.Interface(), want.Interface()) {
		return fmt.Sprintf("\n  %s: got %s, want %s", path, short(got), short(want))
	}
	return ""
}

func short(v reflect.Value) string {
	s := fmt.Sprintf("%#v", v.Interface())
	if len(s) > 200 {
		s = s[:200] + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return s
}

// race runs fn(i) for i in [0, n) in n goroutines released together by
// closing a channel, and returns their errors.
func race(n int, fn func(i int) error) []error {
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner checks that exactly one of errs is nil and all others are
// store.ErrAlreadyUsed, and returns the winner's index.
func oneWinner(t *testing.T, what string, errs []error) int {
	t.Helper()
	winner, used := -1, 0
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("%s: goroutines %d and %d both succeeded", what, winner, i)
			}
			winner = i
		case errors.Is(err, store.ErrAlreadyUsed):
			used++
		default:
			t.Fatalf("%s: goroutine %d: %v, want nil or ErrAlreadyUsed", what, i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: no goroutine succeeded (%d ErrAlreadyUsed)", what, used)
	}
	return winner
}
