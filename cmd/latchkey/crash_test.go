package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The crash test runs this test binary as the server, so it can be killed
// with SIGKILL like a real process: with LATCHKEY_CRASH_CHILD set, TestMain
// runs the command line in LATCHKEY_CRASH_ARGS instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("LATCHKEY_CRASH_CHILD") == "1" {
		args := strings.Split(os.Getenv("LATCHKEY_CRASH_ARGS"), "\n")
		if err := run(context.Background(), args, os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// proc is a Latchkey process started from this test binary.
type proc struct {
	cmd  *exec.Cmd
	base string
}

func startServer(t *testing.T, addr string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LATCHKEY_CRASH_CHILD=1", "LATCHKEY_CRASH_ARGS="+strings.Join(append(args, "--listen", addr), "\n"))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &proc{cmd: cmd, base: "http://" + addr}
	t.Cleanup(func() { s.cmd.Process.Kill(); s.cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(s.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the server did not become ready")
	return nil
}

func (s *proc) post(t *testing.T, path, id, sec string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, sec)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestCrash_NothingAcknowledgedIsLost (SECURITY.md c.0, D1, D4): tokens
// issued, refresh tokens rotated and tokens revoked before a SIGKILL are
// exactly as they were after a restart, and the signing keys are the same.
func TestCrash_NothingAcknowledgedIsLost(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "latchkey.db")
	var c struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	mustRunJSON(t, &c, "clients", "create", "--dev", "--database", db, "--name", "Notes desktop",
		"--grant-type", "password", "--grant-type", "refresh_token", "--grant-type", "client_credentials", "--scope", "notes.read")
	var opaque struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	mustRunJSON(t, &opaque, "clients", "create", "--dev", "--database", db, "--name", "Backup", "--grant-type", "client_credentials",
		"--scope", "notes.read", "--access-token-format", "opaque")
	mustRun(t, "a strong password\n", "users", "create", "--dev", "--database", db, "--username", "alice", "--password-stdin")

	addr := freeAddr(t)
	args := []string{"serve", "--dev", "--database", db}
	s := startServer(t, addr, args...)
	jwks := func() string {
		resp, err := http.Get(s.base + "/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	keysBefore := jwks()

	_, pw := s.post(t, "/token", c.ClientID, c.ClientSecret, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"a strong password"}, "scope": {"notes.read"}})
	rt1, _ := pw["refresh_token"].(string)
	_, rotated := s.post(t, "/token", c.ClientID, c.ClientSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}})
	rt2, _ := rotated["refresh_token"].(string)
	_, cc := s.post(t, "/token", c.ClientID, c.ClientSecret, url.Values{"grant_type": {"client_credentials"}})
	_, kept := s.post(t, "/token", opaque.ClientID, opaque.ClientSecret, url.Values{"grant_type": {"client_credentials"}})
	_, gone := s.post(t, "/token", opaque.ClientID, opaque.ClientSecret, url.Values{"grant_type": {"client_credentials"}})
	if rt1 == "" || rt2 == "" || cc["access_token"] == nil || kept["access_token"] == nil || gone["access_token"] == nil {
		t.Fatalf("issuing failed: %v %v %v %v %v", pw, rotated, cc, kept, gone)
	}
	if code, _ := s.post(t, "/revoke", opaque.ClientID, opaque.ClientSecret, url.Values{"token": {gone["access_token"].(string)}}); code != 200 {
		t.Fatalf("revoke: %d", code)
	}

	// SIGKILL: no shutdown, no checkpoint.
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.cmd.Wait()
	s = startServer(t, addr, args...)

	if jwks() != keysBefore {
		t.Fatal("the signing keys changed across the crash")
	}
	introspect := func(id, sec, tok string) bool {
		_, out := s.post(t, "/introspect", id, sec, url.Values{"token": {tok}})
		v, _ := out["active"].(bool)
		return v
	}
	if !introspect(c.ClientID, c.ClientSecret, cc["access_token"].(string)) {
		t.Fatal("a JWT issued before the crash is not active after it")
	}
	if !introspect(opaque.ClientID, opaque.ClientSecret, kept["access_token"].(string)) {
		t.Fatal("an opaque token issued before the crash is lost")
	}
	if introspect(opaque.ClientID, opaque.ClientSecret, gone["access_token"].(string)) {
		t.Fatal("a token revoked before the crash came back")
	}
	if code, out := s.post(t, "/token", c.ClientID, c.ClientSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt2}}); code != 200 {
		t.Fatalf("the refresh token issued before the crash: %d %v", code, out)
	}
	if code, _ := s.post(t, "/token", c.ClientID, c.ClientSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}}); code != 400 {
		t.Fatalf("a refresh token rotated before the crash works again: %d", code)
	}
}
