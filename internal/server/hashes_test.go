package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// TestRFC6819_5_1_4_1_3_OnlyHashesAreStored runs every flow that issues a
// secret, on each backend, and then searches the whole database for each
// secret in plain text (and hex-encoded, as a bytea or BLOB would show it):
// none may be there (SECURITY.md T2). On SQLite the search reads every byte
// of the database file and its WAL, free pages included; on PostgreSQL,
// every row of every table in its text form.
//
// The secrets: authorization codes and PKCE verifiers; opaque access tokens
// (client credentials, and a code-flow client that chose them); refresh
// tokens, rotated ones included; JWT access tokens and ID tokens, which are
// never stored at all; generated and imported client secrets; the user's
// password and a wrong one tried at sign-in; the session and
// browser-binding cookies (lk_session, lk_browser); every form's CSRF token.
func TestRFC6819_5_1_4_1_3_OnlyHashesAreStored(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			dsn := dbtest.DSN(t, backend)
			st, err := sqlstore.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			e := newEnvOn(t, backend, st)
			secrets := issueEverySecret(t, e)
			dump := dumpDatabase(t, backend, dsn)
			for _, s := range secrets {
				switch {
				case s.plain == "":
					t.Errorf("the flows issued no %s to look for", s.name)
				case strings.Contains(dump, s.plain):
					t.Errorf("the %s is stored in plain text", s.name)
				case strings.Contains(dump, hex.EncodeToString([]byte(s.plain))):
					t.Errorf("the %s is stored hex-encoded", s.name)
				case s.hashed && !strings.Contains(dump, sha256Hex(s.plain)):
					// The control: the dump must reach the rows it searches.
					t.Errorf("the %s's SHA-256 is not in the dump either: the dump misses its row", s.name)
				}
			}
		})
	}
}

// sha256Hex is the hex SHA-256 of s, computed here rather than by
// secret.Hash, the code under test.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// namedSecret is one secret the flows handed out, and what it is. hashed
// marks a secret whose SHA-256 the store keeps as its lookup key.
type namedSecret struct {
	name, plain string
	hashed      bool
}

// issueEverySecret drives each flow that hands out a secret and returns
// them all, checking on the way that each is of the kind the test means to
// look for (an opaque token is opaque, an ID token was issued).
func issueEverySecret(t *testing.T, e *env) []namedSecret {
	t.Helper()
	ctx := context.Background()
	var out []namedSecret
	add := func(name, plain string) { out = append(out, namedSecret{name: name, plain: plain}) }
	addHashed := func(name, plain string) { out = append(out, namedSecret{name: name, plain: plain, hashed: true}) }

	// A code-flow client with opaque access tokens, and a client whose
	// secret was imported (stored with argon2id, not SHA-256).
	opaqueWeb := testClient{id: "print-opaque", redirect: "https://print-opaque.example/cb"}
	sec, hash := oauth.NewClientSecret()
	opaqueWeb.secret = sec.String()
	e.mustCreateClient(store.Client{
		ID: opaqueWeb.id, SecretHash: hash, Name: "Print (opaque tokens)", RedirectURIs: []string{opaqueWeb.redirect},
		GrantTypes:        []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		Scopes:            []string{"openid", "notes.read", "offline_access"},
		AccessTokenFormat: oauth.FormatOpaque,
	})
	imported := testClient{id: "legacy-sync", secret: "imported-secret-from-the-old-server-0123456789"}
	e.mustCreateClient(store.Client{
		ID: imported.id, SecretHash: secret.HashImportedSecret(imported.secret), Name: "Legacy sync",
		GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{"notes.read"},
		AccessTokenFormat: oauth.FormatOpaque,
	})
	for _, c := range []testClient{e.web, opaqueWeb, e.svc, e.opaque, e.app, e.api} {
		addHashed("client secret of "+c.id, c.secret)
	}
	add("imported client secret of "+imported.id, imported.secret)
	add("password", testPassword)

	// One browser for every page, recording each cookie and CSRF token the
	// server hands it. A wrong password first.
	rec := &pageRecorder{}
	b := e.browser()
	b.Transport = rec
	const wrongPassword = "wrong horse battery staple 9f3c"
	csrf, req := e.startLogin(b)
	if resp, _ := e.login(b, csrf, req, testUser, wrongPassword); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("sign-in with a wrong password: status %d, want 401", resp.StatusCode)
	}
	add("wrong password tried at sign-in", wrongPassword)

	// Code flows with PKCE and OpenID: JWT access tokens for e.web, opaque
	// ones for opaqueWeb (whose consent reuses the session: single sign-on).
	for _, c := range []testClient{e.web, opaqueWeb} {
		conf := e.oauth2Config(c, "openid", "notes.read", "offline_access")
		verifier := oauth2.GenerateVerifier()
		loc := e.authorize(b, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
		code := loc.Query().Get("code")
		tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("%s: exchange: %v", c.id, err)
		}
		idToken, _ := tok.Extra("id_token").(string)
		rotated, err := refresh(ctx, conf, tok.RefreshToken)
		if err != nil {
			t.Fatalf("%s: refresh: %v", c.id, err)
		}
		kind := "JWT"
		if c.id == opaqueWeb.id {
			kind = "opaque"
			for _, at := range []string{tok.AccessToken, rotated.AccessToken} {
				if !secret.HasPrefix(at, secret.PrefixAccessToken) {
					t.Fatalf("%s: access token %q is not opaque", c.id, at)
				}
			}
		}
		addAT := add
		if kind == "opaque" {
			addAT = addHashed
		}
		addHashed("authorization code of "+c.id, code)
		add("code_verifier of "+c.id, verifier)
		addAT(kind+" access token of "+c.id, tok.AccessToken)
		addHashed("refresh token of "+c.id, tok.RefreshToken)
		add("ID token of "+c.id, idToken)
		addAT("rotated "+kind+" access token of "+c.id, rotated.AccessToken)
		addHashed("rotated refresh token of "+c.id, rotated.RefreshToken)
	}

	// The implicit grant, in the same browser.
	q := url.Values{"response_type": {"token"}, "client_id": {e.spa.id}, "redirect_uri": {e.spa.redirect}, "scope": {"photos.read"}, "state": {"st"}}
	frag, err := url.ParseQuery(e.authorize(b, e.issuer+"/authorize?"+q.Encode()).Fragment)
	if err != nil {
		t.Fatal(err)
	}
	add("implicit-grant access token", frag.Get("access_token"))

	// The account page's forms carry CSRF tokens of their own.
	resp, err := b.Get(e.issuer + "/account")
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)

	// Client credentials: opaque (backup-job, the imported secret) and JWT.
	for _, c := range []testClient{e.opaque, imported, e.svc} {
		tok, err := e.ccConfig(c, "notes.read").Token(ctx)
		if err != nil {
			t.Fatalf("%s: client credentials: %v", c.id, err)
		}
		if c.id == e.svc.id {
			add("JWT client-credentials access token of "+c.id, tok.AccessToken)
			continue
		}
		if !secret.HasPrefix(tok.AccessToken, secret.PrefixAccessToken) {
			t.Fatalf("%s: access token %q is not opaque", c.id, tok.AccessToken)
		}
		addHashed("opaque client-credentials access token of "+c.id, tok.AccessToken)
	}

	// The password grant, and a refresh.
	conf := e.oauth2Config(e.app, "notes.read", "offline_access")
	tok, err := conf.PasswordCredentialsToken(ctx, testUser, testPassword)
	if err != nil {
		t.Fatalf("password grant: %v", err)
	}
	rotated, err := refresh(ctx, conf, tok.RefreshToken)
	if err != nil {
		t.Fatalf("password grant: refresh: %v", err)
	}
	add("password-grant access token", tok.AccessToken)
	addHashed("password-grant refresh token", tok.RefreshToken)
	add("password-grant rotated access token", rotated.AccessToken)
	addHashed("password-grant rotated refresh token", rotated.RefreshToken)

	// The device flow (RFC 8628): the device code, the user code (typed
	// with and without its dash), the tokens; approved in the same browser.
	tv := testClient{id: "tv-hashes"}
	e.mustCreateClient(store.Client{ID: tv.id, Name: "TV", Public: true,
		GrantTypes: []string{oauth.GrantDeviceCode, oauth.GrantRefreshToken}, Scopes: []string{"notes.read", "offline_access"}})
	da := e.postTo("/device_authorization", url.Values{"client_id": {tv.id}, "scope": {"notes.read offline_access"}}, nil)
	deviceCode, userCode := da.str("device_code"), da.str("user_code")
	resp, err = b.Get(e.issuer + "/device")
	if err != nil {
		t.Fatal(err)
	}
	m := csrfRe.FindStringSubmatch(readBody(t, resp))
	if m == nil {
		t.Fatal("no CSRF token on the device page")
	}
	for _, decision := range []string{"", "allow"} {
		form := url.Values{"csrf_token": {m[1]}, "user_code": {userCode}, "decision": {decision}, "lifetime": {"forever"}, "scope": {"notes.read", "offline_access"}}
		if decision == "" {
			form.Del("decision")
		}
		resp, err = b.PostForm(e.issuer+"/device", form)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
	}
	dt := e.postTo("/token", url.Values{"client_id": {tv.id}, "grant_type": {oauth.GrantDeviceCode}, "device_code": {deviceCode}}, nil)
	if dt.status != http.StatusOK {
		t.Fatalf("device flow: %d %v", dt.status, dt.body)
	}
	addHashed("device code", deviceCode)
	add("user code", userCode)
	add("user code without its dash", strings.ReplaceAll(userCode, "-", ""))
	add("device-flow JWT access token", dt.str("access_token"))
	addHashed("device-flow refresh token", dt.str("refresh_token"))

	cookies, csrfs := rec.seen()
	for _, name := range []string{"lk_session", "lk_browser"} {
		if len(cookies[name]) == 0 {
			t.Fatalf("the browser never received a %s cookie", name)
		}
		for i, v := range cookies[name] {
			addCookie := add
			if name == "lk_session" {
				addCookie = addHashed
			}
			addCookie(fmt.Sprintf("%s cookie #%d", name, i+1), v)
		}
	}
	if len(csrfs) < 5 { // login, two consents, account, device
		t.Fatalf("recorded %d CSRF tokens, want at least 5 (login, consents, account, device)", len(csrfs))
	}
	for i, v := range csrfs {
		add(fmt.Sprintf("CSRF token #%d", i+1), v)
	}
	return out
}

// pageRecorder is a RoundTripper that keeps every cookie value the server
// sets and every csrf_token its pages carry.
type pageRecorder struct {
	mu      sync.Mutex
	cookies map[string][]string
	csrf    []string
}

func (p *pageRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cookies == nil {
		p.cookies = map[string][]string{}
	}
	for _, c := range resp.Cookies() {
		if c.Value != "" {
			p.cookies[c.Name] = append(p.cookies[c.Name], c.Value)
		}
	}
	for _, m := range hiddenRe.FindAllStringSubmatch(string(body), -1) {
		if m[1] == "csrf_token" && m[2] != "" {
			p.csrf = append(p.csrf, m[2])
		}
	}
	return resp, nil
}

func (p *pageRecorder) seen() (map[string][]string, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cookies, p.csrf
}

// dumpDatabase returns everything the database at dsn holds. SQLite: the
// bytes of the database file and its companions (-wal, -shm, -journal).
// PostgreSQL: each row of each table of the schema, as text.
func dumpDatabase(t *testing.T, backend, dsn string) string {
	t.Helper()
	var dump strings.Builder
	switch backend {
	case "sqlite":
		path := strings.TrimPrefix(dsn, "sqlite:")
		files, err := filepath.Glob(path + "*")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			dump.Write(b)
		}
	case "postgres":
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		ctx := context.Background()
		rows, err := db.QueryContext(ctx, `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			tables = append(tables, name)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		for _, want := range []string{"codes", "tokens", "sessions", "clients", "users"} {
			if !strings.Contains(" "+strings.Join(tables, " ")+" ", " "+want+" ") {
				t.Fatalf("no table %s among %v: the dump would miss it", want, tables)
			}
		}
		for _, table := range tables {
			quoted := `"` + strings.ReplaceAll(table, `"`, `""`) + `"`
			rows, err := db.QueryContext(ctx, "SELECT r::text FROM "+quoted+" r")
			if err != nil {
				t.Fatalf("dump %s: %v", table, err)
			}
			for rows.Next() {
				var row string
				if err := rows.Scan(&row); err != nil {
					t.Fatal(err)
				}
				dump.WriteString(row)
				dump.WriteByte('\n')
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			rows.Close()
		}
	default:
		t.Fatalf("unknown backend %q", backend)
	}
	if dump.Len() == 0 {
		t.Fatal("found nothing in the database to inspect")
	}
	return dump.String()
}
