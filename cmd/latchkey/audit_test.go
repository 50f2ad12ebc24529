package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
)

// TestAudit_ChangesFromTheCommandLineAreAuditEvents: each change made with
// the CLI writes one audit line (JSON outside dev mode) with actor "cli"
// and the changed object's id, and never the secret it set; a password set
// by an administrator also reaches the user's activity.
func TestAudit_ChangesFromTheCommandLineAreAuditEvents(t *testing.T) {
	db, path := tempDB(t)
	run := func(stdin string, args ...string) result {
		t.Helper()
		r := cli{env: map[string]string{"LATCHKEY_SYSTEM_SECRET": strings.Repeat("s", 32)}}.run(t.Context(), stdin, append(args, "--output", "json")...)
		if r.err != nil {
			t.Fatalf("latchkey %s: %v\n%s", strings.Join(args, " "), formatError(r.err), r.stderr)
		}
		return r
	}
	var created clientView
	r := run("", "clients", "create", db, "--name", "Cloud Print", "--redirect-uri", "https://print.example/cb")
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil {
		t.Fatal(err)
	}
	logs := r.stderr
	rotated := run("", "clients", "rotate-secret", db, created.ClientID)
	logs += rotated.stderr
	logs += run("", "clients", "delete", db, created.ClientID).stderr
	logs += run("first password 1\n", "users", "create", db, "--username", "alice", "--password-stdin").stderr
	logs += run("second password 2\n", "users", "set-password", db, "alice", "--password-stdin").stderr
	logs += run("", "keys", "rotate", db, "--publish-delay", "0").stderr

	type line struct {
		Msg, Level, Event, Actor, Detail string
		ClientID                         string `json:"client_id"`
		UserID                           string `json:"user_id"`
	}
	var events []line
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var ev line
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("a log line is not JSON: %q", l)
		}
		if ev.Msg == "audit" {
			events = append(events, ev)
		}
	}
	want := []struct{ event, detail string }{
		{"client.changed", "created"}, {"client.changed", "secret rotated"}, {"client.changed", "deleted"},
		{"user.changed", "created"}, {"user.password_changed", "set by an administrator"}, {"key.changed", ""},
	}
	if len(events) != len(want) {
		t.Fatalf("audit events %+v, want %d", events, len(want))
	}
	for i, w := range want {
		ev := events[i]
		if ev.Event != w.event || (w.detail != "" && ev.Detail != w.detail) || ev.Actor != "cli" || ev.Level != "INFO" {
			t.Errorf("event %d = %+v, want %s %q by cli", i, ev, w.event, w.detail)
		}
		if strings.HasPrefix(w.event, "client.") && ev.ClientID != created.ClientID {
			t.Errorf("event %d names client %q, want %q", i, ev.ClientID, created.ClientID)
		}
		if strings.HasPrefix(w.event, "user.") && ev.UserID == "" {
			t.Errorf("event %d names no user", i)
		}
	}
	for _, s := range []string{created.ClientSecret, "first password 1", "second password 2"} {
		if strings.Contains(logs, s) {
			t.Errorf("the CLI logged a secret (%.6s…)", s)
		}
	}
	var rot clientView
	if err := json.Unmarshal([]byte(rotated.stdout), &rot); err != nil || rot.ClientSecret == "" || strings.Contains(logs, rot.ClientSecret) {
		t.Errorf("the rotated secret is missing from the output or present in the logs (%v)", err)
	}

	activity, err := openDB(t, path).ListActivity(t.Context(), events[4].UserID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(activity) != 1 || activity[0].Kind != store.ActivityPassword {
		t.Errorf("the user's activity is %+v, want the password change", activity)
	}
}
