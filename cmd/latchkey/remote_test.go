package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// adminServer starts Latchkey on a fresh SQLite database with a user
// alice and an admin client, and returns its URL, an admin token and the
// database.
func adminServer(t *testing.T) (string, string, *sqlstore.DB) {
	t.Helper()
	base, tok, db, _ := adminServerDB(t)
	return base, tok, db
}

// adminServerDB is adminServer that also returns the --database flag of
// its database, for the command line to work on it directly.
func adminServerDB(t *testing.T) (string, string, *sqlstore.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	db, err := sqlstore.Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	cfg := config.Default()
	cfg.SystemSecret = strings.Repeat("k", 32)
	cfg.Issuer = "http://" + srv.Listener.Addr().String()
	s, err := server.New(server.Options{Config: cfg, Store: db})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = s.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	now := time.Now()
	sec, hash := oauth.NewClientSecret()
	if err := db.CreateClient(t.Context(), store.Client{ID: "ops", SecretHash: hash, Name: "Operations", GrantTypes: []string{oauth.GrantClientCredentials},
		Scopes: []string{oauth.ScopeAdmin}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateUser(t.Context(), store.User{ID: "u1", Username: "alice", PasswordHash: secret.HashPassword("a long password"), CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {oauth.ScopeAdmin}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("ops", sec.String())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("admin token: %d %v", resp.StatusCode, err)
	}
	return srv.URL, tok.AccessToken, db, "--database=sqlite:" + path
}

// TestClientsThroughTheAdminAPI: with --server, clients create, list,
// get, rotate-secret and delete work through the admin API with a token
// from --token or LATCHKEY_ADMIN_TOKEN, print what they print on the
// database, and show the API's problems as a list.
func TestClientsThroughTheAdminAPI(t *testing.T) {
	base, tok, db := adminServer(t)
	remote := []string{"--server", base, "--token", tok}
	var created clientView
	mustRunJSON(t, &created, append([]string{"clients", "create", "--name", "Reports", "--id", "reports",
		"--grant-type", "client_credentials", "--scope", "notes.read"}, remote...)...)
	if created.ClientID != "reports" || !secret.HasPrefix(created.ClientSecret, secret.PrefixClientSecret) || created.Name != "Reports" {
		t.Fatalf("created %+v", created)
	}
	if _, err := db.GetClient(t.Context(), "reports"); err != nil {
		t.Fatalf("the server did not store the client: %v", err)
	}
	env := cli{env: map[string]string{adminTokenEnv: tok}}
	r := env.run(t.Context(), "", "clients", "list", "--server", base, "--output", "json")
	var list []clientView
	if r.err != nil || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list) != 2 {
		t.Fatalf("list with the token from the environment: %v %s", r.err, r.stdout)
	}
	var got clientView
	mustRunJSON(t, &got, append([]string{"clients", "get", "reports"}, remote...)...)
	if got.ClientSecret != "" || got.Scopes[0] != "notes.read" {
		t.Fatalf("get %+v", got)
	}
	var rotated clientView
	mustRunJSON(t, &rotated, append([]string{"clients", "rotate-secret", "reports"}, remote...)...)
	if rotated.ClientSecret == "" || rotated.ClientSecret == created.ClientSecret {
		t.Fatalf("rotate-secret %+v", rotated)
	}
	msg := mustFail(t, "", append([]string{"clients", "create", "--name", "x", "--redirect-uri", "JaVaScRiPt:alert(1)", "--scope", "nope"}, remote...)...)
	if !strings.Contains(msg, "Invalid client") || !strings.Contains(msg, "unknown scope") || !strings.Contains(msg, "redirect URI") {
		t.Errorf("the API's problem: %s", msg)
	}
	mustRun(t, "", append([]string{"clients", "delete", "reports"}, remote...)...)
	if msg := mustFail(t, "", append([]string{"clients", "get", "reports"}, remote...)...); !strings.Contains(msg, "Not found") {
		t.Errorf("get after delete: %s", msg)
	}
	if msg := mustFail(t, "", "clients", "list", "--server", base); !strings.Contains(msg, adminTokenEnv) {
		t.Errorf("no token: %s", msg)
	}
	if msg := mustFail(t, "", "clients", "list", "--server", base, "--token", "lk_at_bad"); !strings.Contains(msg, "401") {
		t.Errorf("a bad token: %s", msg)
	}
	if msg := mustFail(t, "", "keys", "reseal", "--server", base, "--token", tok); !strings.Contains(msg, "database only") {
		t.Errorf("a command without --server support: %s", msg)
	}
}

// TestUsersDisableAndEnable: on the database and through the admin API, a
// disabled user is marked so and can sign in again once enabled.
func TestUsersDisableAndEnable(t *testing.T) {
	base, tok, db := adminServer(t)
	var v userView
	mustRunJSON(t, &v, "users", "disable", "alice", "--server", base, "--token", tok)
	if !v.Disabled {
		t.Fatalf("disable through the API: %+v", v)
	}
	if u, _ := db.GetUser(t.Context(), "u1"); u.DisabledAt.IsZero() {
		t.Fatal("the server did not store the disabling")
	}
	var list []userView
	mustRunJSON(t, &list, "users", "list", "--server", base, "--token", tok)
	if len(list) != 1 || !list[0].Disabled {
		t.Fatalf("users list through the API: %+v", list)
	}
	flag, _ := tempDB(t)
	mustRun(t, "", "users", "create", flag, "--username", "bob", "--password", "a long password")
	out := mustRun(t, "", "users", "disable", "bob", flag)
	if !strings.Contains(out, "User bob is disabled") {
		t.Errorf("disable on the database: %s", out)
	}
	mustRunJSON(t, &v, "users", "enable", "bob", flag)
	if v.Disabled {
		t.Errorf("enable on the database: %+v", v)
	}
}
