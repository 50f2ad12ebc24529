package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/token"
)

// TestKeysRotateAndList drives keys rotate and keys list on a dev database
// and checks that the keys are sealed the way the server opens them.
func TestKeysRotateAndList(t *testing.T) {
	db, path := tempDB(t)

	var empty []admin.KeyView
	mustRunJSON(t, &empty, "keys", "list", "--dev", db)
	if len(empty) != 0 {
		t.Fatalf("a fresh database lists keys: %+v", empty)
	}
	if text := mustRun(t, "", "keys", "list", "--dev", db); !strings.Contains(text, "No signing keys") {
		t.Errorf("empty list printed %q", text)
	}

	var first rotateView
	mustRunJSON(t, &first, "keys", "rotate", "--dev", db, "--publish-delay", "0")
	if first.Key.KID == "" || first.Key.Algorithm != "ES256" || first.Key.State != token.StateActive || first.Key.RetireAt != nil {
		t.Errorf("first rotation printed %+v, want an active ES256 key", first.Key)
	}
	if first.MaxTokenLifetime != "1h0m0s" {
		t.Errorf("max_token_lifetime = %s, want the default access token TTL 1h0m0s", first.MaxTokenLifetime)
	}

	t.Run("sealed_with_the_servers_derivation", func(t *testing.T) {
		fi, err := os.Stat(path + ".secret")
		if err != nil {
			t.Fatalf("dev mode did not keep its system secret beside the database: %v", err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("secret file mode %v, want 0600", fi.Mode().Perm())
		}
		raw, _ := os.ReadFile(path + ".secret")
		keys, err := token.NewKeys(t.Context(), token.KeysOptions{
			Store:   openDB(t, path),
			SealKey: session.DeriveKey([]byte(strings.TrimSpace(string(raw))), "signing-keys"),
		})
		if err != nil {
			t.Fatalf("the server's derivation cannot open the rotated key: %v", err)
		}
		tok, err := keys.Sign(token.TypeAccessToken, map[string]string{"sub": "x"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(tok, ".") || !strings.Contains(string(keys.JWKS()), first.Key.KID) {
			t.Errorf("the server would not sign with or publish the rotated key")
		}
		if text := string(databaseBytes(t, path)); strings.Contains(text, `"d":`) {
			t.Error("the database holds a private JWK member in the clear")
		}
	})

	var second rotateView
	mustRunJSON(t, &second, "keys", "rotate", "--dev", db, "--algorithm", "EdDSA", "--publish-delay", "5m", "--max-token-lifetime", "2h")
	t.Run("rotating_one_algorithm_leaves_the_others", func(t *testing.T) {
		if second.Key.Algorithm != "EdDSA" || second.Key.State != token.StateNext {
			t.Errorf("new key = %+v, want a next EdDSA key", second.Key)
		}
		if d := second.Key.ActiveAt.Sub(second.Key.CreatedAt); d != 5*time.Minute {
			t.Errorf("new key active %v after creation, want the 5m publish delay", d)
		}
		// Grouped by algorithm: ES256 before EdDSA.
		if len(second.Keys) != 2 || second.Keys[1].KID != second.Key.KID {
			t.Fatalf("keys = %+v, want the ES256 key then the new EdDSA key", second.Keys)
		}
		if es := second.Keys[0]; es.KID != first.Key.KID || es.State != token.StateActive || es.RetireAt != nil {
			t.Errorf("ES256 key = %+v, want still active and not retiring", es)
		}
		if second.MaxTokenLifetime != "2h0m0s" {
			t.Errorf("max_token_lifetime = %s", second.MaxTokenLifetime)
		}
	})

	var third rotateView
	mustRunJSON(t, &third, "keys", "rotate", "--dev", db, "--algorithm", "ES256", "--publish-delay", "5m", "--max-token-lifetime", "2h")
	t.Run("rotation_publishes_next_and_retires_old_of_its_algorithm", func(t *testing.T) {
		if third.Key.Algorithm != "ES256" || third.Key.State != token.StateNext {
			t.Errorf("new key = %+v, want a next ES256 key", third.Key)
		}
		byKID := map[string]admin.KeyView{}
		for _, k := range third.Keys {
			byKID[k.KID] = k
		}
		old := byKID[first.Key.KID]
		if old.State != token.StateActive {
			t.Errorf("old ES256 key = %+v, want still active", old)
		}
		if old.RetireAt == nil || !old.RetireAt.Equal(third.Key.ActiveAt.Add(2*time.Hour)) {
			t.Errorf("old ES256 key retire_at = %v, want new active_at + 2h = %v", old.RetireAt, third.Key.ActiveAt.Add(2*time.Hour))
		}
		if ed := byKID[second.Key.KID]; ed.State != token.StateNext || ed.RetireAt != nil {
			t.Errorf("EdDSA key = %+v, want untouched by the ES256 rotation", ed)
		}
	})
	t.Run("list_states_per_algorithm", func(t *testing.T) {
		var list []admin.KeyView
		mustRunJSON(t, &list, "keys", "list", "--dev", db)
		var got []string
		for _, k := range list {
			got = append(got, k.Algorithm+"="+k.State)
		}
		if want := []string{"ES256=next", "ES256=active", "EdDSA=next"}; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("list = %v, want %v", got, want)
		}
		text := mustRun(t, "", "keys", "list", "--dev", db)
		for _, want := range []string{"KID", "ALG", "STATE", "RETIRE AT", first.Key.KID, second.Key.KID, third.Key.KID, "EdDSA", "ES256", "next", "active"} {
			if !strings.Contains(text, want) {
				t.Errorf("text list lacks %q:\n%s", want, text)
			}
		}
	})
	t.Run("text_output", func(t *testing.T) {
		text := mustRun(t, "", "keys", "rotate", "--dev", db, "--algorithm", "RS256")
		for _, want := range []string{"New key:", "(RS256)", "Signs RS256 tokens from:", "Older RS256 keys:", "none", "Other algorithms:", "KID"} {
			if !strings.Contains(text, want) {
				t.Errorf("rotate printed no %q:\n%s", want, text)
			}
		}
		text = mustRun(t, "", "keys", "rotate", "--dev", db, "--algorithm", "RS256")
		if !strings.Contains(text, "Older RS256 keys retire:") {
			t.Errorf("a second RS256 rotation does not say when the first key retires:\n%s", text)
		}
	})
	t.Run("default_lifetime_covers_every_client", func(t *testing.T) {
		mustRun(t, "", "clients", "create", "--dev", db, "--name", "Long", "--redirect-uri", "https://long.example/cb", "--access-token-ttl", "3h")
		var r rotateView
		mustRunJSON(t, &r, "keys", "rotate", "--dev", db)
		if r.MaxTokenLifetime != "3h0m0s" {
			t.Errorf("max_token_lifetime = %s, want the longest client TTL 3h0m0s", r.MaxTokenLifetime)
		}
		if r.Key.Algorithm != "ES256" {
			t.Errorf("default algorithm = %s, want tokens.algorithm ES256", r.Key.Algorithm)
		}
	})
}

// TestKeysPerAlgorithm: after a server start (a key of every algorithm),
// keys list shows one active key per algorithm, and rotating one algorithm
// leaves the others' keys active and not retiring.
func TestKeysPerAlgorithm(t *testing.T) {
	db, path := tempDB(t)
	secretA := strings.Repeat("a", 32)
	var empty []admin.KeyView
	mustRunJSON(t, &empty, "keys", "list", db) // creates the schema
	// Start as the server does: ES256 signs access tokens, every algorithm
	// has a key for ID tokens.
	if _, err := token.NewKeys(t.Context(), token.KeysOptions{
		Store:      openDB(t, path),
		SealKey:    session.DeriveKey([]byte(secretA), "signing-keys"),
		Algorithm:  token.ES256,
		Algorithms: []string{token.RS256, token.ES256, token.EdDSA},
	}); err != nil {
		t.Fatal(err)
	}
	var list []admin.KeyView
	mustRunJSON(t, &list, "keys", "list", db)
	var got []string
	for _, k := range list {
		got = append(got, k.Algorithm+"="+k.State)
	}
	if want := "RS256=active ES256=active EdDSA=active"; strings.Join(got, " ") != want {
		t.Errorf("list = %v, want %s", got, want)
	}

	var r rotateView
	c := cli{env: map[string]string{"LATCHKEY_SYSTEM_SECRET": secretA}}
	res := c.run(t.Context(), "", "keys", "rotate", db, "--algorithm", "RS256", "--publish-delay", "0", "--max-token-lifetime", "1h", "-o", "json")
	if res.err != nil {
		t.Fatalf("rotate RS256: %v", formatError(res.err))
	}
	if err := json.Unmarshal([]byte(res.stdout), &r); err != nil {
		t.Fatal(err)
	}
	if r.Key.Algorithm != token.RS256 || r.Key.State != token.StateActive {
		t.Errorf("new key = %+v, want an active RS256 key", r.Key)
	}
	for _, k := range r.Keys {
		switch {
		case k.KID == r.Key.KID:
		case k.Algorithm == token.RS256:
			if k.State != token.StatePublished || k.RetireAt == nil {
				t.Errorf("old RS256 key = %+v, want published and retiring", k)
			}
		default:
			if k.State != token.StateActive || k.RetireAt != nil {
				t.Errorf("%s key = %+v, want active and not retiring after an RS256 rotation", k.Algorithm, k)
			}
		}
	}
	if len(r.Keys) != 4 {
		t.Errorf("keys = %+v, want 4", r.Keys)
	}
}

// TestKeysRotateSystemSecret: outside dev mode the configured system
// secret seals the keys; a missing or different one is refused before
// anything is written.
func TestKeysRotateSystemSecret(t *testing.T) {
	db, path := tempDB(t)
	secretA := strings.Repeat("a", 32)
	env := func(s string) cli { return cli{env: map[string]string{"LATCHKEY_SYSTEM_SECRET": s}} }

	r := env(secretA).run(t.Context(), "", "keys", "rotate", db, "--publish-delay", "0", "-o", "json")
	if r.err != nil {
		t.Fatalf("rotate with a configured secret: %v", r.err)
	}
	keys, err := token.NewKeys(t.Context(), token.KeysOptions{Store: openDB(t, path), SealKey: session.DeriveKey([]byte(secretA), "signing-keys")})
	if err != nil {
		t.Fatalf("the configured secret does not open the key: %v", err)
	}
	if len(keys.Algorithms()) != 1 {
		t.Errorf("algorithms = %v", keys.Algorithms())
	}

	count := func() int {
		l, err := token.List(t.Context(), openDB(t, path), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return len(l)
	}
	tests := []struct {
		name string
		c    cli
		args []string
		want string
	}{
		{"no_secret", cli{}, nil, "no system secret"},
		{"short_secret", env("short"), nil, "at least 32 bytes"},
		{"other_secret", env(strings.Repeat("b", 32)), nil, "refusing to rotate"},
		{"bad_algorithm", env(secretA), []string{"--algorithm", "HS256"}, `invalid --algorithm "HS256"`},
		{"lower_case_algorithm", env(secretA), []string{"--algorithm", "es256"}, `invalid --algorithm "es256"`},
		{"negative_delay", env(secretA), []string{"--publish-delay", "-1s"}, "--publish-delay must not be negative"},
		{"zero_lifetime", env(secretA), []string{"--max-token-lifetime", "0"}, "--max-token-lifetime must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.c.run(t.Context(), "", append([]string{"keys", "rotate", db}, tc.args...)...)
			if r.err == nil {
				t.Fatalf("rotate succeeded:\n%s", r.stdout)
			}
			if msg := formatError(r.err); !strings.Contains(msg, tc.want) || strings.Contains(msg, secretA) {
				t.Errorf("error %q does not contain %q (or shows the secret)", msg, tc.want)
			}
			if n := count(); n != 1 {
				t.Errorf("%d keys after a refused rotation, want 1", n)
			}
		})
	}
	t.Run("list_needs_no_secret", func(t *testing.T) {
		var list []admin.KeyView
		mustRunJSON(t, &list, "keys", "list", db)
		if len(list) != 1 {
			t.Errorf("list = %+v", list)
		}
	})
	t.Run("unknown_subcommand", func(t *testing.T) {
		if msg := mustFail(t, "", "keys", "rm", db); !strings.Contains(msg, `unknown command "rm"`) {
			t.Errorf("error = %q", msg)
		}
	})
}

// TestKeysReseal_SystemSecretRotation: keys sealed under one system secret
// are sealed again under the next by `keys reseal`, given the old one as
// system_secret_previous; afterwards the new secret alone rotates them,
// and the kids are the same.
func TestKeysReseal_SystemSecretRotation(t *testing.T) {
	db, _ := tempDB(t)
	oldSecret, newSecret := strings.Repeat("o", 32), strings.Repeat("n", 32)
	as := func(env map[string]string) cli { return cli{env: env} }
	var first rotateView
	r := as(map[string]string{"LATCHKEY_SYSTEM_SECRET": oldSecret}).run(t.Context(), "", "keys", "rotate", db, "--publish-delay", "0", "--output", "json")
	if r.err != nil {
		t.Fatal(formatError(r.err))
	}
	if err := json.Unmarshal([]byte(r.stdout), &first); err != nil {
		t.Fatal(err)
	}
	newOnly := as(map[string]string{"LATCHKEY_SYSTEM_SECRET": newSecret})
	if r := newOnly.run(t.Context(), "", "keys", "rotate", db); r.err == nil || !strings.Contains(formatError(r.err), "keys reseal") {
		t.Fatalf("rotation under a new secret before reseal: %v", r.err)
	}
	if r := newOnly.run(t.Context(), "", "keys", "reseal", db); r.err == nil || !strings.Contains(formatError(r.err), "system_secret_previous") {
		t.Fatalf("reseal without the previous secret: %v", r.err)
	}
	both := as(map[string]string{"LATCHKEY_SYSTEM_SECRET": newSecret, "LATCHKEY_SYSTEM_SECRET_PREVIOUS": oldSecret})
	r = both.run(t.Context(), "", "keys", "reseal", db)
	if r.err != nil || !strings.Contains(r.stdout, "Sealed 1 keys") {
		t.Fatalf("reseal: %v %q", r.err, r.stdout)
	}
	if !strings.Contains(r.stderr, `"event":"key.changed"`) {
		t.Errorf("reseal wrote no audit event: %q", r.stderr)
	}
	if r := both.run(t.Context(), "", "keys", "reseal", db); r.err != nil || !strings.Contains(r.stdout, "Sealed 0 keys") {
		t.Fatalf("a second reseal: %v %q", r.err, r.stdout)
	}
	var second rotateView
	r = newOnly.run(t.Context(), "", "keys", "rotate", db, "--publish-delay", "0", "--output", "json")
	if r.err != nil {
		t.Fatalf("rotation under the new secret alone after reseal: %v", formatError(r.err))
	}
	if err := json.Unmarshal([]byte(r.stdout), &second); err != nil {
		t.Fatal(err)
	}
	kids := map[string]bool{}
	for _, k := range second.Keys {
		kids[k.KID] = true
	}
	if !kids[first.Key.KID] || len(second.Keys) != 2 {
		t.Fatalf("after reseal and rotation the keys are %+v; want the first key kept beside a new one", second.Keys)
	}
}
