package oauth

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// Limits on password guessing, shared by the login page and the password
// grant (SECURITY.md B1, c.5). Only failures count, never sign-ins.
const (
	// Per account and address: after 3 failures each attempt waits 1 s,
	// then 2 s, and the 5th failure locks that address out of that
	// account for the rest of 15 minutes. The real user elsewhere is not
	// affected.
	perAccountFailures = 5
	perAccountWindow   = 15 * time.Minute
	perAccountDelayAt  = 3
	perAccountDelay    = time.Second
	// Per address, whatever the account: 20 failures a minute.
	perAddressFailures = 20
	perAddressWindow   = time.Minute
	// Per account from everywhere: 100 failures from at least 10
	// addresses within 15 minutes lock the account for everyone, the
	// rest of those 15 minutes (a distributed guess).
	spreadFailures  = 100
	spreadAddresses = 10
	throttleKeys    = 100_000
)

// Passwords checks user passwords: argon2id, the same cost and answer for
// unknown users, hashed through the server's HashGate, and throttled per
// account and address.
type Passwords struct {
	Users   store.UserStore
	Now     func() time.Time
	Gate    *HashGate
	account *Throttle
	address *Throttle
	spread  *spread
}

// NewPasswords returns a password checker over users, hashing through gate.
func NewPasswords(users store.UserStore, now func() time.Time, gate *HashGate) *Passwords {
	return &Passwords{
		Users:   users,
		Now:     now,
		Gate:    gate,
		account: NewThrottle("password-account", perAccountFailures, perAccountWindow, throttleKeys).WithDelay(perAccountDelayAt, perAccountDelay),
		address: NewThrottle("password-address", perAddressFailures, perAddressWindow, throttleKeys),
		spread:  newSpread(spreadFailures, spreadAddresses, perAccountWindow, throttleKeys),
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

// Check verifies username and password for a request from address (the
// clientip key). It returns the user, ErrBadCredentials, *TooManyAttempts,
// ErrBusy, or a store error. A failure is reserved on the address and the
// account before the hash runs, and given back on success.
func (p *Passwords) Check(ctx context.Context, username, password, address string) (store.User, error) {
	now := p.Now()
	account := strconv.Quote(username)
	accountKey := account + " " + address
	if locked, wait := p.spread.Locked(account, now); locked {
		return store.User{}, &TooManyAttempts{RetryAfter: wait}
	}
	if ok, wait := p.address.Reserve(address, now); !ok {
		return store.User{}, &TooManyAttempts{RetryAfter: wait}
	}
	if ok, wait := p.account.Reserve(accountKey, now); !ok {
		p.address.Release(address)
		return store.User{}, &TooManyAttempts{RetryAfter: wait}
	}
	user, err := p.check(ctx, username, password)
	switch {
	case err == nil:
		p.address.Release(address)
		p.account.Forget(accountKey)
	case errors.Is(err, ErrBadCredentials):
		p.spread.Fail(account, address, now)
	default: // not judged: busy, canceled or the store failed
		p.address.Release(address)
		p.account.Release(accountKey)
	}
	return user, err
}

func (p *Passwords) check(ctx context.Context, username, password string) (store.User, error) {
	var user store.User
	var err error
	if username != "" && password != "" && len(username) <= 256 && len(password) <= 1024 {
		user, err = p.Users.GetUserByUsername(ctx, username)
	} else {
		err = store.ErrNotFound
	}
	known := err == nil
	if !known && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrInvalid) {
		return store.User{}, err
	}
	var ok bool
	if gateErr := p.Gate.Do(ctx, func() {
		if known {
			ok, _ = secret.CheckPassword(user.PasswordHash, password)
		} else {
			secret.BurnPasswordCheck(password)
		}
	}); gateErr != nil {
		return store.User{}, gateErr
	}
	if !ok || !user.DisabledAt.IsZero() {
		// A disabled account fails as a wrong password does: the
		// answer tells nothing of the account to whoever tries.
		return store.User{}, ErrBadCredentials
	}
	return user, nil
}
