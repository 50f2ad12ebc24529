package main

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv"
)

// hupServer is `latchkey serve --config FILE` run as a child process (this
// test binary, see TestMain), so that it receives a real SIGHUP; its log
// lines (JSON) are collected.
type hupServer struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	logs []map[string]any
	raw  strings.Builder
}

func startHupServer(t *testing.T, configFile string) *hupServer {
	t.Helper()
	s := &hupServer{addr: freeAddr(t)}
	s.cmd = exec.Command(os.Args[0], "-test.run=^$")
	s.cmd.Env = append(os.Environ(), "LATCHKEY_CRASH_CHILD=1",
		"LATCHKEY_CRASH_ARGS="+strings.Join([]string{"serve", "--config", configFile, "--listen", s.addr}, "\n"))
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout = io.Discard
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		s.cmd.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", s.rawLog())
		}
	})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line map[string]any
			json.Unmarshal(sc.Bytes(), &line)
			s.mu.Lock()
			s.raw.WriteString(sc.Text() + "\n")
			if line != nil {
				s.logs = append(s.logs, line)
			}
			s.mu.Unlock()
		}
	}()
	s.waitLog(t, "listening", 0)
	return s
}

func (s *hupServer) rawLog() string { s.mu.Lock(); defer s.mu.Unlock(); return s.raw.String() }

// waitLog waits for a log line with message msg after the first skip lines,
// and returns it with the number of lines seen.
func (s *hupServer) waitLog(t *testing.T, msg string, skip int) (map[string]any, int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		for i := skip; i < len(s.logs); i++ {
			if s.logs[i]["msg"] == msg {
				line := s.logs[i]
				s.mu.Unlock()
				return line, i + 1
			}
		}
		s.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %q log line within 30s", msg)
	return nil, 0
}

// waitAudit waits for the audit event named event after the first skip
// lines.
func (s *hupServer) waitAudit(t *testing.T, event string, skip int) map[string]any {
	t.Helper()
	for {
		line, next := s.waitLog(t, "audit", skip)
		if line["event"] == event {
			return line
		}
		skip = next
	}
}

func (s *hupServer) lines() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.logs) }

func (s *hupServer) hangup(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// token asks for a client_credentials token; it returns the status and
// the granted scope.
func (s *hupServer) token(t *testing.T, scheme, id, sec, scope string, client *http.Client) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, scheme+"://"+s.addr+"/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, sec)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Scope string `json:"scope"`
		Error string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 {
		return resp.StatusCode, out.Error
	}
	return resp.StatusCode, out.Scope
}

func (s *hupServer) scopesSupported(t *testing.T) []string {
	t.Helper()
	resp, err := http.Get("http://" + s.addr + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		Scopes []string `json:"scopes_supported"`
	}
	json.NewDecoder(resp.Body).Decode(&m)
	return m.Scopes
}

const reloadBase = `system_secret: reload-test-system-secret-0123456789
database: sqlite:%DIR%/latchkey.db
`

const reloadV1 = reloadBase + `scopes:
  - name: notes.read
    description: Read your notes
clients:
  - id: indexer
    name: Indexer
    secret: indexer-secret-that-is-long-enough
    grant_types: [client_credentials]
    scopes: [notes.read]
`

func writeConfig(t *testing.T, path, body string) {
	t.Helper()
	body = strings.ReplaceAll(body, "%DIR%", filepath.Dir(path))
	// Write beside and rename, as an editor or a config manager does.
	if err := os.WriteFile(path+".new", []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// TestReload_SIGHUPAddsAScopeAndAStaticClient: a scope and a static client
// added to the file are served after SIGHUP, without a restart; a change
// that needs a restart is named in a warning and not applied.
func TestReload_SIGHUPAddsAScopeAndAStaticClient(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "latchkey.yaml")
	writeConfig(t, file, reloadV1)
	s := startHupServer(t, file)
	hc := http.DefaultClient
	if code, scope := s.token(t, "http", "indexer", "indexer-secret-that-is-long-enough", "notes.read", hc); code != 200 || scope != "notes.read" {
		t.Fatalf("before the reload: %d %s", code, scope)
	}
	if code, _ := s.token(t, "http", "reporter", "reporter-secret-that-is-long-enough", "reports.read", hc); code == 200 {
		t.Fatal("the reporter has a token before it is configured")
	}

	writeConfig(t, file, reloadBase+`scopes:
  - name: notes.read
    description: Read your notes
  - name: reports.read
    description: Read your reports
clients:
  - id: indexer
    name: Indexer
    secret: indexer-secret-that-is-long-enough
    grant_types: [client_credentials]
    scopes: [notes.read]
  - id: reporter
    name: Reporter
    secret: reporter-secret-that-is-long-enough
    grant_types: [client_credentials]
    scopes: [reports.read]
tokens:
  access_token_ttl: 2h
`)
	n := s.lines()
	s.hangup(t)
	line, _ := s.waitLog(t, "configuration reloaded", n)
	if line["clients_created"] != 1.0 || line["scopes_added"] != 1.0 || line["scopes"] != 2.0 || line["level"] != "INFO" {
		t.Errorf("reload log line %v, want 1 client created and 1 scope added of 2", line)
	}
	if ev := s.waitAudit(t, "config.reloaded", n); ev["actor"] != "signal" {
		t.Errorf("reload audit event %v, want actor signal", ev)
	}
	if strings.Contains(s.rawLog(), "reporter-secret") {
		t.Error("the log shows a client secret")
	}
	warn, _ := s.waitLog(t, "configuration changes that need a restart were not applied; the running values are kept", n)
	if got, _ := warn["settings"].([]any); !slices.Equal(got, []any{"tokens.access_token_ttl"}) {
		t.Errorf("restart-only settings %v, want [tokens.access_token_ttl]", warn["settings"])
	}

	if code, scope := s.token(t, "http", "reporter", "reporter-secret-that-is-long-enough", "reports.read", hc); code != 200 || scope != "reports.read" {
		t.Fatalf("the new client with the new scope: %d %s", code, scope)
	}
	if code, scope := s.token(t, "http", "indexer", "indexer-secret-that-is-long-enough", "notes.read", hc); code != 200 || scope != "notes.read" {
		t.Fatalf("the old client after the reload: %d %s", code, scope)
	}
	if got := s.scopesSupported(t); !slices.Equal(got, []string{"notes.read", "reports.read"}) {
		t.Errorf("scopes_supported %v after the reload", got)
	}
}

// TestReload_ABrokenFileIsRefusedWithEveryProblem: a file with several
// problems is refused as a whole at SIGHUP, one error line lists every
// problem, and the running clients and scopes keep working.
func TestReload_ABrokenFileIsRefusedWithEveryProblem(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "latchkey.yaml")
	writeConfig(t, file, reloadV1)
	s := startHupServer(t, file)
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"wrong_value_types", reloadV1 + "tokens:\n  access_token_ttl: soon\n  code_ttl: [1]\nsession:\n  ttl: forever\n",
			[]string{"line 13: cannot unmarshal !!str `soon`", "line 14: cannot unmarshal !!seq", "line 16: cannot unmarshal !!str `forever`"}},
		{"invalid_clients_and_settings", reloadV1 + `  - id: broken-one
    name: Broken-one
    secret: broken-one-secret-long-enough
    grant_types: [client_credentials]
    scopes: [no.such.scope]
  - id: broken-two
    name: Broken-two
    grant_types: [authorization_code]
    redirect_uris: ["javascript:alert(1)"]
    scopes: [notes.read]
    public: true
  - id: indexer
    name: Indexer
    secret: duplicate
consent:
  default_lifetime: 3h
`, []string{"broken-one", "no.such.scope", "broken-two", "javascript", "consent.default_lifetime", "duplicate client id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writeConfig(t, file, tc.body)
			n := s.lines()
			s.hangup(t)
			line, _ := s.waitLog(t, "configuration reload refused; the running configuration is kept", n)
			list, _ := json.Marshal(line["problems"])
			if line["level"] != "ERROR" {
				t.Errorf("level %v, want ERROR", line["level"])
			}
			for _, w := range tc.want {
				if !strings.Contains(string(list), w) {
					t.Errorf("the problems %s do not mention %q", list, w)
				}
			}
			if ev := s.waitAudit(t, "config.reload_refused", n); ev["detail"] != fmt.Sprintf("%v problems", line["count"]) {
				t.Errorf("refusal audit event %v, want the count of problems", ev)
			}
			if c, _ := line["count"].(float64); int(c) < 3 {
				t.Errorf("%v problems listed, want every one (at least 3)", line["count"])
			}
			if code, scope := s.token(t, "http", "indexer", "indexer-secret-that-is-long-enough", "notes.read", http.DefaultClient); code != 200 || scope != "notes.read" {
				t.Fatalf("the running client after a refused reload: %d %s", code, scope)
			}
			if code, _ := s.token(t, "http", "broken-one", "broken-one-secret-long-enough", "notes.read", http.DefaultClient); code == 200 {
				t.Fatal("a client of the refused file got a token")
			}
			if got := s.scopesSupported(t); !slices.Equal(got, []string{"notes.read"}) {
				t.Errorf("scopes_supported %v after a refused reload", got)
			}
		})
	}
}

// servedSerial is the serial number of the certificate addr serves.
func servedSerial(t *testing.T, addr string) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestReload_SIGHUPServesTheNewCertificateAtOnce: TLS files replaced on
// disk are served from the first handshake after SIGHUP, without waiting
// for the periodic check; files that do not load are refused and the
// certificate served before is kept.
func TestReload_SIGHUPServesTheNewCertificateAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	testenv.WriteCert(t, certFile, keyFile, 1)
	file := filepath.Join(dir, "latchkey.yaml")
	writeConfig(t, file, reloadV1+"issuer: https://127.0.0.1\nserver:\n  tls_cert: "+certFile+"\n  tls_key: "+keyFile+"\n")
	s := startHupServer(t, file)
	if got := servedSerial(t, s.addr); got != 1 {
		t.Fatalf("serves serial %d, want 1", got)
	}
	// Within the periodic check's 5 s: only the reload can explain a change.
	start := time.Now()
	testenv.WriteCert(t, certFile, keyFile, 2)
	n := s.lines()
	s.hangup(t)
	line, _ := s.waitLog(t, "configuration reloaded", n)
	if line["tls_reloaded"] != true {
		t.Errorf("reload log line %v, want tls_reloaded", line)
	}
	if got := servedSerial(t, s.addr); got != 2 {
		t.Fatalf("serves serial %d after SIGHUP, want the new certificate 2", got)
	}
	if time.Since(start) >= 5*time.Second {
		t.Log("slower than the periodic check: the test proved less than it could")
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if code, scope := s.token(t, "https", "indexer", "indexer-secret-that-is-long-enough", "notes.read", hc); code != 200 || scope != "notes.read" {
		t.Fatalf("token over the new certificate: %d %s", code, scope)
	}

	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	n = s.lines()
	s.hangup(t)
	line, _ = s.waitLog(t, "configuration reload refused; the running configuration is kept", n)
	if list, _ := json.Marshal(line["problems"]); !strings.Contains(string(list), "server.tls_cert") {
		t.Errorf("problems %s do not name server.tls_cert", list)
	}
	if got := servedSerial(t, s.addr); got != 2 {
		t.Fatalf("serves serial %d after a refused reload, want 2 still", got)
	}
}
