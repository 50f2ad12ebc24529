package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

func TestClientsRoundTrip(t *testing.T) {
	db, path := tempDB(t)

	var created clientView
	mustRunJSON(t, &created, "clients", "create", db,
		"--name", "Cloud Print",
		"--redirect-uri", "https://print.example.com/cb",
		"--redirect-uri", "http://127.0.0.1/cb",
		"--scope", "openid profile", "--scope", "notes.read",
		"--access-token-ttl", "10m")
	if !strings.HasPrefix(created.ClientID, "lk_") {
		t.Errorf("client_id = %q, want a generated lk_ id", created.ClientID)
	}
	if !secret.HasPrefix(created.ClientSecret, secret.PrefixClientSecret) {
		t.Errorf("client_secret = %q, want a generated lk_cs_ secret", created.ClientSecret)
	}
	want := clientView{
		ClientID: created.ClientID, ClientSecret: created.ClientSecret, Name: "Cloud Print", SecretStorage: "sha256",
		RedirectURIs:           []string{"https://print.example.com/cb", "http://127.0.0.1/cb"},
		GrantTypes:             []string{"authorization_code", "refresh_token"},
		Scopes:                 []string{"openid", "profile", "notes.read"},
		AccessTokenTTL:         "10m0s",
		PostLogoutRedirectURIs: []string{},
		Resources:              []string{},
		CreatedAt:              created.CreatedAt, UpdatedAt: created.UpdatedAt,
	}
	if !reflect.DeepEqual(created, want) {
		t.Errorf("create printed\n%+v\nwant\n%+v", created, want)
	}
	id, plain := created.ClientID, created.ClientSecret

	t.Run("secret_stored_only_as_hash", func(t *testing.T) {
		files := databaseBytes(t, path)
		if !bytes.Contains(files, []byte(id)) {
			t.Fatalf("the database files do not contain the client id: the check below would prove nothing")
		}
		if bytes.Contains(files, []byte(plain)) {
			t.Errorf("the database holds the client secret in plain text")
		}
		c, err := openDB(t, path).GetClient(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if !secret.CheckClientSecret(c.SecretHash, plain) {
			t.Errorf("the stored hash does not verify the printed secret")
		}
	})

	t.Run("get_never_shows_secret_or_hash", func(t *testing.T) {
		var got clientView
		out := mustRunJSON(t, &got, "clients", "get", id, db)
		want := created
		want.ClientSecret = ""
		if !reflect.DeepEqual(got, want) {
			t.Errorf("get printed\n%+v\nwant\n%+v", got, want)
		}
		text := mustRun(t, "", "clients", "get", id, db)
		for _, o := range []string{out, text} {
			if strings.Contains(o, "sha256:") || strings.Contains(o, plain) || strings.Contains(o, "client_secret") {
				t.Errorf("get shows a secret or its hash:\n%s", o)
			}
		}
		if !strings.Contains(text, "Cloud Print") || !strings.Contains(text, "https://print.example.com/cb") {
			t.Errorf("text summary lacks fields:\n%s", text)
		}
	})

	t.Run("list", func(t *testing.T) {
		var list []clientView
		mustRunJSON(t, &list, "clients", "list", db)
		if len(list) != 1 || list[0].ClientID != id || list[0].ClientSecret != "" {
			t.Errorf("list = %+v", list)
		}
		if text := mustRun(t, "", "clients", "list", db); !strings.Contains(text, id) || !strings.Contains(text, "CLIENT ID") {
			t.Errorf("text list:\n%s", text)
		}
	})

	t.Run("update_changes_only_given_flags", func(t *testing.T) {
		var got clientView
		mustRunJSON(t, &got, "clients", "update", id, db,
			"--name", "Cloud Print 2", "--redirect-uri", "https://print2.example.com/cb", "--scope", "", "--code-ttl", "2m")
		if got.Name != "Cloud Print 2" || !reflect.DeepEqual(got.RedirectURIs, []string{"https://print2.example.com/cb"}) ||
			len(got.Scopes) != 0 || got.CodeTTL != "2m0s" {
			t.Errorf("update did not apply: %+v", got)
		}
		if !reflect.DeepEqual(got.GrantTypes, created.GrantTypes) || got.AccessTokenTTL != "10m0s" || got.ClientSecret != "" ||
			!got.CreatedAt.Equal(created.CreatedAt) {
			t.Errorf("update changed what was not given: %+v", got)
		}
		c, err := openDB(t, path).GetClient(t.Context(), id)
		if err != nil || !secret.CheckClientSecret(c.SecretHash, plain) {
			t.Errorf("update changed the secret (err %v)", err)
		}
	})

	t.Run("rotate_secret", func(t *testing.T) {
		var got clientView
		mustRunJSON(t, &got, "clients", "rotate-secret", id, db)
		if got.ClientID != id || !secret.HasPrefix(got.ClientSecret, secret.PrefixClientSecret) || got.ClientSecret == plain {
			t.Fatalf("rotate-secret printed %+v", got)
		}
		c, err := openDB(t, path).GetClient(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if !secret.CheckClientSecret(c.SecretHash, got.ClientSecret) {
			t.Errorf("the new secret does not verify")
		}
		if secret.CheckClientSecret(c.SecretHash, plain) {
			t.Errorf("the old secret still verifies")
		}
		if bytes.Contains(databaseBytes(t, path), []byte(got.ClientSecret)) {
			t.Errorf("the database holds the rotated secret in plain text")
		}
	})

	t.Run("delete", func(t *testing.T) {
		var got struct {
			ClientID string `json:"client_id"`
			Deleted  bool
		}
		mustRunJSON(t, &got, "clients", "delete", id, db)
		if got.ClientID != id || !got.Deleted {
			t.Errorf("delete printed %+v", got)
		}
		if msg := mustFail(t, "", "clients", "get", id, db); msg != `latchkey: client "`+id+`" not found` {
			t.Errorf("get after delete: %q", msg)
		}
		if msg := mustFail(t, "", "clients", "delete", id, db); !strings.Contains(msg, "not found") {
			t.Errorf("second delete: %q", msg)
		}
		var list []clientView
		mustRunJSON(t, &list, "clients", "list", db)
		if len(list) != 0 {
			t.Errorf("list after delete = %+v", list)
		}
	})
}

func TestClientsCreateTextShowsSecretOnce(t *testing.T) {
	db, _ := tempDB(t)
	out := mustRun(t, "", "clients", "create", "--name", "Web", "--redirect-uri", "https://web.example/cb", db)
	if !strings.Contains(out, "Client secret:") || !strings.Contains(out, secret.PrefixClientSecret) || !strings.Contains(out, "shown once") {
		t.Errorf("text create output lacks the secret:\n%s", out)
	}
	if strings.Contains(out, "sha256:") {
		t.Errorf("text create output shows the hash:\n%s", out)
	}
}

func TestClientsImportedSecretAndID(t *testing.T) {
	db, path := tempDB(t)
	var got clientView
	mustRunJSON(t, &got, "clients", "create", "--id", "billing", "--secret", "imported-secret-from-elsewhere",
		"--name", "Billing", "--grant-type", "client_credentials", "--scope", "notes.read", db)
	if got.ClientID != "billing" || got.ClientSecret != "imported-secret-from-elsewhere" || got.SecretStorage != "argon2id" ||
		!reflect.DeepEqual(got.GrantTypes, []string{"client_credentials"}) {
		t.Errorf("create printed %+v", got)
	}
	c, err := openDB(t, path).GetClient(t.Context(), "billing")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.SecretHash, "$argon2id$") || !secret.CheckClientSecret(c.SecretHash, "imported-secret-from-elsewhere") {
		t.Errorf("imported secret stored as %q", c.SecretHash[:10])
	}
	if bytes.Contains(databaseBytes(t, path), []byte("imported-secret-from-elsewhere")) {
		t.Errorf("the database holds the imported secret in plain text")
	}

	// A secret of the generated form is stored as SHA-256: checking it is fast.
	gen := secret.New(secret.PrefixClientSecret).String()
	mustRunJSON(t, &got, "clients", "create", "--id", "moved", "--secret", gen, "--name", "Moved", "--grant-type", "client_credentials", db)
	if got.SecretStorage != "sha256" {
		t.Errorf("a secret of the generated form is stored as %s", got.SecretStorage)
	}

	msg := mustFail(t, "", "clients", "create", "--id", "billing", "--name", "Again", "--grant-type", "client_credentials", db)
	if msg != `latchkey: client "billing" already exists` {
		t.Errorf("duplicate id: %q", msg)
	}
	if msg := mustFail(t, "", "clients", "create", "--secret", "", "--name", "x", "--grant-type", "client_credentials", db); !strings.Contains(msg, "--secret must not be empty") {
		t.Errorf("empty --secret: %q", msg)
	} // RFC 6819 §5.1.4.2.2: an imported secret has a floor; throttling alone
	// does not make "short" safe.
	if msg := mustFail(t, "", "clients", "create", "--secret", "short", "--name", "x", "--grant-type", "client_credentials", db); !strings.Contains(msg, "16 to 512 characters") {
		t.Errorf("short --secret: %q", msg)
	}

}

func TestClientsPublic(t *testing.T) {
	db, path := tempDB(t)
	var got clientView
	out := mustRunJSON(t, &got, "clients", "create", "--id", "tv", "--public", "--name", "TV",
		"--grant-type", "urn:ietf:params:oauth:grant-type:device_code", "--grant-type", "refresh_token", db)
	if !got.Public || got.ClientSecret != "" || got.SecretStorage != "" || strings.Contains(out, "client_secret") {
		t.Errorf("public client printed %s", out)
	}
	if msg := mustFail(t, "", "clients", "rotate-secret", "tv", db); msg != `latchkey: client "tv" is public and has no secret` {
		t.Errorf("rotate-secret of a public client: %q", msg)
	}
	if msg := mustFail(t, "", "clients", "create", "--public", "--secret", "a-secret-long-enough", "--name", "P", "--redirect-uri", "http://127.0.0.1/cb", db); !strings.Contains(msg, "a public client has no secret") {
		t.Errorf("public client with a secret: %q", msg)
	}

	// Made confidential, it gets a generated secret, shown once.
	mustRunJSON(t, &got, "clients", "update", "tv", "--public=false", db)
	if got.Public || !secret.HasPrefix(got.ClientSecret, secret.PrefixClientSecret) {
		t.Errorf("update --public=false printed %+v", got)
	}
	// Made public again, it loses its secret.
	mustRunJSON(t, &got, "clients", "update", "tv", "--public", db)
	c, err := openDB(t, path).GetClient(t.Context(), "tv")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Public || c.SecretHash != "" {
		t.Errorf("update --public kept a secret: %+v", got)
	}
}

func TestClientsValidationListsEveryProblem(t *testing.T) {
	db, path := tempDB(t)
	r := cli{}.run(t.Context(), "", "clients", "create", db,
		"--name", "",
		"--grant-type", "authorization_code", "--grant-type", "telepathy",
		"--redirect-uri", "http://evil.example.com/cb",
		"--scope", "openid", "--scope", "everything",
		"--code-ttl", "1h")
	var p *problemList
	if !errors.As(r.err, &p) {
		t.Fatalf("err = %v, want a problem list", r.err)
	}
	msg := formatError(r.err)
	for _, w := range []string{
		"latchkey: invalid client:",
		"\n  - client name must be 1 to 200 characters",
		`unknown grant type "telepathy"`,
		`redirect URI "http://evil.example.com/cb"`,
		`unknown scope "everything"`,
		"code_ttl must be at most 10m",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not report %q:\n%s", w, msg)
		}
	}
	if len(p.errs) != 5 {
		t.Errorf("want 5 problems, got %d:\n%s", len(p.errs), msg)
	}
	var list []clientView
	mustRunJSON(t, &list, "clients", "list", db)
	if len(list) != 0 {
		t.Errorf("an invalid client was stored: %+v", list)
	}

	// update validates too, and stores nothing when invalid.
	mustRun(t, "", "clients", "create", "--id", "web", "--name", "Web", "--redirect-uri", "https://web.example/cb", db)
	msg = mustFail(t, "", "clients", "update", "web", "--redirect-uri", "", "--scope", "nope", db)
	if !strings.Contains(msg, "need at least one redirect URI") || !strings.Contains(msg, `unknown scope "nope"`) {
		t.Errorf("update error:\n%s", msg)
	}
	c, err := openDB(t, path).GetClient(t.Context(), "web")
	if err != nil || len(c.RedirectURIs) != 1 {
		t.Errorf("invalid update was stored: %+v, %v", c, err)
	}
	if msg := mustFail(t, "", "clients", "update", "ghost", "--name", "x", db); msg != `latchkey: client "ghost" not found` {
		t.Errorf("update of a missing client: %q", msg)
	}
	if _, err := openDB(t, path).GetClient(t.Context(), "ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ghost exists: %v", err)
	}
}

func TestClientsScopeRegistryFromConfig(t *testing.T) {
	db, _ := tempDB(t)
	dir := t.TempDir()
	file := dir + "/latchkey.yaml"
	writeTestFile(t, file, "scopes:\n  - name: billing.read\n")
	mustRun(t, "", "clients", "create", "--config", file, db, "--name", "B", "--grant-type", "client_credentials", "--scope", "billing.read")
	msg := mustFail(t, "", "clients", "create", "--config", file, db, "--name", "B", "--grant-type", "client_credentials", "--scope", "openid")
	if !strings.Contains(msg, `unknown scope "openid"`) {
		t.Errorf("the configured registry was not used: %q", msg)
	}
}

func TestClientsOpenIDFlags(t *testing.T) {
	db, path := tempDB(t)
	var created clientView
	mustRunJSON(t, &created, "clients", "create", "--id", "notes", db,
		"--name", "Notes",
		"--redirect-uri", "https://notes.example.com/cb",
		"--post-logout-redirect-uri", "https://notes.example.com/bye",
		"--post-logout-redirect-uri", "http://127.0.0.1/bye",
		"--backchannel-logout-uri", "https://notes.example.com/bc",
		"--frontchannel-logout-uri", "https://notes.example.com/fc",
		"--initiate-login-uri", "https://notes.example.com/login",
		"--logo-uri", "https://cdn.example.com/notes.png",
		"--client-uri", "https://notes.example.com/",
		"--description", "Your notes, on every device",
		"--first-party",
		"--id-token-alg", "ES256")
	want := store.Client{
		ID: "notes", Name: "Notes",
		RedirectURIs:           []string{"https://notes.example.com/cb"},
		GrantTypes:             []string{"authorization_code", "refresh_token"},
		PostLogoutRedirectURIs: []string{"https://notes.example.com/bye", "http://127.0.0.1/bye"},
		BackchannelLogoutURI:   "https://notes.example.com/bc",
		FrontchannelLogoutURI:  "https://notes.example.com/fc",
		InitiateLoginURI:       "https://notes.example.com/login",
		LogoURI:                "https://cdn.example.com/notes.png",
		ClientURI:              "https://notes.example.com/",
		Description:            "Your notes, on every device",
		FirstParty:             true,
		IDTokenAlg:             "ES256",
		CreatedAt:              created.CreatedAt,
		UpdatedAt:              created.UpdatedAt,
	}
	wantView := newClientView(want, created.ClientSecret)
	wantView.SecretStorage = "sha256"
	if !reflect.DeepEqual(created, wantView) {
		t.Errorf("create printed\n%+v\nwant\n%+v", created, wantView)
	}
	stored := func() store.Client {
		t.Helper()
		c, err := openDB(t, path).GetClient(t.Context(), "notes")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := stored(); !reflect.DeepEqual(newClientView(c, ""), newClientView(withStored(want, c), "")) {
		t.Errorf("stored %+v\nwant %+v", c, want)
	}

	t.Run("get_and_list_show_them", func(t *testing.T) {
		var got clientView
		mustRunJSON(t, &got, "clients", "get", "notes", db)
		wantView := wantView
		wantView.ClientSecret = ""
		if !reflect.DeepEqual(got, wantView) {
			t.Errorf("get printed\n%+v\nwant\n%+v", got, wantView)
		}
		var list []clientView
		mustRunJSON(t, &list, "clients", "list", db)
		if len(list) != 1 || !reflect.DeepEqual(list[0], wantView) {
			t.Errorf("list = %+v", list)
		}
		text := mustRun(t, "", "clients", "get", "notes", db)
		for _, w := range []string{
			"first-party (consent implied)", "Your notes, on every device",
			"https://notes.example.com/bye", "http://127.0.0.1/bye",
			"Back-channel logout URI:", "https://notes.example.com/bc",
			"Front-channel logout URI:", "https://notes.example.com/fc",
			"Initiate login URI:", "https://notes.example.com/login",
			"Logo URI:", "https://cdn.example.com/notes.png",
			"Client URI:", "ID token algorithm:", "ES256",
		} {
			if !strings.Contains(text, w) {
				t.Errorf("text get lacks %q:\n%s", w, text)
			}
		}
		if text := mustRun(t, "", "clients", "list", db); !strings.Contains(text, "confidential,first-party") {
			t.Errorf("text list does not show first-party:\n%s", text)
		}
	})

	t.Run("update_changes_only_given_flags", func(t *testing.T) {
		var got clientView
		mustRunJSON(t, &got, "clients", "update", "notes", "--name", "Notes 2", db)
		if !reflect.DeepEqual(got.PostLogoutRedirectURIs, want.PostLogoutRedirectURIs) || got.BackchannelLogoutURI != want.BackchannelLogoutURI ||
			got.Description != want.Description || !got.FirstParty || got.IDTokenAlg != "ES256" || got.LogoURI != want.LogoURI {
			t.Errorf("update --name changed OpenID fields: %+v", got)
		}

		mustRunJSON(t, &got, "clients", "update", "notes", db,
			"--description", "Notes, rewritten", "--post-logout-redirect-uri", "https://notes.example.com/signed-out")
		want.Name = "Notes 2"
		want.Description = "Notes, rewritten"
		want.PostLogoutRedirectURIs = []string{"https://notes.example.com/signed-out"}
		if c := stored(); !reflect.DeepEqual(newClientView(c, ""), newClientView(withStored(want, c), "")) {
			t.Errorf("after update: stored %+v\nwant %+v", c, want)
		}

		// "" clears a text or list field; --first-party=false and an empty
		// --id-token-alg go back to the defaults.
		mustRunJSON(t, &got, "clients", "update", "notes", db,
			"--post-logout-redirect-uri", "", "--backchannel-logout-uri", "", "--frontchannel-logout-uri", "",
			"--initiate-login-uri", "", "--logo-uri", "", "--client-uri", "", "--description", "",
			"--first-party=false", "--id-token-alg", "")
		c := stored()
		if c.PostLogoutRedirectURIs != nil || c.BackchannelLogoutURI != "" || c.FrontchannelLogoutURI != "" || c.InitiateLoginURI != "" ||
			c.LogoURI != "" || c.ClientURI != "" || c.Description != "" || c.FirstParty || c.IDTokenAlg != "" {
			t.Errorf("update did not clear the OpenID fields: %+v", c)
		}
		if c.Name != "Notes 2" || !slices.Equal(c.RedirectURIs, want.RedirectURIs) || !c.CreatedAt.Equal(created.CreatedAt) {
			t.Errorf("update changed what was not given: %+v", c)
		}
		if !strings.Contains(mustRun(t, "", "clients", "get", "notes", db), "RS256 (default)") {
			t.Errorf("text get does not show the default ID token algorithm")
		}

		mustRunJSON(t, &got, "clients", "update", "notes", "--first-party", db)
		if !got.FirstParty || !stored().FirstParty {
			t.Errorf("update --first-party did not apply: %+v", got)
		}
	})
}

// withStored returns want with the secret hash and timestamps of have, for
// comparing what was stored.
func withStored(want, have store.Client) store.Client {
	want.SecretHash, want.CreatedAt, want.UpdatedAt = have.SecretHash, have.CreatedAt, have.UpdatedAt
	return want
}

// TestClientsOpenIDValidation needs oauth.ValidateClient to include
// oauth.ValidateOpenIDClient.
func TestClientsOpenIDValidation(t *testing.T) {
	db, path := tempDB(t)
	msg := mustFail(t, "", "clients", "create", "--id", "bad", db,
		"--name", "Bad", "--redirect-uri", "https://bad.example/cb",
		"--post-logout-redirect-uri", "http://bad.example/bye",
		"--backchannel-logout-uri", "https://bad.example/bc#frag",
		"--id-token-alg", "HS256",
		"--description", strings.Repeat("d", 1001))
	for _, w := range []string{
		"invalid client:",
		`post-logout redirect URI "http://bad.example/bye"`,
		"backchannel_logout_uri: must not contain a fragment",
		`id_token_alg must be RS256, ES256 or EdDSA, got "HS256"`,
		"description must be at most 1000 characters",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not report %q:\n%s", w, msg)
		}
	}
	msg = mustFail(t, "", "clients", "create", "--id", "tv", "--public", "--first-party", db,
		"--name", "TV", "--grant-type", "urn:ietf:params:oauth:grant-type:device_code")
	if !strings.Contains(msg, "a public client cannot be first-party: RFC 8252 §8.6") {
		t.Errorf("public first-party client: %s", msg)
	}
	if _, err := openDB(t, path).GetClient(t.Context(), "bad"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an invalid client was stored: %v", err)
	}

	// update validates the result, and keeps the client when invalid.
	mustRun(t, "", "clients", "create", "--id", "web", "--name", "Web", "--redirect-uri", "https://web.example/cb", "--first-party", db)
	if msg := mustFail(t, "", "clients", "update", "web", "--public", db); !strings.Contains(msg, "cannot be first-party") {
		t.Errorf("update making a first-party client public: %s", msg)
	}
	if msg := mustFail(t, "", "clients", "update", "web", "--logo-uri", "http://cdn.example/logo.png", db); !strings.Contains(msg, "logo_uri: must use https") {
		t.Errorf("update with an http logo: %s", msg)
	}
	c, err := openDB(t, path).GetClient(t.Context(), "web")
	if err != nil || c.Public || c.LogoURI != "" || !c.FirstParty {
		t.Errorf("an invalid update was stored: %+v, %v", c, err)
	}
}

// TestStaticClientsAndUsersOpenIDFields applies static clients and users
// from the configuration, as serve does, with every OpenID field.
func TestStaticClientsAndUsersOpenIDFields(t *testing.T) {
	_, path := tempDB(t)
	st := openDB(t, path)
	ctx := t.Context()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Clients = []config.Client{{
		ID: "web", Name: "Web", Secret: "imported-web-secret",
		RedirectURIs:           []string{"https://web.example.com/cb"},
		PostLogoutRedirectURIs: []string{"https://web.example.com/bye"},
		BackchannelLogoutURI:   "https://web.example.com/bc",
		FrontchannelLogoutURI:  "https://web.example.com/fc",
		InitiateLoginURI:       "https://web.example.com/login",
		LogoURI:                "https://cdn.example.com/web.png",
		ClientURI:              "https://web.example.com/",
		Description:            "The web app",
		FirstParty:             true,
		IDTokenAlg:             "EdDSA",
	}}
	cfg.Users = []config.User{{Username: "alice", Password: "alice-password", Email: "alice@example.com", EmailVerified: true}}
	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := applyStatic(ctx, st, cfg, now, logger); err != nil {
		t.Fatal(formatError(err))
	}
	c, err := st.GetClient(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	cc := cfg.Clients[0]
	if !slices.Equal(c.PostLogoutRedirectURIs, cc.PostLogoutRedirectURIs) || c.BackchannelLogoutURI != cc.BackchannelLogoutURI ||
		c.FrontchannelLogoutURI != cc.FrontchannelLogoutURI || c.InitiateLoginURI != cc.InitiateLoginURI || c.LogoURI != cc.LogoURI ||
		c.ClientURI != cc.ClientURI || c.Description != cc.Description || !c.FirstParty || c.IDTokenAlg != "EdDSA" {
		t.Errorf("static client stored as %+v", c)
	}
	u, err := st.GetUserByUsername(ctx, "alice")
	if err != nil || !u.EmailVerified {
		t.Errorf("static user stored as %+v, %v", u, err)
	}

	// Applied again unchanged, nothing is written; each field's change is.
	logs.Reset()
	if err := applyStatic(ctx, st, cfg, now.Add(time.Hour), logger); err != nil {
		t.Fatal(formatError(err))
	}
	if logs.Len() != 0 {
		t.Errorf("an unchanged configuration was applied again:\n%s", logs)
	}
	for name, change := range map[string]func(c *config.Client){
		"post_logout_redirect_uris": func(c *config.Client) { c.PostLogoutRedirectURIs = nil },
		"backchannel_logout_uri":    func(c *config.Client) { c.BackchannelLogoutURI = "https://web.example.com/bc2" },
		"frontchannel_logout_uri":   func(c *config.Client) { c.FrontchannelLogoutURI = "" },
		"initiate_login_uri":        func(c *config.Client) { c.InitiateLoginURI = "https://web.example.com/login2" },
		"logo_uri":                  func(c *config.Client) { c.LogoURI = "https://cdn.example.com/web2.png" },
		"client_uri":                func(c *config.Client) { c.ClientURI = "https://web.example.com/home" },
		"description":               func(c *config.Client) { c.Description = "The new web app" },
		"first_party":               func(c *config.Client) { c.FirstParty = false },
		"id_token_alg":              func(c *config.Client) { c.IDTokenAlg = "ES256" },
	} {
		changed := cfg
		changed.Clients = []config.Client{cfg.Clients[0]}
		change(&changed.Clients[0])
		logs.Reset()
		if err := applyStatic(ctx, st, changed, now.Add(2*time.Hour), logger); err != nil {
			t.Fatal(formatError(err))
		}
		if !strings.Contains(logs.String(), "static client updated") {
			t.Errorf("a change of %s was not applied:\n%s", name, logs)
		}
		if got, _ := st.GetClient(ctx, "web"); !sameClient(got, staticClientWithHash(changed.Clients[0], got.SecretHash)) {
			t.Errorf("after a change of %s: stored %+v", name, got)
		}
	}
	unverified := cfg
	unverified.Users = []config.User{cfg.Users[0]}
	unverified.Users[0].EmailVerified = false
	logs.Reset()
	if err := applyStatic(ctx, st, unverified, now.Add(3*time.Hour), logger); err != nil {
		t.Fatal(formatError(err))
	}
	if u, _ := st.GetUserByUsername(ctx, "alice"); u.EmailVerified || !strings.Contains(logs.String(), "static user updated") {
		t.Errorf("email_verified: false was not applied: %+v\n%s", u, logs)
	}
}

// staticClientWithHash is the client a config entry declares, with the
// stored secret hash.
func staticClientWithHash(cc config.Client, hash string) store.Client {
	c := staticClient(cc)
	c.SecretHash = hash
	return c
}

// TestRFC9126_6_ClientsRequirePARFlag: --require-par sets the client's
// require_pushed_authorization_requests on create and update, and get
// shows it.
func TestRFC9126_6_ClientsRequirePARFlag(t *testing.T) {
	db, path := tempDB(t)
	var got clientView
	mustRunJSON(t, &got, "clients", "create", "--id", "bank", db, "--name", "Bank",
		"--redirect-uri", "https://bank.example/cb", "--require-par")
	if !got.RequirePushedAuthorizationRequests {
		t.Fatalf("create --require-par printed %+v", got)
	}
	stored := func() store.Client {
		t.Helper()
		c, err := openDB(t, path).GetClient(t.Context(), "bank")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if !stored().RequirePushedAuthorizationRequests {
		t.Fatal("create --require-par was not stored")
	}
	if text := mustRun(t, "", "clients", "get", "bank", db); !strings.Contains(text, "pushed authorization requests required") {
		t.Errorf("text get does not show it:\n%s", text)
	}
	mustRunJSON(t, &got, "clients", "update", "bank", "--name", "Bank 2", db)
	if !stored().RequirePushedAuthorizationRequests {
		t.Fatal("update without --require-par cleared it")
	}
	mustRunJSON(t, &got, "clients", "update", "bank", "--require-par=false", db)
	if got.RequirePushedAuthorizationRequests || stored().RequirePushedAuthorizationRequests {
		t.Fatal("update --require-par=false did not clear it")
	}
}

// TestRFC9449_5_2_ClientsRequireDPoPFlag: --require-dpop sets the client's
// dpop_bound_access_tokens on create and update, and get shows it.
func TestRFC9449_5_2_ClientsRequireDPoPFlag(t *testing.T) {
	db, path := tempDB(t)
	var got clientView
	mustRunJSON(t, &got, "clients", "create", "--id", "wallet", db, "--name", "Wallet",
		"--redirect-uri", "https://wallet.example/cb", "--require-dpop")
	stored := func() store.Client {
		t.Helper()
		c, err := openDB(t, path).GetClient(t.Context(), "wallet")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if !got.DPoPBoundAccessTokens || !stored().DPoPBoundAccessTokens {
		t.Fatalf("create --require-dpop printed %+v", got)
	}
	if text := mustRun(t, "", "clients", "get", "wallet", db); !strings.Contains(text, "DPoP-bound tokens only") {
		t.Errorf("text get does not show it:\n%s", text)
	}
	mustRunJSON(t, &got, "clients", "update", "wallet", "--name", "Wallet 2", db)
	if !stored().DPoPBoundAccessTokens {
		t.Fatal("update without --require-dpop cleared it")
	}
	mustRunJSON(t, &got, "clients", "update", "wallet", "--require-dpop=false", db)
	if got.DPoPBoundAccessTokens || stored().DPoPBoundAccessTokens {
		t.Fatal("update --require-dpop=false did not clear it")
	}
}

// testJWKS is a public JWK Set of one fresh P-256 key, as --jwks takes it.
func testJWKS(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "k1", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFAPI2_ClientsProfileFlag: --profile fapi2 registers a client held to
// the FAPI 2.0 Security Profile, with ES256 ID tokens unless chosen; what
// the profile forbids is refused with every reason at once, and get shows
// the profile.
func TestFAPI2_ClientsProfileFlag(t *testing.T) {
	db, path := tempDB(t)
	out := mustFail(t, "", "clients", "create", "--id", "bank", db, "--name", "Bank", "--profile", "fapi2",
		"--redirect-uri", "https://bank.example/cb", "--grant-type", "authorization_code", "--grant-type", "password")
	for _, want := range []string{"private_key_jwt", `"password"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not name %s:\n%s", want, out)
		}
	}
	if !strings.Contains(mustFail(t, "", "clients", "create", "--id", "bank", db, "--name", "Bank", "--profile", "fapi9",
		"--redirect-uri", "https://bank.example/cb"), "unknown profile") {
		t.Error("an unknown profile is not named")
	}
	var got clientView
	mustRunJSON(t, &got, "clients", "create", "--id", "bank", db, "--name", "Bank", "--profile", "fapi2",
		"--redirect-uri", "https://bank.example/cb", "--auth-method", "private_key_jwt", "--jwks", testJWKS(t))
	c, err := openDB(t, path).GetClient(t.Context(), "bank")
	if err != nil {
		t.Fatal(err)
	}
	if got.Profile != "fapi2" || c.Profile != "fapi2" || c.IDTokenAlg != "ES256" {
		t.Fatalf("printed %+v, stored profile %q id_token_alg %q", got, c.Profile, c.IDTokenAlg)
	}
	if text := mustRun(t, "", "clients", "get", "bank", db); !strings.Contains(text, "profile fapi2") {
		t.Errorf("text get does not show the profile:\n%s", text)
	}
	if !strings.Contains(mustFail(t, "", "clients", "update", "bank", "--id-token-alg", "RS256", db), "ID tokens") {
		t.Error("update let a FAPI 2.0 client take RS256 ID tokens")
	}
	var cleared clientView
	mustRunJSON(t, &cleared, "clients", "update", "bank", "--profile", "", db)
	if cleared.Profile != "" || cleared.ClientID != "bank" {
		t.Fatalf("update --profile '' printed %+v", cleared)
	}
}

// TestRFC9101_10_5_ClientsRequireRequestObjectFlag: --require-request-object
// needs the client's keys, is set on create and update, and get shows it.
func TestRFC9101_10_5_ClientsRequireRequestObjectFlag(t *testing.T) {
	db, _ := tempDB(t)
	if !strings.Contains(mustFail(t, "", "clients", "create", "--id", "web", db, "--name", "Web",
		"--redirect-uri", "https://web.example/cb", "--require-request-object"), "keys") {
		t.Error("a client without keys was allowed to require signed request objects")
	}
	var got clientView
	mustRunJSON(t, &got, "clients", "create", "--id", "web", db, "--name", "Web", "--redirect-uri", "https://web.example/cb",
		"--auth-method", "private_key_jwt", "--jwks", testJWKS(t), "--require-request-object")
	if !got.RequireSignedRequestObject {
		t.Fatalf("create printed %+v", got)
	}
	if text := mustRun(t, "", "clients", "get", "web", db); !strings.Contains(text, "signed request objects required") {
		t.Errorf("text get does not show it:\n%s", text)
	}
	mustRunJSON(t, &got, "clients", "update", "web", "--require-request-object=false", db)
	if got.RequireSignedRequestObject {
		t.Fatal("update --require-request-object=false did not clear it")
	}
}
