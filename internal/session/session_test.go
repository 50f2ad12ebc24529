package session

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// fakeSessions is a hand-written store.SessionStore over a map.
type fakeSessions struct {
	mu       sync.Mutex
	sessions map[string]store.Session
	err      error // returned by every call when set
	gets     int
	touches  int
	touchErr error // returned by TouchSession when set
}

var _ store.SessionStore = (*fakeSessions)(nil)

func newFakeSessions() *fakeSessions { return &fakeSessions{sessions: map[string]store.Session{}} }

func (f *fakeSessions) CreateSession(_ context.Context, s store.Session) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if _, ok := f.sessions[s.Hash]; ok {
		return store.ErrConflict
	}
	f.sessions[s.Hash] = s
	return nil
}

func (f *fakeSessions) GetSession(_ context.Context, hash string, now time.Time) (store.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if f.err != nil {
		return store.Session{}, f.err
	}
	s, ok := f.sessions[hash]
	if !ok || !now.Before(s.ExpiresAt) {
		return store.Session{}, store.ErrNotFound
	}
	return s, nil
}

func (f *fakeSessions) DeleteSession(_ context.Context, hash string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	delete(f.sessions, hash)
	return nil
}

func (f *fakeSessions) DeleteUserSessions(_ context.Context, userID string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for h, s := range f.sessions {
		if s.UserID == userID {
			delete(f.sessions, h)
			n++
		}
	}
	return n, f.err
}

func (f *fakeSessions) DeleteOtherSessions(_ context.Context, userID, keepHash string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for h, s := range f.sessions {
		if s.UserID == userID && h != keepHash {
			delete(f.sessions, h)
			n++
		}
	}
	return n, f.err
}

func (f *fakeSessions) TouchSession(_ context.Context, hash string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if f.touchErr != nil {
		return f.touchErr
	}
	s, ok := f.sessions[hash]
	if !ok {
		return store.ErrNotFound
	}
	s.LastSeenAt = now
	f.sessions[hash] = s
	f.touches++
	return nil
}

func (f *fakeSessions) AddSessionClient(_ context.Context, hash, clientID string, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[hash]
	if !ok {
		return store.ErrNotFound
	}
	if !slices.Contains(s.Clients, clientID) {
		s.Clients = append(s.Clients, clientID)
	}
	f.sessions[hash] = s
	return f.err
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func newManager(secure bool) (*Manager, *fakeSessions, *fakeClock) {
	st := newFakeSessions()
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	return &Manager{
		Store:  st,
		Key:    DeriveKey([]byte("system secret for tests"), "csrf"),
		Secure: secure,
		TTL:    8 * time.Hour,
		Now:    clk.Now,
	}, st, clk
}

// requestWith returns a request carrying the given cookies.
func requestWith(cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://as.example/authorize", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

// browserOf gives a request the browser cookie of id.
func browserOf(m *Manager, id string) *http.Request {
	return requestWith(&http.Cookie{Name: m.name(browserCookie), Value: id})
}

func setCookies(w *httptest.ResponseRecorder, name string) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// TestRFC6749_10_12_CSRFToken enforces SECURITY.md R14: the CSRF token is
// bound to the browser and to the form's purpose.
func TestRFC6749_10_12_CSRFToken(t *testing.T) {
	m, _, _ := newManager(true)
	a := string(secret.New(secret.PrefixBrowser))
	b := string(secret.New(secret.PrefixBrowser))
	tokA := m.CSRFToken(a, "consent")

	tamper := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	other, _, _ := newManager(true)
	other.Key = DeriveKey([]byte("another system secret"), "csrf")
	// During a rotation of the system secret, a node on the new secret
	// still accepts the forms rendered under the previous one, and only
	// those.
	rotating, _, _ := newManager(true)
	rotating.Key, rotating.PreviousKey = DeriveKey([]byte("the next system secret"), "csrf"), m.Key
	stranger, _, _ := newManager(true)
	stranger.Key = DeriveKey([]byte("yet another system secret"), "csrf")

	tests := []struct {
		name    string
		r       *http.Request
		purpose string
		token   string
		want    bool
	}{
		{"RFC6749_10.12/own_browser_own_purpose", browserOf(m, a), "consent", tokA, true},
		{"RFC6749_10.12/browser_A_token_in_browser_B", browserOf(m, b), "consent", tokA, false},
		{"RFC6749_10.12/other_purpose", browserOf(m, a), "login", tokA, false},
		{"RFC6749_10.12/purpose_prefix", browserOf(m, a), "consen", tokA, false},
		{"RFC6749_10.12/tampered_first_char", browserOf(m, a), "consent", tamper(tokA, 0), false},
		{"RFC6749_10.12/tampered_last_char", browserOf(m, a), "consent", tamper(tokA, len(tokA)-1), false},
		{"RFC6749_10.12/truncated", browserOf(m, a), "consent", tokA[:len(tokA)-1], false},
		{"RFC6749_10.12/extended", browserOf(m, a), "consent", tokA + "A", false},
		{"RFC6749_10.12/padded", browserOf(m, a), "consent", tokA + "=", false},
		{"RFC6749_10.12/empty_token", browserOf(m, a), "consent", "", false},
		{"RFC6749_10.12/browser_id_as_token", browserOf(m, a), "consent", a, false},
		{"RFC6749_10.12/token_made_with_another_key", browserOf(m, a), "consent", other.CSRFToken(a, "consent"), false},
		{"RFC6749_10.12/no_browser_cookie", requestWith(), "consent", tokA, false},
		{"RFC6749_10.12/malformed_browser_cookie", browserOf(m, a+"x"), "consent", m.CSRFToken(a+"x", "consent"), false},
		{"RFC6749_10.12/empty_browser_cookie_and_token_of_empty", browserOf(m, ""), "consent", m.CSRFToken("", "consent"), false},
		{"RFC6265bis_4.1.3.2/cookie_without_host_prefix_ignored", requestWith(&http.Cookie{Name: browserCookie, Value: a}), "consent", tokA, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := m.CheckCSRF(tc.r, tc.purpose, tc.token); got != tc.want {
				t.Errorf("CheckCSRF = %v, want %v", got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name    string
		r       *http.Request
		purpose string
		token   string
		want    bool
	}{
		{"rotation/token_of_the_previous_secret", browserOf(rotating, a), "consent", tokA, true},
		{"rotation/token_of_the_new_secret", browserOf(rotating, a), "consent", rotating.CSRFToken(a, "consent"), true},
		{"rotation/previous_secret_other_browser", browserOf(rotating, b), "consent", tokA, false},
		{"rotation/previous_secret_other_purpose", browserOf(rotating, a), "login", tokA, false},
		{"rotation/token_of_a_third_secret", browserOf(rotating, a), "consent", stranger.CSRFToken(a, "consent"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rotating.CheckCSRF(tc.r, tc.purpose, tc.token); got != tc.want {
				t.Errorf("CheckCSRF = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("RFC6749_10.12/deterministic_per_browser_and_purpose", func(t *testing.T) {
		if m.CSRFToken(a, "consent") != tokA {
			t.Error("CSRFToken is not stable")
		}
		if m.CSRFToken(b, "consent") == tokA || m.CSRFToken(a, "login") == tokA {
			t.Error("CSRFToken does not depend on browser and purpose")
		}
	})
	t.Run("RFC6749_10.12/each_forms_token_is_refused_by_every_other_form", func(t *testing.T) {
		// The purposes of internal/web's forms. The HTTP side of this is
		// internal/server TestRFC6749_10_12_EachFormRefusesAnotherFormsCSRFToken.
		purposes := []string{"login", "consent", "account", "logout"}
		for _, issued := range purposes {
			tok := m.CSRFToken(a, issued)
			for _, checked := range purposes {
				if got := m.CheckCSRF(browserOf(m, a), checked, tok); got != (issued == checked) {
					t.Errorf("the %s form's token checked as %s: %v, want %v", issued, checked, got, issued == checked)
				}
			}
		}
	})
	t.Run("RFC6819_5.1.4.2.2/token_is_256_bits", func(t *testing.T) {
		if len(tokA) != 43 {
			t.Errorf("token %q has %d characters, want 43 (32 bytes)", tokA, len(tokA))
		}
	})
	t.Run("RFC6749_10.12/purpose_and_browser_are_separated", func(t *testing.T) {
		// HMAC(purpose || 0 || browser): moving bytes between the two fields
		// must change the token.
		if m.CSRFToken("lk_br_x", "consent") == m.CSRFToken("x", "consentlk_br_") {
			t.Error("purpose and browser id run together")
		}
	})
}

// FuzzCSRFToken (SECURITY.md F10) holds CheckCSRF to an expectation
// computed here with crypto/hmac, not by the code under test: the token of
// (browser, purpose) is base64url, unpadded, of HMAC-SHA256(key, purpose ||
// 0x00 || browser). CheckCSRF accepts exactly that token, for exactly that
// browser and purpose, refuses every other token, purpose and browser, and
// never panics.
func FuzzCSRFToken(f *testing.F) {
	key := []byte("an independent key for FuzzCSRFToken")
	expected := func(browser, purpose string) string {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(purpose))
		mac.Write([]byte{0})
		mac.Write([]byte(browser))
		return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}
	m, _, _ := newManager(false)
	m.Key = key
	browser := "lk_br_" + strings.Repeat("A", 43)
	good := expected(browser, "consent")
	nextDoor := "lk_br_" + strings.Repeat("A", 42) + "B"
	f.Add(good, "consent", "login", nextDoor)
	f.Add(good[:42], "consent", "consen", "")
	f.Add(good+"A", "consent", "consent\x00", browser)
	f.Add("", "consent", "", browser+"A")
	f.Add(good, "login", "consent", "lk_br_")
	f.Add(expected(nextDoor, "consent"), "consent", "logout", nextDoor)
	// A purpose carrying the separator is another purpose.
	f.Add(good, "consent\x00", "consent", "x")
	f.Add(strings.ToLower(good), "consent", "Consent", strings.ToLower(browser))
	f.Fuzz(func(t *testing.T, token, purpose, otherPurpose, otherBrowser string) {
		want := expected(browser, purpose)
		if got := m.CSRFToken(browser, purpose); got != want {
			t.Fatalf("CSRFToken(%q) = %q, want HMAC-SHA256(key, purpose || 0 || browser) = %q", purpose, got, want)
		}
		r := browserOf(m, browser)
		if got := m.CheckCSRF(r, purpose, token); got != (token == want) {
			t.Fatalf("CheckCSRF(%q, %q) = %v, want %v", purpose, token, got, token == want)
		}
		// The fuzzer rarely guesses an HMAC, so also offer the right one.
		if !m.CheckCSRF(r, purpose, want) {
			t.Fatalf("CheckCSRF(%q) refused the right token %q", purpose, want)
		}
		if otherPurpose != purpose && m.CheckCSRF(r, otherPurpose, want) {
			t.Fatalf("the token for purpose %q passed for purpose %q", purpose, otherPurpose)
		}
		// Another browser: otherBrowser itself when it is a well-formed
		// browser id, else one derived from it.
		other := otherBrowser
		if !wellFormedBrowser(other) {
			sum := sha256.Sum256([]byte(otherBrowser))
			other = "lk_br_" + base64.RawURLEncoding.EncodeToString(sum[:])
		}
		if other == browser {
			return
		}
		ro := browserOf(m, other)
		if m.CheckCSRF(ro, purpose, want) {
			t.Fatalf("browser %q's token for %q passed in browser %q", browser, purpose, other)
		}
		if !m.CheckCSRF(ro, purpose, expected(other, purpose)) {
			t.Fatalf("browser %q's own token for %q was refused", other, purpose)
		}
		if got := m.CheckCSRF(ro, purpose, token); got != (token == expected(other, purpose)) {
			t.Fatalf("in browser %q CheckCSRF(%q, %q) = %v", other, purpose, token, got)
		}
	})
}

// wellFormedBrowser is the browser id's form, written independently of
// secret.HasPrefix: "lk_br_" and 43 base64url characters.
func wellFormedBrowser(id string) bool {
	rest, ok := strings.CutPrefix(id, "lk_br_")
	if !ok || len(rest) != 43 {
		return false
	}
	for _, c := range []byte(rest) {
		if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", rune(c)) {
			return false
		}
	}
	return true
}

// TestDeriveKey: one system secret keys several mechanisms without reuse.
func TestDeriveKey(t *testing.T) {
	sys := []byte("system secret")
	csrf := DeriveKey(sys, "csrf")
	tests := []struct {
		name string
		key  []byte
		same bool
	}{
		{"same_purpose_is_deterministic", DeriveKey(sys, "csrf"), true},
		{"other_purpose", DeriveKey(sys, "cookies"), false},
		{"purpose_case", DeriveKey(sys, "CSRF"), false},
		{"purpose_prefix", DeriveKey(sys, "csr"), false},
		{"empty_purpose", DeriveKey(sys, ""), false},
		{"other_secret", DeriveKey([]byte("system secreT"), "csrf"), false},
		{"empty_secret", DeriveKey(nil, "csrf"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := bytes.Equal(tc.key, csrf); got != tc.same {
				t.Errorf("key equal to DeriveKey(sys, csrf) = %v, want %v", got, tc.same)
			}
			if len(tc.key) != 32 {
				t.Errorf("key has %d bytes, want 32", len(tc.key))
			}
		})
	}
	t.Run("key_is_not_the_secret", func(t *testing.T) {
		if bytes.Contains(csrf, sys) {
			t.Error("derived key contains the system secret")
		}
	})
}

// TestRFC6749_10_12_BrowserCookie enforces SECURITY.md R14/R15 on the
// browser-binding cookie: HttpOnly, SameSite=Lax, Secure and __Host- when
// the issuer is https.
func TestRFC6749_10_12_BrowserCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		m, _, _ := newManager(secure)
		name := "lk_browser"
		if secure {
			name = "__Host-lk_browser"
		}
		mode := map[bool]string{false: "http", true: "https"}[secure]

		t.Run(mode+"/RFC6265bis_new_cookie_attributes", func(t *testing.T) {
			w := httptest.NewRecorder()
			r := requestWith()
			id := m.Browser(w, r)
			if !secret.HasPrefix(id, secret.PrefixBrowser) {
				t.Fatalf("Browser() = %q, want a %s token", id, secret.PrefixBrowser)
			}
			cs := setCookies(w, name)
			if len(cs) != 1 {
				t.Fatalf("Set-Cookie %q: %d cookies, want 1 (%v)", name, len(cs), w.Header()["Set-Cookie"])
			}
			c := cs[0]
			if c.Value != id {
				t.Errorf("cookie value %q, want %q", c.Value, id)
			}
			if !c.HttpOnly {
				t.Error("cookie is not HttpOnly")
			}
			if c.SameSite != http.SameSiteLaxMode {
				t.Errorf("SameSite = %v, want Lax", c.SameSite)
			}
			if c.Secure != secure {
				t.Errorf("Secure = %v, want %v", c.Secure, secure)
			}
			if c.Path != "/" || c.Domain != "" {
				t.Errorf("Path %q, Domain %q; want \"/\" and none (required by __Host-)", c.Path, c.Domain)
			}
			if c.MaxAge <= 0 {
				t.Errorf("MaxAge = %d, want a persistent cookie", c.MaxAge)
			}
			if got, ok := m.ExistingBrowser(r); !ok || got != id {
				t.Errorf("ExistingBrowser after Browser = %q, %v; want %q", got, ok, id)
			}
			if again := m.Browser(w, r); again != id {
				t.Errorf("second Browser() in the same request = %q, want %q", again, id)
			}
			if n := len(setCookies(w, name)); n != 1 {
				t.Errorf("the same request set the browser cookie %d times", n)
			}
		})

		t.Run(mode+"/reuses_valid_cookie", func(t *testing.T) {
			id := string(secret.New(secret.PrefixBrowser))
			w := httptest.NewRecorder()
			r := browserOf(m, id)
			if got := m.Browser(w, r); got != id {
				t.Errorf("Browser() = %q, want the existing %q", got, id)
			}
			if len(w.Result().Cookies()) != 0 {
				t.Errorf("a valid cookie was replaced: %v", w.Header()["Set-Cookie"])
			}
		})

		for _, bad := range []string{"", "junk", secret.PrefixBrowser, secret.PrefixSession + strings.Repeat("A", 43), secret.PrefixBrowser + strings.Repeat("A", 42)} {
			t.Run(mode+"/replaces_malformed_cookie/"+bad, func(t *testing.T) {
				w := httptest.NewRecorder()
				r := browserOf(m, bad)
				id := m.Browser(w, r)
				if id == bad || !secret.HasPrefix(id, secret.PrefixBrowser) {
					t.Fatalf("Browser() = %q for malformed cookie %q", id, bad)
				}
				cs := setCookies(w, name)
				if len(cs) != 1 || cs[0].Value != id {
					t.Fatalf("Set-Cookie = %v, want one %s=%s", w.Header()["Set-Cookie"], name, id)
				}
				// The new id must be what later reads in this request see:
				// the pending authorization request and the CSRF token of
				// the page rendered now are bound to it.
				if got, ok := m.ExistingBrowser(r); !ok || got != id {
					t.Errorf("ExistingBrowser after replacing = %q, %v; want %q", got, ok, id)
				}
				if again := m.Browser(w, r); again != id {
					t.Errorf("second Browser() = %q, want %q", again, id)
				}
				if !m.CheckCSRF(r, "consent", m.CSRFToken(id, "consent")) {
					t.Error("CSRF token for the new id fails in the same request")
				}
			})
		}
	}
	t.Run("replacing_keeps_other_cookies", func(t *testing.T) {
		m, _, _ := newManager(true)
		sess := string(secret.New(secret.PrefixSession))
		r := requestWith(
			&http.Cookie{Name: "other", Value: `"quoted value"`, Quoted: true},
			&http.Cookie{Name: m.name(browserCookie), Value: "junk"},
			&http.Cookie{Name: m.name(sessionCookie), Value: sess},
		)
		id := m.Browser(httptest.NewRecorder(), r)
		if got, ok := m.ExistingBrowser(r); !ok || got != id {
			t.Errorf("ExistingBrowser = %q, %v; want %q", got, ok, id)
		}
		if c, err := r.Cookie(m.name(sessionCookie)); err != nil || c.Value != sess {
			t.Errorf("session cookie after replacing the browser cookie = %v, %v", c, err)
		}
		if c, err := r.Cookie("other"); err != nil || c.Value != "quoted value" {
			t.Errorf("other cookie after replacing the browser cookie = %v, %v", c, err)
		}
	})
	t.Run("https/ignores_cookie_without_host_prefix", func(t *testing.T) {
		m, _, _ := newManager(true)
		id := string(secret.New(secret.PrefixBrowser))
		r := requestWith(&http.Cookie{Name: "lk_browser", Value: id})
		if _, ok := m.ExistingBrowser(r); ok {
			t.Error("a cookie without __Host- was trusted on an https issuer")
		}
		if got := m.Browser(httptest.NewRecorder(), r); got == id {
			t.Error("Browser() reused a cookie without __Host-")
		}
	})
}

// TestSession covers sign-in, the current session and sign-out with a fake
// store and clock.
func TestSession(t *testing.T) {
	ctx := context.Background()

	t.Run("RFC6819_4.4.1.6/sign_in_sets_cookie_and_current_finds_it", func(t *testing.T) {
		for _, secure := range []bool{false, true} {
			m, st, clk := newManager(secure)
			w := httptest.NewRecorder()
			s, err := m.SignIn(ctx, w, "user1")
			if err != nil {
				t.Fatal(err)
			}
			if s.UserID != "user1" || !s.AuthTime.Equal(clk.t) || !s.ExpiresAt.Equal(clk.t.Add(m.TTL)) {
				t.Errorf("session = %+v", s)
			}
			cs := setCookies(w, m.name(sessionCookie))
			if len(cs) != 1 {
				t.Fatalf("Set-Cookie = %v", w.Header()["Set-Cookie"])
			}
			c := cs[0]
			if !secret.HasPrefix(c.Value, secret.PrefixSession) || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != secure || c.Path != "/" {
				t.Errorf("session cookie = %+v", c)
			}
			if c.MaxAge != int(m.TTL/time.Second) {
				t.Errorf("MaxAge = %d, want %d", c.MaxAge, int(m.TTL/time.Second))
			}
			if secure && !strings.HasPrefix(c.Name, "__Host-") {
				t.Errorf("cookie name %q lacks __Host-", c.Name)
			}
			// RFC 6819 §5.1.4.1.3: only the hash is stored.
			for h := range st.sessions {
				if h == c.Value || h != secret.Hash(c.Value) {
					t.Errorf("stored key %q is not the hash of the cookie", h)
				}
			}
			got, err := m.Current(ctx, requestWith(&http.Cookie{Name: c.Name, Value: c.Value}))
			if err != nil || got.UserID != "user1" {
				t.Errorf("Current = %+v, %v", got, err)
			}
		}
	})

	t.Run("RFC6819_4.4.1.6/new_session_id_at_every_sign_in", func(t *testing.T) {
		m, _, _ := newManager(false)
		w1, w2 := httptest.NewRecorder(), httptest.NewRecorder()
		s1, _ := m.SignIn(ctx, w1, "user1")
		s2, _ := m.SignIn(ctx, w2, "user1")
		if s1.Hash == s2.Hash || w1.Result().Cookies()[0].Value == w2.Result().Cookies()[0].Value {
			t.Error("two sign-ins share a session id (fixation)")
		}
	})

	t.Run("expired_session_is_no_session", func(t *testing.T) {
		m, _, clk := newManager(false)
		w := httptest.NewRecorder()
		if _, err := m.SignIn(ctx, w, "user1"); err != nil {
			t.Fatal(err)
		}
		c := w.Result().Cookies()[0]
		clk.t = clk.t.Add(m.TTL)
		if _, err := m.Current(ctx, requestWith(c)); !errors.Is(err, ErrNoSession) {
			t.Errorf("Current after TTL = %v, want ErrNoSession", err)
		}
	})

	t.Run("malformed_cookie_is_no_session_without_lookup", func(t *testing.T) {
		m, st, _ := newManager(false)
		for _, v := range []string{"", "junk", secret.PrefixSession, secret.PrefixBrowser + strings.Repeat("A", 43)} {
			_, err := m.Current(ctx, requestWith(&http.Cookie{Name: "lk_session", Value: v}))
			if !errors.Is(err, ErrNoSession) {
				t.Errorf("Current(%q) = %v, want ErrNoSession", v, err)
			}
		}
		if _, err := m.Current(ctx, requestWith()); !errors.Is(err, ErrNoSession) {
			t.Errorf("Current without cookie = %v, want ErrNoSession", err)
		}
		if st.gets != 0 {
			t.Errorf("malformed cookies reached the store %d times", st.gets)
		}
	})

	t.Run("unknown_session_is_no_session", func(t *testing.T) {
		m, _, _ := newManager(false)
		c := &http.Cookie{Name: "lk_session", Value: string(secret.New(secret.PrefixSession))}
		if _, err := m.Current(ctx, requestWith(c)); !errors.Is(err, ErrNoSession) {
			t.Errorf("Current = %v, want ErrNoSession", err)
		}
	})

	t.Run("store_errors_are_not_no_session", func(t *testing.T) {
		m, st, _ := newManager(false)
		boom := errors.New("database is down")
		st.err = boom
		c := &http.Cookie{Name: "lk_session", Value: string(secret.New(secret.PrefixSession))}
		if _, err := m.Current(ctx, requestWith(c)); !errors.Is(err, boom) {
			t.Errorf("Current = %v, want the store error", err)
		}
		w := httptest.NewRecorder()
		if _, err := m.SignIn(ctx, w, "user1"); !errors.Is(err, boom) {
			t.Errorf("SignIn = %v, want the store error", err)
		}
		if len(w.Result().Cookies()) != 0 {
			t.Error("SignIn set a cookie for a session that was not stored")
		}
	})

	t.Run("sign_out_deletes_and_clears", func(t *testing.T) {
		m, st, _ := newManager(true)
		w := httptest.NewRecorder()
		if _, err := m.SignIn(ctx, w, "user1"); err != nil {
			t.Fatal(err)
		}
		c := w.Result().Cookies()[0]
		r := requestWith(&http.Cookie{Name: c.Name, Value: c.Value})
		w2 := httptest.NewRecorder()
		ended, err := m.SignOut(ctx, w2, r)
		if err != nil || ended.UserID != "user1" || ended.ID == "" {
			t.Fatalf("SignOut = %+v, %v", ended, err)
		}
		if len(st.sessions) != 0 {
			t.Error("session still stored after sign-out")
		}
		cs := setCookies(w2, c.Name)
		if len(cs) != 1 || cs[0].MaxAge >= 0 || cs[0].Value != "" {
			t.Errorf("sign-out cookie = %v, want an expired empty cookie", w2.Header()["Set-Cookie"])
		}
		if _, err := m.Current(ctx, r); !errors.Is(err, ErrNoSession) {
			t.Errorf("Current after sign-out = %v", err)
		}
		if _, err := m.SignOut(ctx, httptest.NewRecorder(), requestWith()); !errors.Is(err, ErrNoSession) {
			t.Errorf("SignOut without a cookie = %v, want ErrNoSession", err)
		}
	})

	t.Run("sessions_get_a_distinct_public_sid", func(t *testing.T) {
		m, _, _ := newManager(true)
		a, _ := m.SignIn(ctx, httptest.NewRecorder(), "user1")
		b, _ := m.SignIn(ctx, httptest.NewRecorder(), "user1")
		if a.ID == "" || a.ID == b.ID || a.ID == a.Hash {
			t.Fatalf("sids %q and %q", a.ID, b.ID)
		}
	})

	t.Run("idle_timeout_ends_the_session_and_activity_extends_it", func(t *testing.T) {
		m, st, clk := newManager(true)
		m.IdleTTL = 30 * time.Minute
		w := httptest.NewRecorder()
		if _, err := m.SignIn(ctx, w, "user1"); err != nil {
			t.Fatal(err)
		}
		c := w.Result().Cookies()[0]
		r := requestWith(&http.Cookie{Name: c.Name, Value: c.Value})
		clk.t = clk.t.Add(20 * time.Second)
		if _, err := m.Current(ctx, r); err != nil || st.touches != 0 {
			t.Fatalf("Current = %v, touches %d: a fresh session is not rewritten", err, st.touches)
		}
		clk.t = clk.t.Add(25 * time.Minute)
		if _, err := m.Current(ctx, r); err != nil || st.touches != 1 {
			t.Fatalf("Current = %v, touches %d", err, st.touches)
		}
		clk.t = clk.t.Add(29 * time.Minute) // 54 minutes after sign-in, 29 after last use
		if _, err := m.Current(ctx, r); err != nil {
			t.Fatalf("activity did not extend the session: %v", err)
		}
		clk.t = clk.t.Add(31 * time.Minute)
		if _, err := m.Current(ctx, r); !errors.Is(err, ErrNoSession) {
			t.Fatalf("Current after 31 idle minutes = %v, want ErrNoSession", err)
		}
	})
}

func TestSessionTimeouts(t *testing.T) {
	ctx := context.Background()
	signIn := func(t *testing.T, m *Manager) *http.Request {
		w := httptest.NewRecorder()
		if _, err := m.SignIn(ctx, w, "user1"); err != nil {
			t.Fatal(err)
		}
		c := w.Result().Cookies()[0]
		return requestWith(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	t.Run("idle_timeout_ends_the_session_at_exactly_IdleTTL", func(t *testing.T) {
		m, _, clk := newManager(true)
		m.IdleTTL = 30 * time.Second // below touchEvery: no touch moves LastSeenAt
		r := signIn(t, m)
		start := clk.t
		clk.t = start.Add(m.IdleTTL - time.Nanosecond)
		if _, err := m.Current(ctx, r); err != nil {
			t.Fatalf("one nanosecond before the idle timeout: %v", err)
		}
		clk.t = start.Add(m.IdleTTL)
		if _, err := m.Current(ctx, r); !errors.Is(err, ErrNoSession) {
			t.Fatalf("at the idle timeout: %v, want ErrNoSession", err)
		}
	})
	t.Run("no_idle_limit_when_IdleTTL_is_zero", func(t *testing.T) {
		m, _, clk := newManager(true)
		r := signIn(t, m)
		clk.t = clk.t.Add(m.TTL - time.Second)
		if _, err := m.Current(ctx, r); err != nil {
			t.Fatalf("IdleTTL 0 ended the session: %v", err)
		}
	})
	t.Run("last_seen_is_written_once_a_minute_at_most", func(t *testing.T) {
		m, st, clk := newManager(true)
		m.IdleTTL = time.Hour
		r := signIn(t, m)
		start := clk.t
		clk.t = start.Add(touchEvery - time.Nanosecond)
		s, err := m.Current(ctx, r)
		if err != nil || st.touches != 0 || !s.LastSeenAt.Equal(start) {
			t.Fatalf("before a minute: err %v, touches %d, last seen %v", err, st.touches, s.LastSeenAt)
		}
		clk.t = start.Add(touchEvery)
		s, err = m.Current(ctx, r)
		if err != nil || st.touches != 1 || !s.LastSeenAt.Equal(clk.t) {
			t.Fatalf("after a minute: err %v, touches %d, last seen %v", err, st.touches, s.LastSeenAt)
		}
	})
	t.Run("a_failed_touch_is_an_error_but_a_vanished_session_is_not", func(t *testing.T) {
		m, st, clk := newManager(true)
		r := signIn(t, m)
		clk.t = clk.t.Add(2 * touchEvery)
		boom := errors.New("database down")
		st.touchErr = boom
		if _, err := m.Current(ctx, r); !errors.Is(err, boom) {
			t.Fatalf("touch failure: Current = %v, want it reported", err)
		}
		st.touchErr = store.ErrNotFound
		if s, err := m.Current(ctx, r); err != nil || s.UserID != "user1" {
			t.Fatalf("session deleted during the touch: Current = %+v, %v", s, err)
		}
	})
	t.Run("cookie_lifetimes", func(t *testing.T) {
		m, _, _ := newManager(false)
		w := httptest.NewRecorder()
		m.Browser(w, requestWith())
		if c := setCookies(w, browserCookie); len(c) != 1 || c[0].MaxAge != 400*24*3600 {
			t.Fatalf("browser cookie %v: want 400 days, the most browsers keep", w.Header()["Set-Cookie"])
		}
		w = httptest.NewRecorder()
		if _, err := m.SignIn(ctx, w, "user1"); err != nil {
			t.Fatal(err)
		}
		if c := setCookies(w, sessionCookie); len(c) != 1 || c[0].MaxAge != int(m.TTL/time.Second) {
			t.Fatalf("session cookie %v: want the session's lifetime", w.Header()["Set-Cookie"])
		}
	})
}

func TestOIDCSession_ReauthenticationKeepsSidAndClients(t *testing.T) {
	ctx := context.Background()
	m, st, clk := newManager(false)
	w := httptest.NewRecorder()
	prev, err := m.SignIn(ctx, w, "user1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"app-a", "app-b"} {
		if err := st.AddSessionClient(ctx, prev.Hash, c, clk.t); err != nil {
			t.Fatal(err)
		}
	}
	prev, _ = st.GetSession(ctx, prev.Hash, clk.t)
	clk.t = clk.t.Add(time.Hour)
	w = httptest.NewRecorder()
	s, err := m.Reauthenticate(ctx, w, prev)
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != prev.ID || s.Hash == prev.Hash || !s.AuthTime.Equal(clk.t) || !slices.Equal(s.Clients, []string{"app-a", "app-b"}) {
		t.Fatalf("reauthenticated %+v from %+v", s, prev)
	}
	if _, err := st.GetSession(ctx, prev.Hash, clk.t); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the old cookie's session survives: %v", err)
	}
	stored, err := st.GetSession(ctx, s.Hash, clk.t)
	if err != nil || stored.ID != prev.ID || !slices.Equal(stored.Clients, s.Clients) || !stored.ExpiresAt.Equal(clk.t.Add(m.TTL)) {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	if c := setCookies(w, sessionCookie); len(c) != 1 || c[0].MaxAge != int(m.TTL/time.Second) {
		t.Fatalf("cookie %v", w.Header()["Set-Cookie"])
	}
}
