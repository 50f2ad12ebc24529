package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/secret"
)

func TestUsersRoundTrip(t *testing.T) {
	db, path := tempDB(t)
	const password = "correct horse battery"

	var created userView
	out := mustRunJSONStdin(t, &created, password+"\n", "users", "create", "--username", "alice", "--password-stdin",
		"--email", "alice@example.com", "--name", "Alice Liddell", db)
	if created.Username != "alice" || created.Email != "alice@example.com" || created.Name != "Alice Liddell" || created.ID == "" {
		t.Errorf("create printed %+v", created)
	}
	if strings.Contains(out, "argon2") || strings.Contains(out, "password") {
		t.Errorf("create output shows a password or hash:\n%s", out)
	}

	st := openDB(t, path)
	u, err := st.GetUserByUsername(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := secret.CheckPassword(u.PasswordHash, password); err != nil || !ok {
		t.Errorf("the stored hash does not verify the password read from stdin (newline stripped): %v", err)
	}
	if files := databaseBytes(t, path); bytes.Contains(files, []byte(password)) || !bytes.Contains(files, []byte("alice@example.com")) {
		t.Errorf("the database holds the password in plain text, or the check proves nothing")
	}

	var got userView
	mustRunJSON(t, &got, "users", "get", "alice", db)
	if got != created {
		t.Errorf("get = %+v, want %+v", got, created)
	}
	var list []userView
	mustRunJSON(t, &list, "users", "list", db)
	if len(list) != 1 || list[0] != created {
		t.Errorf("list = %+v", list)
	}
	if text := mustRun(t, "", "users", "list", db); !strings.Contains(text, "alice@example.com") || strings.Contains(text, "argon2") {
		t.Errorf("text list:\n%s", text)
	}

	if msg := mustFail(t, "long enough\n", "users", "create", "--username", "alice", "--password-stdin", db); msg != `latchkey: user "alice" already exists` {
		t.Errorf("duplicate username: %q", msg)
	}

	t.Run("set_password", func(t *testing.T) {
		const newPassword = "tr0ub4dor&3-tr0ub4dor"
		mustRun(t, newPassword+"\r\n", "users", "set-password", "alice", "--password-stdin", db)
		u, err := st.GetUserByUsername(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := secret.CheckPassword(u.PasswordHash, newPassword); !ok {
			t.Errorf("the new password does not verify")
		}
		if ok, _ := secret.CheckPassword(u.PasswordHash, password); ok {
			t.Errorf("the old password still verifies")
		}
		if u.ID != created.ID || !u.CreatedAt.Equal(created.CreatedAt) || u.Email != created.Email {
			t.Errorf("set-password changed other fields: %+v", u)
		}
		mustRun(t, "", "users", "set-password", "alice", "--password", "via-the-flag", db)
		u, _ = st.GetUserByUsername(t.Context(), "alice")
		if ok, _ := secret.CheckPassword(u.PasswordHash, "via-the-flag"); !ok {
			t.Errorf("--password did not set the password")
		}
		if msg := mustFail(t, "", "users", "set-password", "bob", "--password", "long enough", db); msg != `latchkey: user "bob" not found` {
			t.Errorf("set-password of a missing user: %q", msg)
		}
		if msg := mustFail(t, "", "users", "set-password", "alice", "--password", "short", db); !strings.Contains(msg, "at least 8 characters") {
			t.Errorf("short password: %q", msg)
		}
	})

	t.Run("delete", func(t *testing.T) {
		mustRun(t, "", "users", "delete", "alice", db)
		if msg := mustFail(t, "", "users", "get", "alice", db); msg != `latchkey: user "alice" not found` {
			t.Errorf("get after delete: %q", msg)
		}
		if msg := mustFail(t, "", "users", "delete", "alice", db); msg != `latchkey: user "alice" not found` {
			t.Errorf("second delete: %q", msg)
		}
	})
}

func TestUsersCreateValidation(t *testing.T) {
	db, _ := tempDB(t)
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  []string
	}{
		{"every_problem_at_once", "short\n", []string{"--username", "al ice", "--password-stdin", "--email", "not-an-address"},
			[]string{"invalid user:", "username: must not contain spaces", `invalid email address "not-an-address"`, "at least 8 characters (got 5)"}},
		{"no_username", "", []string{"--password", "long enough"}, []string{"username: must be 1 to 255 characters"}},
		{"no_password", "", []string{"--username", "bob"}, []string{"a password is required: --password-stdin (recommended) or --password"}},
		{"both_passwords", "long enough\n", []string{"--username", "bob", "--password", "long enough", "--password-stdin"}, []string{"not both"}},
		{"empty_stdin", "", []string{"--username", "bob", "--password-stdin"}, []string{"at least 8 characters (got 0)"}},
		{"display_name_with_email", "long enough\n", []string{"--username", "bob", "--password-stdin", "--email", "Bob <bob@example.com>"}, []string{"invalid email address"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := mustFail(t, tt.stdin, append(append([]string{"users", "create"}, tt.args...), db)...)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%s", w, msg)
				}
			}
		})
	}
	r := cli{}.run(t.Context(), "short\n", "users", "create", "--username", "al ice", "--password-stdin", "--email", "x", db)
	var p *problemList
	if !errors.As(r.err, &p) || len(p.errs) != 3 {
		t.Errorf("want 3 problems listed together, got %v", r.err)
	}
	var list []userView
	mustRunJSON(t, &list, "users", "list", db)
	if len(list) != 0 {
		t.Errorf("invalid users were stored: %+v", list)
	}
}

func TestUsersEmailVerified(t *testing.T) {
	db, path := tempDB(t)
	var created userView
	mustRunJSON(t, &created, "users", "create", "--username", "alice", "--password", "long enough",
		"--email", "alice@example.com", "--email-verified", db)
	if !created.EmailVerified || created.Email != "alice@example.com" {
		t.Errorf("create printed %+v", created)
	}
	u, err := openDB(t, path).GetUserByUsername(t.Context(), "alice")
	if err != nil || !u.EmailVerified {
		t.Errorf("stored %+v, %v", u, err)
	}
	var got userView
	mustRunJSON(t, &got, "users", "get", "alice", db)
	if got != created {
		t.Errorf("get = %+v, want %+v", got, created)
	}
	for _, text := range []string{mustRun(t, "", "users", "get", "alice", db), mustRun(t, "", "users", "list", db)} {
		if !strings.Contains(text, "alice@example.com (verified)") {
			t.Errorf("text output does not show the address verified:\n%s", text)
		}
	}

	mustRunJSON(t, &got, "users", "create", "--username", "bob", "--password", "long enough", "--email", "bob@example.com", db)
	if got.EmailVerified {
		t.Errorf("an address is verified without --email-verified: %+v", got)
	}
	if text := mustRun(t, "", "users", "get", "bob", db); strings.Contains(text, "verified") {
		t.Errorf("text output shows an unverified address as verified:\n%s", text)
	}
	out := mustRun(t, "", "users", "get", "bob", db, "--output", "json")
	if !strings.Contains(out, `"email_verified": false`) {
		t.Errorf("JSON output lacks email_verified:\n%s", out)
	}

	msg := mustFail(t, "", "users", "create", "--username", "carol", "--password", "long enough", "--email-verified", db)
	if !strings.Contains(msg, "--email-verified needs --email") {
		t.Errorf("--email-verified without --email: %q", msg)
	}
}
