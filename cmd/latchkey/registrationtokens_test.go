package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

func TestRegistrationTokensRoundTrip(t *testing.T) {
	db, path := tempDB(t)
	var created admin.RegistrationTokenView
	mustRunJSON(t, &created, "registration-tokens", "create", db, "--ttl", "2h", "--uses", "1", "--description", "partner onboarding")
	if !secret.HasPrefix(created.Token, secret.PrefixInitialAccess) || created.ID == "" || created.MaxUses != 1 ||
		created.ExpiresAt.Sub(created.CreatedAt) != 2*time.Hour {
		t.Fatalf("create printed %+v", created)
	}
	if bytes.Contains(databaseBytes(t, path), []byte(created.Token)) {
		t.Fatal("the initial access token is stored in plain text")
	}
	var list []admin.RegistrationTokenView
	mustRunJSON(t, &list, "registration-tokens", "list", db)
	if len(list) != 1 || list[0].Token != "" || list[0].ID != created.ID || list[0].Description != "partner onboarding" {
		t.Fatalf("list printed %+v", list)
	}
	// The printed token is the one the server checks.
	st := openDB(t, path)
	if err := st.UseRegistrationToken(t.Context(), secret.Hash(created.Token), created.CreatedAt); err != nil {
		t.Fatalf("the printed token is not usable: %v", err)
	}
	if out := mustRun(t, "", "registration-tokens", "delete", db, created.ID); !strings.Contains(out, created.ID) {
		t.Fatalf("delete printed %q", out)
	}
	if msg := mustFail(t, "", "registration-tokens", "delete", db, created.ID); !strings.Contains(msg, "not found") {
		t.Fatalf("second delete: %q", msg)
	}
	if msg := mustFail(t, "", "registration-tokens", "create", db, "--uses", "-1"); !strings.Contains(msg, "negative") {
		t.Fatalf("negative uses: %q", msg)
	}
}

func TestClientsGetShowsSelfRegistered(t *testing.T) {
	db, path := tempDB(t)
	mustRun(t, "", "registration-tokens", "list", db) // migrates the new database
	st := openDB(t, path)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := st.CreateClient(t.Context(), store.Client{ID: "lk_self", Name: "Stranger", Public: true, SelfRegistered: true,
		RedirectURIs: []string{"http://127.0.0.1/cb"}, GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid"},
		CreatedAt: now, UpdatedAt: now, UsedAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, "", "clients", "get", db, "lk_self"); !strings.Contains(out, "Self-registered:") || !strings.Contains(out, "2026-01-02T04:04:05Z") {
		t.Fatalf("get printed\n%s", out)
	}
	var v clientView
	mustRunJSON(t, &v, "clients", "get", db, "lk_self")
	if !v.SelfRegistered || !v.UsedAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("json %+v", v)
	}
}
