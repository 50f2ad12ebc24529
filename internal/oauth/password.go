package oauth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// Limits on password guessing, shared by the login page and the password
// grant (SECURITY.md B1): per username and client address, and per address.
const (
	perAccountAttempts = 5
	perAccountWindow   = 15 * time.Minute
	perAddressAttempts = 20
	perAddressWindow   = time.Minute
	throttleKeys       = 100_000
)

// Passwords checks user passwords: argon2id, the same cost and answer for
// unknown users, at most GOMAXPROCS hashes at once (so a flood of sign-ins
// cannot starve the token endpoint), and throttled per account and address.
type Passwords struct {
	Users     store.UserStore
	Now       func() time.Time
	account   *Throttle
	address   *Throttle
	hashSlots chan struct{}
}

// NewPasswords returns a password checker over users.
func NewPasswords(users store.UserStore, now func() time.Time) *Passwords {
	return &Passwords{
		Users:     users,
		Now:       now,
		account:   NewThrottle(perAccountAttempts, perAccountWindow, throttleKeys),
		address:   NewThrottle(perAddressAttempts, perAddressWindow, throttleKeys),
		hashSlots: make(chan struct{}, runtime.GOMAXPROCS(0)),
	}
}

// ErrBadCredentials: the username or password is wrong (one answer for both).
var ErrBadCredentials = errors.New("the username or password is incorrect")

// TooManyAttempts is returned when the throttle refuses an attempt.
type TooManyAttempts struct{ RetryAfter time.Duration }

func (e *TooManyAttempts) Error() string { return "too many failed attempts" }

// Seconds returns the wait, rounded up, at least one second.
func (e *TooManyAttempts) Seconds() int {
	s := int((e.RetryAfter + time.Second - 1) / time.Second)
	return max(s, 1)
}

// ClientAddress is the address rate limits are keyed on: the TCP peer.
// Forwarded headers are not trusted (RFC 9700 §4.13).
func ClientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Check verifies username and password for a request from address. It
// returns the user, ErrBadCredentials, *TooManyAttempts, or a store error.
func (p *Passwords) Check(ctx context.Context, username, password, address string) (store.User, error) {
	now := p.Now()
	accountKey := strconv.Quote(username) + " " + address
	if ok, wait := p.address.Reserve(address, now); !ok {
		return store.User{}, &TooManyAttempts{RetryAfter: wait}
	}
	if ok, wait := p.account.Reserve(accountKey, now); !ok {
		return store.User{}, &TooManyAttempts{RetryAfter: wait}
	}
	select {
	case p.hashSlots <- struct{}{}:
		defer func() { <-p.hashSlots }()
	case <-ctx.Done():
		return store.User{}, ctx.Err()
	}
	if username == "" || password == "" || len(username) > 256 || len(password) > 1024 {
		secret.BurnPasswordCheck(password)
		return store.User{}, ErrBadCredentials
	}
	user, err := p.Users.GetUserByUsername(ctx, username)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		secret.BurnPasswordCheck(password)
		return store.User{}, ErrBadCredentials
	}
	if err != nil {
		return store.User{}, err
	}
	if ok, err := secret.CheckPassword(user.PasswordHash, password); err != nil || !ok {
		return store.User{}, ErrBadCredentials
	}
	// A success clears this account's failures from this address only; the
	// per-address budget is not refunded, so spraying stays bounded.
	p.account.Forget(accountKey)
	return user, nil
}
