package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/secret"
)

func TestResourcesRoundTrip(t *testing.T) {
	db, path := tempDB(t)
	var created resourceView
	mustRunJSON(t, &created, "resources", "create", db, "--uri", "https://notes.example/api", "--name", "Cloud notes",
		"--scope", "notes.read notes.write")
	if created.URI != "https://notes.example/api" || created.Name != "Cloud notes" ||
		!slices.Equal(created.Scopes, []string{"notes.read", "notes.write"}) || !strings.HasPrefix(created.ClientID, "lk_") ||
		!secret.HasPrefix(created.ClientSecret, secret.PrefixClientSecret) || !strings.HasSuffix(created.IntrospectionEndpoint, "/introspect") {
		t.Fatalf("create printed %+v", created)
	}
	if bytes.Contains(databaseBytes(t, path), []byte(created.ClientSecret)) {
		t.Fatal("the resource's secret is stored in plain text")
	}
	// Its credentials are a client without grant types, with the secret's hash.
	st := openDB(t, path)
	c, err := st.GetClient(t.Context(), created.ClientID)
	if err != nil || len(c.GrantTypes) != 0 || !secret.CheckClientSecret(c.SecretHash, created.ClientSecret) {
		t.Fatalf("credentials stored as %+v, %v", c, err)
	}

	var list []resourceView
	mustRunJSON(t, &list, "resources", "list", db)
	if len(list) != 1 || list[0].ClientSecret != "" || list[0].ClientID != created.ClientID {
		t.Fatalf("list printed %+v", list)
	}
	out := mustRun(t, "", "resources", "get", db, created.URI)
	if !strings.Contains(out, "Cloud notes") || strings.Contains(out, created.ClientSecret) {
		t.Fatalf("get printed\n%s", out)
	}
	var updated resourceView
	mustRunJSON(t, &updated, "resources", "update", db, created.URI, "--scope", "notes.read")
	if !slices.Equal(updated.Scopes, []string{"notes.read"}) || updated.Name != "Cloud notes" {
		t.Fatalf("update printed %+v", updated)
	}

	// A client may be limited to registered resources only.
	msg := mustFail(t, "", "clients", "create", db, "--name", "Printer", "--grant-type", "client_credentials",
		"--scope", "notes.read", "--resource", "https://photos.example/")
	if !strings.Contains(msg, "not registered") {
		t.Fatalf("an unregistered resource was accepted: %s", msg)
	}
	var cv clientView
	mustRunJSON(t, &cv, "clients", "create", db, "--name", "Printer", "--grant-type", "client_credentials",
		"--scope", "notes.read", "--resource", created.URI)
	if !slices.Equal(cv.Resources, []string{created.URI}) {
		t.Fatalf("client resources %v", cv.Resources)
	}

	for name, args := range map[string][]string{
		"fragment":      {"--uri", "https://a.example/#x", "--name", "A", "--scope", "notes.read"},
		"relative":      {"--uri", "/api", "--name", "A", "--scope", "notes.read"},
		"unknown_scope": {"--uri", "https://a.example/", "--name", "A", "--scope", "nope"},
		"no_scope":      {"--uri", "https://a.example/", "--name", "A"},
		"no_name":       {"--uri", "https://a.example/", "--scope", "notes.read"},
		"taken_uri":     {"--uri", created.URI, "--name", "A", "--scope", "notes.read"},
	} {
		t.Run(name, func(t *testing.T) {
			mustFail(t, "", append([]string{"resources", "create", db}, args...)...)
		})
	}

	mustRun(t, "", "resources", "delete", db, created.URI)
	if _, err := st.GetClient(t.Context(), created.ClientID); err == nil {
		t.Fatal("deleting a resource left its credentials")
	}
	if msg := mustFail(t, "", "resources", "get", db, created.URI); !strings.Contains(msg, "not found") {
		t.Fatalf("get after delete: %s", msg)
	}
}

// TestStaticResources: resources declared in the file are created with
// their credentials, left alone when unchanged, and updated when changed.
func TestStaticResources(t *testing.T) {
	_, path := tempDB(t)
	st := openDB(t, path)
	ctx := t.Context()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Resources = []config.Resource{{URI: "https://photos.example/", Name: "Photos", Scopes: []string{"photos.read"},
		ClientID: "photos-api", ClientSecret: "photos-api-secret"}}
	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	apply := func() {
		t.Helper()
		logs.Reset()
		if err := applyStatic(ctx, st, cfg, now, logger); err != nil {
			t.Fatal(formatError(err))
		}
	}
	apply()
	r, err := st.GetResource(ctx, "https://photos.example/")
	if err != nil || r.ClientID != "photos-api" || r.Name != "Photos" {
		t.Fatalf("static resource stored as %+v, %v", r, err)
	}
	c, err := st.GetClient(ctx, "photos-api")
	if err != nil || !secret.CheckClientSecret(c.SecretHash, "photos-api-secret") {
		t.Fatalf("credentials %+v, %v", c, err)
	}
	apply()
	if logs.Len() != 0 {
		t.Fatalf("an unchanged resource was written again:\n%s", logs)
	}
	cfg.Resources[0].Scopes = []string{"photos.read", "photos.write"}
	cfg.Resources[0].ClientSecret = "a-new-photos-secret"
	apply()
	r, _ = st.GetResource(ctx, "https://photos.example/")
	c, _ = st.GetClient(ctx, "photos-api")
	if !slices.Equal(r.Scopes, []string{"photos.read", "photos.write"}) || !secret.CheckClientSecret(c.SecretHash, "a-new-photos-secret") {
		t.Fatalf("changes not applied: %+v", r)
	}

	cfg.Resources = []config.Resource{{URI: "https://a.example/#x", Name: "", Scopes: []string{"nope"}, ClientID: "a", ClientSecret: "s"}}
	err = applyStatic(ctx, st, cfg, now, logger)
	msg := formatError(err)
	for _, want := range []string{"without a fragment", "name", "unknown scope"} {
		if !strings.Contains(msg, want) {
			t.Errorf("invalid static resource: %q does not report %q", msg, want)
		}
	}
}

// TestResourcesIntrospectTheirOwnTokens: two APIs registered with the CLI
// introspect with the credentials it printed; each sees the tokens meant
// for it as active and the other's as {"active": false} (RFC 8707, RFC
// 7662 §4).
func TestResourcesIntrospectTheirOwnTokens(t *testing.T) {
	db, _ := tempDB(t)
	var notes, photos resourceView
	mustRunJSON(t, &notes, "resources", "create", db, "--uri", "https://notes.example/api", "--name", "Notes", "--scope", "notes.read")
	mustRunJSON(t, &photos, "resources", "create", db, "--uri", "https://photos.example/", "--name", "Photos", "--scope", "photos.read")
	var svc clientView
	mustRunJSON(t, &svc, "clients", "create", db, "--name", "Indexer", "--grant-type", "client_credentials", "--scope", "notes.read photos.read")
	s := startServe(t, nil, db, "--dev", "--listen", "127.0.0.1:0")
	issuer := "http://" + s.addr
	token := func(resource string) string {
		t.Helper()
		resp, err := http.PostForm(issuer+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {svc.ClientID},
			"client_secret": {svc.ClientSecret}, "resource": {resource}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v struct {
			AccessToken string `json:"access_token"`
		}
		if json.NewDecoder(resp.Body).Decode(&v); v.AccessToken == "" {
			t.Fatalf("no token for %s: %d", resource, resp.StatusCode)
		}
		return v.AccessToken
	}
	active := func(rs resourceView, tok string) bool {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, issuer+"/introspect", strings.NewReader(url.Values{"token": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(rs.ClientID, rs.ClientSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("introspect as %s: %d %v", rs.ClientID, resp.StatusCode, err)
		}
		return v["active"] == true
	}
	notesTok, photosTok := token(notes.URI), token(photos.URI)
	if !active(notes, notesTok) || !active(photos, photosTok) {
		t.Fatal("a resource must see the tokens meant for it")
	}
	if active(notes, photosTok) || active(photos, notesTok) {
		t.Fatal("a resource saw another resource's token")
	}
}
