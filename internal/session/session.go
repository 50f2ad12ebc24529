// Package session keeps the browser side of Latchkey: the browser-binding
// cookie, the single sign-on session cookie and CSRF tokens. It is shared by
// the authorization endpoint (is someone signed in?) and the pages.
package session

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// Cookie names. The __Host- prefix is used when the issuer is https, so the
// browser refuses the cookie from any other path, host or insecure origin.
const (
	browserCookie = "lk_browser"
	sessionCookie = "lk_session"
)

// Manager reads and writes Latchkey's cookies.
type Manager struct {
	Store store.SessionStore
	Key   []byte // HMAC key for CSRF tokens, derived from the system secret
	// PreviousKey, during a system-secret rotation, is Key derived from
	// the previous secret: forms rendered before the switch still post.
	PreviousKey []byte
	Secure      bool // issuer is https: cookies get Secure and the __Host- prefix
	// TTL is the absolute lifetime of a session; IdleTTL ends it sooner
	// when the browser has not been seen for that long (zero: no idle limit).
	TTL     time.Duration
	IdleTTL time.Duration
	Now     func() time.Time
}

// touchEvery is how stale LastSeenAt may get before a request updates it:
// the idle timeout is kept to within a minute without a write per request.
const touchEvery = time.Minute

func (m *Manager) name(base string) string {
	if m.Secure {
		return "__Host-" + base
	}
	return base
}

func (m *Manager) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     m.name(name),
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   m.Secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// Browser returns the browser-binding id of this browser, setting a new
// cookie when it has none (or a malformed one). Pending authorization
// requests and CSRF tokens are bound to it.
func (m *Manager) Browser(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(m.name(browserCookie)); err == nil && secret.HasPrefix(c.Value, secret.PrefixBrowser) {
		return c.Value
	}
	id := string(secret.New(secret.PrefixBrowser))
	http.SetCookie(w, m.cookie(browserCookie, id, 400*24*3600))
	// Make the new id visible to later reads within this same request. A
	// malformed cookie of that name is dropped first: r.Cookie returns the
	// first cookie of a name, so it would hide the new one.
	others := r.Cookies()
	r.Header.Del("Cookie")
	for _, c := range others {
		if c.Name != m.name(browserCookie) {
			r.AddCookie(c)
		}
	}
	r.AddCookie(&http.Cookie{Name: m.name(browserCookie), Value: id})
	return id
}

// ExistingBrowser returns the browser id only if the request carries one.
func (m *Manager) ExistingBrowser(r *http.Request) (string, bool) {
	c, err := r.Cookie(m.name(browserCookie))
	if err != nil || !secret.HasPrefix(c.Value, secret.PrefixBrowser) {
		return "", false
	}
	return c.Value, true
}

// CSRFToken returns the token a form of the given purpose must carry for
// this browser: HMAC(key, purpose || browser id). It is unguessable without
// the system secret and useless in another browser (RFC 6749 §10.12).
func (m *Manager) CSRFToken(browser, purpose string) string {
	return csrfToken(m.Key, browser, purpose)
}

func csrfToken(key []byte, browser, purpose string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(purpose))
	mac.Write([]byte{0})
	mac.Write([]byte(browser))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// CheckCSRF reports whether token is this browser's token for purpose.
func (m *Manager) CheckCSRF(r *http.Request, purpose, token string) bool {
	browser, ok := m.ExistingBrowser(r)
	if !ok || token == "" {
		return false
	}
	if hmac.Equal([]byte(m.CSRFToken(browser, purpose)), []byte(token)) {
		return true
	}
	return m.PreviousKey != nil && hmac.Equal([]byte(csrfToken(m.PreviousKey, browser, purpose)), []byte(token))
}

// ErrNoSession means the browser is not signed in.
var ErrNoSession = errors.New("session: not signed in")

// Current returns the signed-in session of the request; ErrNoSession if none,
// expired, or idle for longer than IdleTTL. Other errors come from the store.
func (m *Manager) Current(ctx context.Context, r *http.Request) (store.Session, error) {
	c, err := r.Cookie(m.name(sessionCookie))
	if err != nil || !secret.HasPrefix(c.Value, secret.PrefixSession) {
		return store.Session{}, ErrNoSession
	}
	now := m.Now()
	s, err := m.Store.GetSession(ctx, secret.Hash(c.Value), now)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, ErrNoSession
	}
	if err != nil {
		return store.Session{}, err
	}
	if m.IdleTTL > 0 && now.Sub(s.LastSeenAt) >= m.IdleTTL {
		return store.Session{}, ErrNoSession
	}
	if now.Sub(s.LastSeenAt) >= touchEvery {
		if err := m.Store.TouchSession(ctx, s.Hash, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.Session{}, err
		}
		s.LastSeenAt = now
	}
	return s, nil
}

// SignIn stores a new session for userID and sets its cookie. A new session
// id is made at every sign-in, so a fixated cookie is never promoted.
func (m *Manager) SignIn(ctx context.Context, w http.ResponseWriter, userID string) (store.Session, error) {
	s, token := m.newSession(userID, secret.RandomString(16))
	if err := m.Store.CreateSession(ctx, s); err != nil {
		return store.Session{}, err
	}
	m.setSessionCookie(w, token)
	return s, nil
}

// newSession is a session of userID with sid, signed in now, and its
// cookie value (a new one every time).
func (m *Manager) newSession(userID, sid string) (store.Session, string) {
	now := m.Now()
	token := string(secret.New(secret.PrefixSession))
	return store.Session{
		Hash: secret.Hash(token), ID: sid, UserID: userID,
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(m.TTL),
	}, token
}

func (m *Manager) setSessionCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, m.cookie(sessionCookie, token, int(m.TTL/time.Second)))
}

// Reauthenticate replaces prev, a session of the same user who just signed
// in again (prompt=login, max_age), with a new cookie and a fresh AuthTime,
// and keeps its sid and the clients signed in to with it: a later logout
// still reaches every one of them, by the sid their ID tokens carry. The
// cookie value changes, as at every sign-in.
func (m *Manager) Reauthenticate(ctx context.Context, w http.ResponseWriter, prev store.Session) (store.Session, error) {
	s, token := m.newSession(prev.UserID, prev.ID)
	// The sid is unique: the old row goes first. An interruption between
	// the two writes leaves the browser signed out, never two sessions.
	if err := m.Store.DeleteSession(ctx, prev.Hash); err != nil {
		return store.Session{}, err
	}
	if err := m.Store.CreateSession(ctx, s); err != nil {
		return store.Session{}, err
	}
	for _, c := range prev.Clients {
		if err := m.Store.AddSessionClient(ctx, s.Hash, c, s.CreatedAt); err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.Session{}, err
		}
		s.Clients = append(s.Clients, c)
	}
	m.setSessionCookie(w, token)
	return s, nil
}

// SignOut deletes the session of the request and clears its cookie. It
// returns the session that ended (with the clients signed in to with it),
// or ErrNoSession if there was none.
func (m *Manager) SignOut(ctx context.Context, w http.ResponseWriter, r *http.Request) (store.Session, error) {
	http.SetCookie(w, m.cookie(sessionCookie, "", -1))
	c, err := r.Cookie(m.name(sessionCookie))
	if err != nil || !secret.HasPrefix(c.Value, secret.PrefixSession) {
		return store.Session{}, ErrNoSession
	}
	hash := secret.Hash(c.Value)
	s, err := m.Store.GetSession(ctx, hash, m.Now())
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Session{}, err
	}
	if err := m.Store.DeleteSession(ctx, hash); err != nil {
		return store.Session{}, err
	}
	if s.Hash == "" {
		return store.Session{}, ErrNoSession
	}
	return s, nil
}

// DeriveKey derives a purpose-specific key from the system secret, so that
// one secret can key several mechanisms without reuse.
func DeriveKey(systemSecret []byte, purpose string) []byte {
	mac := hmac.New(sha256.New, systemSecret)
	mac.Write([]byte("latchkey/" + purpose))
	return mac.Sum(nil)
}
