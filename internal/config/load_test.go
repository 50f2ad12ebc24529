package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// envMap returns a lookup function over a fixed map, so tests never read
// the real environment.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "latchkey.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoad(t *testing.T) {
	const file = `
issuer: https://id.example.com
listen: 0.0.0.0:9000
database: postgres://db.example.com/latchkey
system_secret: file-secret-file-secret-file-secret-00
tokens:
  access_token_ttl: 30m
  code_ttl: 2m
session:
  ttl: 8h
scopes:
  - name: openid
  - name: notes.read
    description: Read your notes
clients:
  - id: web
    secret: s3cret-s3cret-s3cret
    name: Web
    redirect_uris: [https://web.example.com/cb]
    code_ttl: 1m
users:
  - username: alice
    password: correct-horse
`
	tests := []struct {
		name  string
		file  string // "" means no file
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{
			name: "defaults_without_file_or_env",
			check: func(t *testing.T, c Config) {
				if !reflect.DeepEqual(c, Default()) {
					t.Errorf("got %+v, want Default()", c)
				}
			},
		},
		{
			name: "file_overrides_defaults",
			file: file,
			check: func(t *testing.T, c Config) {
				want := Default()
				want.Issuer = "https://id.example.com"
				want.Listen = "0.0.0.0:9000"
				want.Database = "postgres://db.example.com/latchkey"
				want.SystemSecret = "file-secret-file-secret-file-secret-00"
				want.Tokens.AccessTokenTTL = 30 * time.Minute
				want.Tokens.CodeTTL = 2 * time.Minute
				want.Session.TTL = 8 * time.Hour
				want.Scopes = []Scope{{Name: "openid"}, {Name: "notes.read", Description: "Read your notes"}}
				want.Clients = []Client{{ID: "web", Secret: "s3cret-s3cret-s3cret", Name: "Web", RedirectURIs: []string{"https://web.example.com/cb"}, CodeTTL: time.Minute}}
				want.Users = []User{{Username: "alice", Password: "correct-horse"}}
				if !reflect.DeepEqual(c, want) {
					t.Errorf("got\n%+v\nwant\n%+v", c, want)
				}
			},
		},
		{
			name: "env_overrides_file",
			file: file,
			env: map[string]string{
				"LATCHKEY_ISSUER":                   "https://other.example.com",
				"LATCHKEY_LISTEN":                   "127.0.0.1:1",
				"LATCHKEY_DATABASE":                 "sqlite:/tmp/x.db",
				"LATCHKEY_SYSTEM_SECRET":            "env-secret",
				"LATCHKEY_DEV":                      "true",
				"LATCHKEY_TOKENS_ACCESS_TOKEN_TTL":  "5m",
				"LATCHKEY_SESSION_TTL":              "1h",
				"LATCHKEY_SESSION_AUTH_REQUEST_TTL": "2m",
			},
			check: func(t *testing.T, c Config) {
				if c.Issuer != "https://other.example.com" || c.Listen != "127.0.0.1:1" || c.Database != "sqlite:/tmp/x.db" ||
					c.SystemSecret != "env-secret" || !c.Dev {
					t.Errorf("top-level overrides not applied: %+v", c)
				}
				if c.Tokens.AccessTokenTTL != 5*time.Minute || c.Session.TTL != time.Hour || c.Session.AuthRequestTTL != 2*time.Minute {
					t.Errorf("nested overrides not applied: %+v %+v", c.Tokens, c.Session)
				}
				if c.Tokens.CodeTTL != 2*time.Minute {
					t.Errorf("file value lost where no env is set: code_ttl = %s", c.Tokens.CodeTTL)
				}
				if len(c.Clients) != 1 || len(c.Users) != 1 {
					t.Errorf("lists from file lost")
				}
			},
		},
		{
			name: "env_sets_refresh_reuse_grace_and_0_is_strict",
			env:  map[string]string{"LATCHKEY_TOKENS_REFRESH_REUSE_GRACE": "0s", "LATCHKEY_DEV": "1"},
			check: func(t *testing.T, c Config) {
				if c.Tokens.RefreshReuseGrace != 0 {
					t.Errorf("refresh_reuse_grace = %s, want 0 from the environment", c.Tokens.RefreshReuseGrace)
				}
			},
		},
		{
			name: "refresh_reuse_grace_defaults_to_5s",
			env:  map[string]string{"LATCHKEY_DEV": "1"},
			check: func(t *testing.T, c Config) {
				if c.Tokens.RefreshReuseGrace != 5*time.Second {
					t.Errorf("refresh_reuse_grace = %s, want the default 5s", c.Tokens.RefreshReuseGrace)
				}
			},
		},
		{
			name: "env_overrides_defaults_without_file",
			env:  map[string]string{"LATCHKEY_TOKENS_REFRESH_TOKEN_TTL": "48h", "LATCHKEY_DEV": "1"},
			check: func(t *testing.T, c Config) {
				if c.Tokens.RefreshTokenTTL != 48*time.Hour || !c.Dev {
					t.Errorf("got %+v dev=%v", c.Tokens, c.Dev)
				}
			},
		},
		{
			name: "empty_env_is_ignored",
			file: file,
			env:  map[string]string{"LATCHKEY_ISSUER": "", "LATCHKEY_DEV": ""},
			check: func(t *testing.T, c Config) {
				if c.Issuer != "https://id.example.com" || c.Dev {
					t.Errorf("empty variables changed the config: %q dev=%v", c.Issuer, c.Dev)
				}
			},
		},
		{
			name: "unrelated_env_is_ignored",
			env:  map[string]string{"LATCHKEY_TEST_POSTGRES_DSN": "postgres://x", "LATCHKEY_SCOPES": "a b"},
			check: func(t *testing.T, c Config) {
				if !reflect.DeepEqual(c, Default()) {
					t.Errorf("got %+v, want Default()", c)
				}
			},
		},
		{
			name: "empty_file_keeps_defaults",
			file: "# nothing here\n",
			check: func(t *testing.T, c Config) {
				if !reflect.DeepEqual(c, Default()) {
					t.Errorf("got %+v, want Default()", c)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			c, err := LoadWith(path, envMap(tt.env))
			if err != nil {
				t.Fatalf("LoadWith: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  map[string]string
		want []string // substrings of the error
	}{
		{
			name: "unknown_top_level_key_is_named",
			file: "issuer: https://x.example\nisuer: typo\n",
			want: []string{`latchkey.yaml: line 2: unknown key "isuer"`},
		},
		{
			name: "unknown_nested_key_is_named",
			file: "tokens:\n  acces_token_ttl: 1h\n",
			want: []string{"acces_token_ttl"},
		},
		{
			name: "unknown_key_in_client_is_named",
			file: "clients:\n  - id: a\n    redirect_uri: https://a.example/cb\n",
			want: []string{"redirect_uri"},
		},
		{
			name: "every_unknown_key_is_named",
			file: "foo: 1\nbar: 2\n",
			want: []string{"latchkey.yaml: line 1: unknown key \"foo\"\n", "latchkey.yaml: line 2: unknown key \"bar\""},
		},
		{
			name: "bad_duration_in_file",
			file: "tokens:\n  code_ttl: five minutes\n",
			want: []string{"line 2", "time.Duration", "like 90s"},
		},
		{
			name: "integer_duration_in_file_is_refused",
			file: "tokens:\n  code_ttl: 300\n",
			want: []string{"line 2", "300", "time.Duration"},
		},
		{
			name: "bad_duration_in_env",
			env:  map[string]string{"LATCHKEY_TOKENS_CODE_TTL": "5 minutes"},
			want: []string{"LATCHKEY_TOKENS_CODE_TTL", `invalid duration "5 minutes"`},
		},
		{
			name: "bad_bool_in_env",
			env:  map[string]string{"LATCHKEY_DEV": "yes please"},
			want: []string{"LATCHKEY_DEV", "invalid boolean"},
		},
		{
			name: "every_bad_env_is_reported",
			env:  map[string]string{"LATCHKEY_DEV": "maybe", "LATCHKEY_SESSION_TTL": "forever"},
			want: []string{"LATCHKEY_DEV", "LATCHKEY_SESSION_TTL"},
		},
		{
			name: "two_documents",
			file: "issuer: https://a.example\n---\nissuer: https://b.example\n",
			want: []string{"exactly one YAML document"},
		},
		{
			name: "not_yaml",
			file: "issuer: [unclosed\n",
			want: []string{"latchkey.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			_, err := LoadWith(path, envMap(tt.env))
			if err == nil {
				t.Fatal("LoadWith succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := LoadWith(filepath.Join(t.TempDir(), "absent.yaml"), envMap(nil))
	if err == nil || !strings.Contains(err.Error(), "absent.yaml") {
		t.Fatalf("got %v, want an error naming the file", err)
	}
}

func TestLoadUsesProcessEnvironment(t *testing.T) {
	t.Setenv("LATCHKEY_LISTEN", "127.0.0.1:4242")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:4242" {
		t.Errorf("Listen = %q, want the environment's", c.Listen)
	}
}

func TestEnvNames(t *testing.T) {
	want := []string{
		"LATCHKEY_ISSUER", "LATCHKEY_LISTEN", "LATCHKEY_DATABASE", "LATCHKEY_SYSTEM_SECRET", "LATCHKEY_DEV",
		"LATCHKEY_TOKENS_CODE_TTL", "LATCHKEY_TOKENS_ACCESS_TOKEN_TTL", "LATCHKEY_TOKENS_REFRESH_TOKEN_TTL",
		"LATCHKEY_SESSION_TTL", "LATCHKEY_SESSION_AUTH_REQUEST_TTL",
		"LATCHKEY_SESSION_IDLE_TTL", "LATCHKEY_SESSION_REVOKE_REFRESH_ON_LOGOUT",
		"LATCHKEY_TOKENS_DEVICE_CODE_TTL", "LATCHKEY_TOKENS_DEVICE_POLL_INTERVAL",
		"LATCHKEY_TOKENS_REFRESH_REUSE_GRACE",
		"LATCHKEY_REGISTRATION_ENABLED", "LATCHKEY_REGISTRATION_MODE", "LATCHKEY_REGISTRATION_POLICY_SCOPES",
	}
	got := EnvNames()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("EnvNames() lacks %s: %q", w, got)
		}
	}
	for _, g := range got {
		// The top-level lists are file-only; a string list inside a
		// section (registration.policy.scopes) is not.
		for _, list := range []string{"SCOPES", "CLIENTS", "USERS"} {
			if strings.HasPrefix(g, EnvPrefix+list) {
				t.Errorf("EnvNames() lists file-only key %s", g)
			}
		}
	}
}

func TestLoadOpenIDKeys(t *testing.T) {
	const file = `
session:
  idle_ttl: 30m
  revoke_refresh_on_logout: true
clients:
  - id: web
    name: Web
    post_logout_redirect_uris: [https://web.example.com/bye, http://127.0.0.1/bye]
    backchannel_logout_uri: https://web.example.com/bc
    frontchannel_logout_uri: https://web.example.com/fc
    initiate_login_uri: https://web.example.com/login
    logo_uri: https://cdn.example.com/web.png
    client_uri: https://web.example.com/
    description: The notes app
    first_party: true
    id_token_alg: ES256
users:
  - username: alice
    password: correct-horse
    email: alice@example.com
    email_verified: true
`
	c, err := LoadWith(writeFile(t, file), envMap(nil))
	if err != nil {
		t.Fatalf("LoadWith: %v", err)
	}
	wantClient := Client{
		ID: "web", Name: "Web",
		PostLogoutRedirectURIs: []string{"https://web.example.com/bye", "http://127.0.0.1/bye"},
		BackchannelLogoutURI:   "https://web.example.com/bc",
		FrontchannelLogoutURI:  "https://web.example.com/fc",
		InitiateLoginURI:       "https://web.example.com/login",
		LogoURI:                "https://cdn.example.com/web.png",
		ClientURI:              "https://web.example.com/",
		Description:            "The notes app",
		FirstParty:             true,
		IDTokenAlg:             "ES256",
	}
	if len(c.Clients) != 1 || !reflect.DeepEqual(c.Clients[0], wantClient) {
		t.Errorf("clients = %+v\nwant [%+v]", c.Clients, wantClient)
	}
	wantUser := User{Username: "alice", Password: "correct-horse", Email: "alice@example.com", EmailVerified: true}
	if len(c.Users) != 1 || c.Users[0] != wantUser {
		t.Errorf("users = %+v, want [%+v]", c.Users, wantUser)
	}
	if c.Session.IdleTTL != 30*time.Minute || !c.Session.RevokeRefreshOnLogout || c.Session.TTL != 24*time.Hour {
		t.Errorf("session = %+v", c.Session)
	}
	if err := func() error { c.SystemSecret = strings.Repeat("k", MinSystemSecretLen); return c.Validate() }(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestLoadSessionIdleTTLDefault(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		env    map[string]string
		idle   time.Duration
		revoke bool
	}{
		{name: "default", idle: DefaultIdleTTL},
		{name: "zero_in_file_means_the_default", file: "session:\n  idle_ttl: 0s\n", idle: DefaultIdleTTL},
		{name: "default_is_capped_by_a_shorter_ttl", file: "session:\n  ttl: 1h\n", idle: time.Hour},
		{name: "default_with_a_longer_ttl", file: "session:\n  ttl: 720h\n", idle: DefaultIdleTTL},
		{name: "zero_in_file_with_a_shorter_ttl", file: "session:\n  ttl: 45m\n  idle_ttl: 0s\n", idle: 45 * time.Minute},
		{name: "set_in_file", file: "session:\n  idle_ttl: 20m\n", idle: 20 * time.Minute},
		{name: "set_longer_than_ttl_is_kept_for_Validate", file: "session:\n  ttl: 1h\n  idle_ttl: 3h\n", idle: 3 * time.Hour},
		{name: "ttl_from_env_caps_the_default", env: map[string]string{"LATCHKEY_SESSION_TTL": "90m"}, idle: 90 * time.Minute},
		{
			name:   "env_overrides_file",
			file:   "session:\n  idle_ttl: 20m\n  revoke_refresh_on_logout: false\n",
			env:    map[string]string{"LATCHKEY_SESSION_IDLE_TTL": "10m", "LATCHKEY_SESSION_REVOKE_REFRESH_ON_LOGOUT": "true"},
			idle:   10 * time.Minute,
			revoke: true,
		},
		{name: "zero_in_env_means_the_default", env: map[string]string{"LATCHKEY_SESSION_IDLE_TTL": "0"}, idle: DefaultIdleTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			c, err := LoadWith(path, envMap(tt.env))
			if err != nil {
				t.Fatalf("LoadWith: %v", err)
			}
			if c.Session.IdleTTL != tt.idle || c.Session.RevokeRefreshOnLogout != tt.revoke {
				t.Errorf("idle_ttl = %s, revoke_refresh_on_logout = %v; want %s, %v",
					c.Session.IdleTTL, c.Session.RevokeRefreshOnLogout, tt.idle, tt.revoke)
			}
		})
	}
}

func TestLoadOpenIDKeyErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		file string
		env  map[string]string
		want string
	}{
		"bad_idle_ttl_in_env":   {env: map[string]string{"LATCHKEY_SESSION_IDLE_TTL": "two hours"}, want: "LATCHKEY_SESSION_IDLE_TTL"},
		"bad_revoke_in_env":     {env: map[string]string{"LATCHKEY_SESSION_REVOKE_REFRESH_ON_LOGOUT": "sometimes"}, want: "LATCHKEY_SESSION_REVOKE_REFRESH_ON_LOGOUT"},
		"integer_idle_ttl":      {file: "session:\n  idle_ttl: 7200\n", want: "time.Duration"},
		"misspelt_client_key":   {file: "clients:\n  - id: a\n    post_logout_redirect_uri: https://a.example/\n", want: `unknown key "post_logout_redirect_uri"`},
		"first_party_not_bool":  {file: "clients:\n  - id: a\n    first_party: maybe\n", want: "line 3"},
		"email_verified_string": {file: "users:\n  - username: a\n    email_verified: [yes]\n", want: "line 3"},
	} {
		t.Run(name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeFile(t, tc.file)
			}
			_, err := LoadWith(path, envMap(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadWith = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadTrustedProxies(t *testing.T) {
	c, err := LoadWith(writeFile(t, "server:\n  trusted_proxies: [10.0.0.0/8]\n  proxy_header: Forwarded\n"), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Server.TrustedProxies, []string{"10.0.0.0/8"}) || c.Server.ProxyHeader != "Forwarded" {
		t.Fatalf("from the file: %+v", c.Server)
	}
	c, err = LoadWith("", envMap(map[string]string{"LATCHKEY_SERVER_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1,"}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Server.TrustedProxies, []string{"10.0.0.0/8", "192.168.1.1"}) {
		t.Fatalf("from the environment, comma-separated: %q", c.Server.TrustedProxies)
	}
	c, err = LoadWith("", envMap(map[string]string{"LATCHKEY_SERVER_TRUSTED_PROXIES": "proxy.internal", "LATCHKEY_SERVER_PROXY_HEADER": "X-Real-IP"}))
	if err != nil {
		t.Fatal(err)
	}
	if err = c.Validate(); err == nil || !strings.Contains(err.Error(), "server.trusted_proxies") || !strings.Contains(err.Error(), "server.proxy_header") {
		t.Fatalf("want both problems reported, got %v", err)
	}
}

// TestLoadTLSFiles: server.tls_cert and server.tls_key load from the file
// and the environment, and one without the other is refused.
func TestLoadTLSFiles(t *testing.T) {
	c, err := LoadWith(writeFile(t, "server:\n  tls_cert: /etc/latchkey/cert.pem\n"), envMap(map[string]string{"LATCHKEY_SERVER_TLS_KEY": "/etc/latchkey/key.pem"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.TLSCert != "/etc/latchkey/cert.pem" || c.Server.TLSKey != "/etc/latchkey/key.pem" {
		t.Fatalf("tls files: %q %q", c.Server.TLSCert, c.Server.TLSKey)
	}
	c.Server.TLSKey = ""
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "server.tls_cert") {
		t.Fatalf("a certificate without its key: %v", err)
	}
}
