package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
)

// served is a serve command running in the background.
type served struct {
	addr           string
	stdout, stderr *syncBuffer
	stop           func()
}

// startServe runs `latchkey serve args...` in-process until the test ends
// or stop is called, and returns once it listens.
func startServe(t *testing.T, env map[string]string, args ...string) *served {
	t.Helper()
	return startCommand(t, env, "serve", args...)
}

// startCommand runs a serving command (serve or demo) in-process until
// the test ends or stop is called, and returns once it listens.
func startCommand(t *testing.T, env map[string]string, command string, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	s := &served{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	addrc := make(chan string, 1)
	a := &app{
		stdin:     strings.NewReader(""),
		stdout:    s.stdout,
		stderr:    s.stderr,
		lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		onListen:  func(addr string) { addrc <- addr },
	}
	done := make(chan error, 1)
	go func() { done <- a.run(ctx, append([]string{command}, args...)) }()
	select {
	case s.addr = <-addrc:
	case err := <-done:
		cancel()
		t.Fatalf("%s returned before listening: %v\nstderr:\n%s", command, err, s.stderr)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("%s did not listen within 30s\nstderr:\n%s", command, s.stderr)
	}
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s returned %v after its context was cancelled", command, err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("%s did not stop within 30s", command)
			}
		})
	}
	t.Cleanup(s.stop)
	return s
}

func getHealthz(t *testing.T, addr string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz answered %s", resp.Status)
	}
}

// bannerField returns the value printed after "name:" in the dev banner.
func bannerField(t *testing.T, banner, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `:\s+(\S+)\s*$`).FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("banner has no %q line:\n%s", name, banner)
	}
	return m[1]
}

func TestServeDev(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "dev.db")
	args := []string{"--dev", "--database", "sqlite:" + dbPath, "--listen", "127.0.0.1:0"}

	s := startServe(t, nil, args...)
	getHealthz(t, s.addr)
	banner := s.stdout.String()
	issuer := "http://" + s.addr
	if got := bannerField(t, banner, "Issuer"); got != issuer {
		t.Errorf("banner issuer %q, want the address listened on %q", got, issuer)
	}
	password := bannerField(t, banner, "password")
	clientSecret := bannerField(t, banner, "client_secret")
	verifier := bannerField(t, banner, "code_verifier")
	if bannerField(t, banner, "username") != "demo" || bannerField(t, banner, "client_id") != "demo-app" {
		t.Errorf("banner lacks the demo user or client:\n%s", banner)
	}
	if !secret.HasPrefix(clientSecret, secret.PrefixClientSecret) {
		t.Errorf("demo client secret %q is not of the generated form", clientSecret)
	}

	t.Run("authorize_url", func(t *testing.T) {
		m := regexp.MustCompile(`(?m)^\s*(http://\S+/authorize\?\S+)$`).FindStringSubmatch(banner)
		if m == nil {
			t.Fatalf("no authorize URL in the banner:\n%s", banner)
		}
		u, err := url.Parse(m[1])
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		want := map[string]string{
			"response_type":         "code",
			"client_id":             "demo-app",
			"redirect_uri":          issuer + "/dev/callback",
			"scope":                 "openid profile notes.read photos.read offline_access",
			"code_challenge_method": "S256",
		}
		for k, v := range want {
			if q.Get(k) != v {
				t.Errorf("authorize URL %s = %q, want %q", k, q.Get(k), v)
			}
		}
		if u.Scheme+"://"+u.Host != issuer || u.Path != "/authorize" || len(q.Get("state")) < 16 {
			t.Errorf("authorize URL %s", u)
		}
		if !oauth.VerifyPKCE(verifier, q.Get("code_challenge"), "S256") {
			t.Errorf("RFC7636_4.6: the printed code_verifier does not match the code_challenge")
		}
		if !strings.Contains(banner, "curl") || !strings.Contains(banner, issuer+"/token") {
			t.Errorf("banner lacks the curl redemption:\n%s", banner)
		}
	})
	s.stop()

	secretFile := dbPath + ".secret"
	fi, err := os.Stat(secretFile)
	if err != nil {
		t.Fatalf("dev system secret file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("dev system secret file mode %v, want 0600", fi.Mode().Perm())
	}
	systemSecret, _ := os.ReadFile(secretFile)
	if n := len(strings.TrimSpace(string(systemSecret))); n < 32 {
		t.Errorf("dev system secret is %d bytes, want at least 32", n)
	}

	t.Run("printed_credentials_work_and_are_hashed", func(t *testing.T) {
		st := openDB(t, dbPath)
		c, err := st.GetClient(t.Context(), "demo-app")
		if err != nil {
			t.Fatal(err)
		}
		if !secret.CheckClientSecret(c.SecretHash, clientSecret) || !strings.HasPrefix(c.SecretHash, "sha256:") {
			t.Errorf("the printed client secret does not verify against a sha256 hash")
		}
		if c.Name != "Cloud Print (demo)" || c.Public ||
			!slices.Equal(c.GrantTypes, []string{"authorization_code", "refresh_token"}) ||
			!slices.Equal(c.RedirectURIs, []string{issuer + "/dev/callback", "http://127.0.0.1/callback"}) ||
			!slices.Equal(c.Scopes, []string{"openid", "profile", "email", "offline_access", "notes.read", "photos.read"}) {
			t.Errorf("demo client = %+v", c)
		}
		u, err := st.GetUserByUsername(t.Context(), "demo")
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := secret.CheckPassword(u.PasswordHash, password); !ok {
			t.Errorf("the printed password does not verify")
		}
		if u.Name != "Demo User" || u.Email != "demo@example.com" {
			t.Errorf("demo user = %+v", u)
		}
		files := databaseBytes(t, dbPath)
		if bytes.Contains(files, []byte(clientSecret)) || bytes.Contains(files, []byte(password)) {
			t.Errorf("the database holds a demo credential in plain text")
		}
	})

	t.Run("restart_reuses_secret_without_duplicates", func(t *testing.T) {
		s2 := startServe(t, nil, args...)
		getHealthz(t, s2.addr)
		banner2 := s2.stdout.String()
		s2.stop()
		if got := bannerField(t, banner2, "client_secret"); got != clientSecret {
			t.Errorf("restart printed client secret %q, want the same %q", got, clientSecret)
		}
		if got := bannerField(t, banner2, "password"); got != password {
			t.Errorf("restart printed password %q, want the same %q", got, password)
		}
		if again, _ := os.ReadFile(secretFile); !bytes.Equal(again, systemSecret) {
			t.Errorf("the system secret file changed on restart")
		}
		if strings.Contains(s2.stderr.String(), "generated the system secret") {
			t.Errorf("restart generated a new system secret")
		}

		st := openDB(t, dbPath)
		clients, err := st.ListClients(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		users, err := st.ListUsers(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(clients) != 1 || clients[0].ID != "demo-app" || len(users) != 1 || users[0].Username != "demo" {
			t.Errorf("after a restart: clients %+v, users %+v; want one demo of each", clients, users)
		}
		// The new port's callback replaced the old one.
		if want := "http://" + s2.addr + "/dev/callback"; clients[0].RedirectURIs[0] != want {
			t.Errorf("demo redirect URIs %v, want %s first", clients[0].RedirectURIs, want)
		}
	})
}

func TestServeDevDefaultsInCurrentDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s := startServe(t, nil, "--dev", "--listen", "127.0.0.1:0")
	s.stop()
	for _, f := range []string{"latchkey-dev.db", "latchkey-dev.db.secret"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("dev mode did not create %s in the current directory: %v", f, err)
		}
	}
	// Management commands with --dev act on the same database.
	var list []clientView
	mustRunJSON(t, &list, "clients", "list", "--dev")
	if len(list) != 1 || list[0].ClientID != "demo-app" {
		t.Errorf("clients list --dev = %+v", list)
	}
}

func TestServeFlagBeatsEnvBeatsFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "latchkey.yaml")
	writeTestFile(t, file, "dev: true\nissuer: http://file.example.com\nlisten: 127.0.0.1:1\ndatabase: sqlite:"+filepath.Join(dir, "file.db")+"\n")
	env := map[string]string{"LATCHKEY_ISSUER": "http://env.example.com", "LATCHKEY_LISTEN": "127.0.0.1:0"}

	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"file", map[string]string{"LATCHKEY_LISTEN": "127.0.0.1:0"}, nil, "http://file.example.com"},
		{"env_beats_file", env, nil, "http://env.example.com"},
		{"flag_beats_env", env, []string{"--issuer", "http://flag.example.com"}, "http://flag.example.com"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startServe(t, tt.env, append([]string{"--config", file}, tt.args...)...)
			s.stop()
			if got := bannerField(t, s.stdout.String(), "Issuer"); got != tt.want {
				t.Errorf("issuer %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("listen_flag_beats_env", func(t *testing.T) {
		s := startServe(t, map[string]string{"LATCHKEY_LISTEN": "127.0.0.1:1"}, "--config", file, "--listen", "127.0.0.1:0")
		s.stop()
		if strings.HasSuffix(s.addr, ":1") {
			t.Errorf("listened on %s, the environment's address", s.addr)
		}
	})
}

func TestServeRefusesInvalidConfiguration(t *testing.T) {
	db, _ := tempDB(t)
	listened := false
	r := cli{onListen: func(string) { listened = true }}.run(t.Context(), "",
		"serve", db, "--issuer", "http://id.example.com/", "--listen", "nowhere")
	if r.err == nil {
		t.Fatal("serve started with an invalid configuration")
	}
	if listened {
		t.Error("serve listened before validating")
	}
	var p *problemList
	if !errors.As(r.err, &p) {
		t.Fatalf("err = %v, want a problem list", r.err)
	}
	msg := formatError(r.err)
	for _, w := range []string{"invalid configuration:", "\n  - issuer: must use https", "must not end with a slash", "\n  - listen: ", "\n  - system_secret: is required"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not report %q:\n%s", w, msg)
		}
	}
}

func TestServeAppliesStaticClientsAndUsers(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "static.db")
	generated := secret.New(secret.PrefixClientSecret).String()
	config := func(name string) string {
		return `issuer: http://127.0.0.1:1
listen: 127.0.0.1:0
database: sqlite:` + dbPath + `
system_secret: 0123456789abcdef0123456789abcdef
clients:
  - id: web
    name: ` + name + `
    secret: imported-web-secret
    redirect_uris: [https://web.example.com/cb]
    scopes: [openid, notes.read]
  - id: batch
    name: Batch
    secret: ` + generated + `
    grant_types: [client_credentials]
  - id: hashed
    name: Hashed
    secret_hash: ` + secret.HashClientSecret("given-as-hash") + `
    grant_types: [client_credentials]
  - id: tv
    name: TV
    public: true
    grant_types: [urn:ietf:params:oauth:grant-type:device_code]
users:
  - username: alice
    password: alice-password
    email: alice@example.com
  - username: bob
    password_hash: ` + secret.HashPassword("bob-password") + `
`
	}
	file := filepath.Join(dir, "latchkey.yaml")
	writeTestFile(t, file, config("Web"))

	s := startServe(t, nil, "--config", file)
	getHealthz(t, s.addr)
	s.stop()
	if out := s.stdout.String(); out != "" {
		t.Errorf("serve without --dev printed to stdout:\n%s", out)
	}

	st := openDB(t, dbPath)
	ctx := t.Context()
	check := func(id, plain, storage string) {
		t.Helper()
		c, err := st.GetClient(ctx, id)
		if err != nil {
			t.Fatalf("static client %s: %v", id, err)
		}
		if !strings.HasPrefix(c.SecretHash, storage) || !secret.CheckClientSecret(c.SecretHash, plain) {
			t.Errorf("static client %s: secret stored as %.10s..., want %s verifying the declared secret", id, c.SecretHash, storage)
		}
	}
	check("web", "imported-web-secret", "$argon2id$")
	check("batch", generated, "sha256:")
	check("hashed", "given-as-hash", "sha256:")
	tv, err := st.GetClient(ctx, "tv")
	if err != nil || !tv.Public || tv.SecretHash != "" || !slices.Equal(tv.GrantTypes, []string{oauth.GrantDeviceCode}) {
		t.Errorf("static public client = %+v, %v", tv, err)
	}
	web, _ := st.GetClient(ctx, "web")
	if !slices.Equal(web.GrantTypes, []string{"authorization_code", "refresh_token"}) {
		t.Errorf("static client without grant_types got %v, want the defaults", web.GrantTypes)
	}
	for user, pw := range map[string]string{"alice": "alice-password", "bob": "bob-password"} {
		u, err := st.GetUserByUsername(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := secret.CheckPassword(u.PasswordHash, pw); !ok {
			t.Errorf("static user %s: password does not verify", user)
		}
	}
	alice, _ := st.GetUserByUsername(ctx, "alice")

	t.Run("unchanged_file_changes_nothing", func(t *testing.T) {
		s := startServe(t, nil, "--config", file)
		s.stop()
		again, _ := st.GetClient(ctx, "web")
		if again.SecretHash != web.SecretHash || !again.UpdatedAt.Equal(web.UpdatedAt) {
			t.Errorf("an unchanged static client was rewritten")
		}
		a2, _ := st.GetUserByUsername(ctx, "alice")
		if a2.PasswordHash != alice.PasswordHash || a2.ID != alice.ID || !a2.UpdatedAt.Equal(alice.UpdatedAt) {
			t.Errorf("an unchanged static user was rewritten")
		}
		if strings.Contains(s.stderr.String(), "static client") || strings.Contains(s.stderr.String(), "static user") {
			t.Errorf("restart logged changes:\n%s", s.stderr)
		}
	})

	t.Run("changed_file_updates", func(t *testing.T) {
		writeTestFile(t, file, config("Web 2"))
		s := startServe(t, nil, "--config", file)
		s.stop()
		again, _ := st.GetClient(ctx, "web")
		if again.Name != "Web 2" || again.SecretHash != web.SecretHash || !again.CreatedAt.Equal(web.CreatedAt) {
			t.Errorf("static client after a change = %+v", again)
		}
		if !strings.Contains(s.stderr.String(), "static client updated") {
			t.Errorf("the update was not logged:\n%s", s.stderr)
		}
	})

	t.Run("invalid_static_client_is_refused", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.yaml")
		writeTestFile(t, bad, strings.Replace(config("Web"), "https://web.example.com/cb", "http://web.example.com/cb", 1)+
			"  - username: carol\n    password: carol-password\n")
		r := cli{}.run(t.Context(), "", "serve", "--config", bad)
		msg := formatError(r.err)
		if !strings.Contains(msg, `clients[0] ("web"): redirect URI "http://web.example.com/cb"`) {
			t.Errorf("error:\n%s", msg)
		}
		if _, err := st.GetUserByUsername(ctx, "carol"); err == nil {
			t.Errorf("a user was applied although a static client is invalid")
		}
	})
}

// TestServeLogsJSONInProductionAndTextInDev: without dev mode every log
// line is a JSON object, for log collectors; in dev mode, text.
func TestServeLogsJSONInProductionAndTextInDev(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "latchkey.yaml")
	writeTestFile(t, file, "issuer: http://127.0.0.1:1\nlisten: 127.0.0.1:0\ndatabase: sqlite:"+filepath.Join(dir, "p.db")+
		"\nsystem_secret: 0123456789abcdef0123456789abcdef\n")
	s := startServe(t, nil, "--config", file)
	s.stop()
	lines := strings.Split(strings.TrimSpace(s.stderr.String()), "\n")
	if len(lines) == 0 || lines[0] == "" {
		t.Fatal("the server logged nothing")
	}
	for _, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil || v["msg"] == nil {
			t.Fatalf("a production log line is not a JSON record: %q", l)
		}
	}
	db, _ := tempDB(t)
	dev := startServe(t, nil, "--dev", db)
	dev.stop()
	if l := strings.TrimSpace(dev.stderr.String()); !strings.HasPrefix(l, "time=") {
		t.Fatalf("dev mode logged %q, want text", l)
	}
}
