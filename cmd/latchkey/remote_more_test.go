package main

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// TestClientsUpdateThroughTheAdminAPI: clients update --server reads the
// client, changes only the flags given and replaces it; a public client
// made confidential gets a generated secret shown once; the API's
// problems are listed; --secret (an import) stays on the database.
func TestClientsUpdateThroughTheAdminAPI(t *testing.T) {
	base, tok, db := adminServer(t)
	remote := []string{"--server", base, "--token", tok}
	mustRun(t, "", append([]string{"clients", "create", "--name", "Web", "--id", "web", "--public",
		"--redirect-uri", "https://app.example.com/cb", "--scope", "openid"}, remote...)...)
	var v clientView
	mustRunJSON(t, &v, append([]string{"clients", "update", "web", "--name", "Web app", "--public=false"}, remote...)...)
	if v.Name != "Web app" || v.Public || !secret.HasPrefix(v.ClientSecret, secret.PrefixClientSecret) ||
		len(v.RedirectURIs) != 1 || v.RedirectURIs[0] != "https://app.example.com/cb" || v.Scopes[0] != "openid" {
		t.Fatalf("update through the API: %+v", v)
	}
	if c, _ := db.GetClient(t.Context(), "web"); c.Name != "Web app" || c.Public || c.SecretHash == "" {
		t.Fatalf("the server did not store the update: %+v", c)
	}
	msg := mustFail(t, "", append([]string{"clients", "update", "web", "--redirect-uri", "JaVaScRiPt:alert(1)", "--scope", "nope"}, remote...)...)
	if !strings.Contains(msg, "Invalid client") || !strings.Contains(msg, "unknown scope") || !strings.Contains(msg, "redirect URI") {
		t.Errorf("the API's problem: %s", msg)
	}
	if msg := mustFail(t, "", append([]string{"clients", "update", "nobody", "--name", "x"}, remote...)...); !strings.Contains(msg, "Not found") {
		t.Errorf("update of an unknown client: %s", msg)
	}
	if msg := mustFail(t, "", append([]string{"clients", "update", "web", "--secret", "an imported secret"}, remote...)...); !strings.Contains(msg, "database only") {
		t.Errorf("--secret through the API: %s", msg)
	}
}

// TestUsersThroughTheAdminAPI: users create, get, set-password and delete
// work through the admin API by username and print what they print on
// the database; the API's problems and an unknown user fail.
func TestUsersThroughTheAdminAPI(t *testing.T) {
	base, tok, db := adminServer(t)
	remote := []string{"--server", base, "--token", tok}
	var created userView
	mustRunJSON(t, &created, append([]string{"users", "create", "--username", "bob", "--password", "a long password",
		"--email", "bob@example.com", "--email-verified", "--name", "Bob"}, remote...)...)
	if created.Username != "bob" || created.ID == "" || !created.EmailVerified || created.Name != "Bob" {
		t.Fatalf("create through the API: %+v", created)
	}
	if msg := mustFail(t, "", append([]string{"users", "create", "--username", "bob", "--password", "a long password"}, remote...)...); !strings.Contains(msg, "Conflict") {
		t.Errorf("a second bob: %s", msg)
	}
	out := mustRun(t, "", append([]string{"users", "get", "bob"}, remote...)...)
	if !strings.Contains(out, "Username:  bob") || !strings.Contains(out, "bob@example.com (verified)") || !strings.Contains(out, created.ID) {
		t.Errorf("get through the API:\n%s", out)
	}
	if msg := mustFail(t, "", append([]string{"users", "get", "carol"}, remote...)...); !strings.Contains(msg, `user "carol" not found`) {
		t.Errorf("get of an unknown user: %s", msg)
	}
	out = mustRun(t, "a new long password\n", append([]string{"users", "set-password", "bob", "--password-stdin"}, remote...)...)
	if out != "Password of bob changed; 0 browser sessions signed out.\n" {
		t.Errorf("set-password through the API: %q", out)
	}
	if u, _ := db.GetUser(t.Context(), created.ID); !checkPW(u.PasswordHash, "a new long password") {
		t.Error("the server did not store the new password")
	}
	var deleted map[string]any
	mustRunJSON(t, &deleted, append([]string{"users", "delete", "bob"}, remote...)...)
	if deleted["username"] != "bob" || deleted["id"] != created.ID || deleted["deleted"] != true {
		t.Errorf("delete through the API: %v", deleted)
	}
	if _, err := db.GetUser(t.Context(), created.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the server did not delete bob: %v", err)
	}
	if msg := mustFail(t, "", append([]string{"users", "delete", "bob"}, remote...)...); !strings.Contains(msg, `user "bob" not found`) {
		t.Errorf("delete twice: %s", msg)
	}
}

// TestResourcesThroughTheAdminAPI: resources create, list, get, update and
// delete work through the admin API with the URI escaped as one path
// segment, and print the server's introspection endpoint.
func TestResourcesThroughTheAdminAPI(t *testing.T) {
	base, tok, db := adminServer(t)
	remote := []string{"--server", base, "--token", tok}
	uri := "https://api.example.com/notes?v=1"
	var v resourceView
	mustRunJSON(t, &v, append([]string{"resources", "create", "--uri", uri, "--name", "Notes", "--scope", "openid", "--client-id", "notes-rs"}, remote...)...)
	if v.URI != uri || v.ClientID != "notes-rs" || !secret.HasPrefix(v.ClientSecret, secret.PrefixClientSecret) ||
		v.IntrospectionEndpoint != base+"/introspect" {
		t.Fatalf("create through the API: %+v", v)
	}
	var list []resourceView
	mustRunJSON(t, &list, append([]string{"resources", "list"}, remote...)...)
	if len(list) != 1 || list[0].URI != uri || list[0].ClientSecret != "" {
		t.Fatalf("list through the API: %+v", list)
	}
	mustRunJSON(t, &v, append([]string{"resources", "update", uri, "--name", "Notes API"}, remote...)...)
	if v.Name != "Notes API" || len(v.Scopes) != 1 || v.Scopes[0] != "openid" {
		t.Fatalf("update through the API keeps the scopes not given: %+v", v)
	}
	out := mustRun(t, "", append([]string{"resources", "get", uri}, remote...)...)
	if !strings.Contains(out, "Notes API") || !strings.Contains(out, base+"/introspect") {
		t.Errorf("get through the API:\n%s", out)
	}
	msg := mustFail(t, "", append([]string{"resources", "update", uri, "--scope", "nope"}, remote...)...)
	if !strings.Contains(msg, "Invalid resource") || !strings.Contains(msg, "nope") {
		t.Errorf("the API's problem: %s", msg)
	}
	if out := mustRun(t, "", append([]string{"resources", "delete", uri}, remote...)...); out != "Deleted resource "+uri+".\n" {
		t.Errorf("delete through the API: %q", out)
	}
	if _, err := db.GetResource(t.Context(), uri); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the server did not delete the resource: %v", err)
	}
	if msg := mustFail(t, "", append([]string{"resources", "get", uri}, remote...)...); !strings.Contains(msg, "Not found") {
		t.Errorf("get after delete: %s", msg)
	}
	if got := resourcePath(uri); got != "/resources/"+url.PathEscape(uri) || strings.Count(got, "/") != 2 {
		t.Errorf("the URI is not one path segment: %s", got)
	}
}

// TestKeysThroughTheAdminAPI: keys list, rotate and retire work through
// the admin API; the key that signs cannot be retired, and
// --max-token-lifetime stays on the database.
func TestKeysThroughTheAdminAPI(t *testing.T) {
	base, tok, _ := adminServer(t)
	remote := []string{"--server", base, "--token", tok}
	var keys []admin.KeyView
	mustRunJSON(t, &keys, append([]string{"keys", "list"}, remote...)...)
	if len(keys) != 3 {
		t.Fatalf("list through the API: %+v", keys)
	}
	var active admin.KeyView
	for _, k := range keys {
		if k.Algorithm == "EdDSA" {
			active = k
		}
	}
	var rot rotateView
	mustRunJSON(t, &rot, append([]string{"keys", "rotate", "--algorithm", "EdDSA", "--publish-delay", "0s"}, remote...)...)
	if rot.Key.Algorithm != "EdDSA" || rot.Key.KID == active.KID || len(rot.Keys) != 4 || rot.MaxTokenLifetime == "0s" {
		t.Fatalf("rotate through the API: %+v", rot)
	}
	if msg := mustFail(t, "", append([]string{"keys", "retire", rot.Key.KID}, remote...)...); !strings.Contains(msg, "Conflict") || !strings.Contains(msg, "rotate") {
		t.Errorf("retire the signing key: %s", msg)
	}
	if out := mustRun(t, "", append([]string{"keys", "retire", active.KID}, remote...)...); !strings.Contains(out, "Retired key "+active.KID) {
		t.Errorf("retire through the API: %s", out)
	}
	mustRunJSON(t, &keys, append([]string{"keys", "list"}, remote...)...)
	for _, k := range keys {
		if k.KID == active.KID && k.State != "retired" {
			t.Errorf("the retired key is %s", k.State)
		}
	}
	if msg := mustFail(t, "", append([]string{"keys", "rotate", "--algorithm", "ES256", "--max-token-lifetime", "1h"}, remote...)...); !strings.Contains(msg, "database only") {
		t.Errorf("--max-token-lifetime through the API: %s", msg)
	}
}

// TestKeysRetire: on the database, keys retire takes a key out of the
// JWKS and refuses the key that signs and an unknown one.
func TestKeysRetire(t *testing.T) {
	_, _, _, flag := adminServerDB(t)
	var keys []admin.KeyView
	mustRunJSON(t, &keys, "keys", "list", flag)
	if msg := mustFail(t, "", "keys", "retire", keys[0].KID, flag); !strings.Contains(msg, "signs its algorithm's tokens") {
		t.Errorf("retire the signing key: %s", msg)
	}
	if msg := mustFail(t, "", "keys", "retire", "nokey", flag); !strings.Contains(msg, `key "nokey" not found`) {
		t.Errorf("retire an unknown key: %s", msg)
	}
}

// TestRegistrationTokensThroughTheAdminAPI: registration-tokens create,
// list and delete work through the admin API.
func TestRegistrationTokensThroughTheAdminAPI(t *testing.T) {
	base, tok, db := adminServer(t)
	remote := []string{"--server", base, "--token", tok}
	var v admin.RegistrationTokenView
	mustRunJSON(t, &v, append([]string{"registration-tokens", "create", "--ttl", "2h", "--uses", "3", "--description", "agents"}, remote...)...)
	if v.ID == "" || v.Token == "" || v.MaxUses != 3 || v.Description != "agents" || v.ExpiresAt.Sub(v.CreatedAt).Hours() != 2 {
		t.Fatalf("create through the API: %+v", v)
	}
	out := mustRun(t, "", append([]string{"registration-tokens", "list"}, remote...)...)
	if !strings.Contains(out, v.ID) || !strings.Contains(out, "0/3") || strings.Contains(out, v.Token) {
		t.Errorf("list through the API:\n%s", out)
	}
	if out := mustRun(t, "", append([]string{"registration-tokens", "delete", v.ID}, remote...)...); out != "Deleted registration token "+v.ID+".\n" {
		t.Errorf("delete through the API: %q", out)
	}
	if list, _ := db.ListRegistrationTokens(t.Context()); len(list) != 0 {
		t.Errorf("the server did not delete the token: %+v", list)
	}
	if msg := mustFail(t, "", append([]string{"registration-tokens", "delete", v.ID}, remote...)...); !strings.Contains(msg, "Not found") {
		t.Errorf("delete twice: %s", msg)
	}
}

// TestServerAndDatabasePrintTheSame: a list command prints the same on
// the database and through the admin API, as text and as JSON.
func TestServerAndDatabasePrintTheSame(t *testing.T) {
	base, tok, _, flag := adminServerDB(t)
	remote := []string{"--server", base, "--token", tok}
	mustRun(t, "", "users", "create", flag, "--username", "bob", "--password", "a long password", "--email", "bob@example.com")
	mustRun(t, "", "registration-tokens", "create", flag, "--description", "one")
	for _, cmd := range [][]string{{"users", "list"}, {"keys", "list"}, {"registration-tokens", "list"}} {
		for _, format := range []string{"text", "json"} {
			local := mustRun(t, "", append(cmd, flag, "--output", format)...)
			through := mustRun(t, "", append(append(cmd, "--output", format), remote...)...)
			if local != through {
				t.Errorf("%s --output %s differs:\ndatabase:\n%s\nadmin API:\n%s", strings.Join(cmd, " "), format, local, through)
			}
		}
	}
}

func checkPW(hash, pw string) bool {
	ok, err := secret.CheckPassword(hash, pw)
	return ok && err == nil
}

// TestDatabaseOnlyCommandsRefuseServer: commands the admin API cannot
// serve refuse --server and say why.
func TestDatabaseOnlyCommandsRefuseServer(t *testing.T) {
	for _, args := range [][]string{{"migrate"}, {"db", "stats"}, {"janitor"}, {"keys", "reseal"}} {
		msg := mustFail(t, "", append(args, "--server", "https://id.example.com", "--token", "x")...)
		if !strings.Contains(msg, "database only") {
			t.Errorf("%s --server: %s", strings.Join(args, " "), msg)
		}
	}
}
