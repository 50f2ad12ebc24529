package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// validConfig is a production configuration that passes Validate.
func validConfig() Config {
	c := Default()
	c.Issuer = "https://id.example.com"
	c.Database = "postgres://latchkey@db.example.com:5432/latchkey?sslmode=verify-full"
	c.SystemSecret = strings.Repeat("k", MinSystemSecretLen)
	c.Clients = []Client{{ID: "web", Secret: "s3cret-long-enough", Name: "Web"}, {ID: "tv", Public: true}}
	c.Users = []User{{Username: "alice", Password: "correct-horse"}, {Username: "bob", PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"}}
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string // substring of the error; "" means valid
	}{
		{"valid_production_config", func(c *Config) {}, ""},
		{"registration/off_by_default", func(c *Config) {
			if c.Registration.Enabled {
				t.Error("registration must be off by default")
			}
		}, ""},
		{"registration/RFC9700_2_1_2/no_implicit", func(c *Config) { c.Registration.Policy.GrantTypes = []string{"implicit"} }, `registration.policy.grant_types: "implicit" may not`},
		{"registration/RFC9700_2_4/no_password", func(c *Config) { c.Registration.Policy.GrantTypes = []string{"password"} }, `"password" may not`},
		{"registration/RFC6749_3_3/policy_scope_is_a_scope_token", func(c *Config) { c.Registration.Policy.Scopes = []string{"notes.read notes.write"} }, `registration.policy.scopes: "notes.read notes.write" is not a valid scope token`},
		{"registration/no_admin_scope", func(c *Config) { c.Registration.Policy.Scopes = []string{"latchkey:admin:read"} }, `"latchkey:admin:read" may never be given`},
		{"registration/unknown_mode", func(c *Config) { c.Registration.Mode = "closed" }, "registration.mode: must be"},
		{"registration/open_mode_ok", func(c *Config) { c.Registration.Enabled, c.Registration.Mode = true, RegistrationOpen }, ""},
		{"registration/unknown_redirect_rule", func(c *Config) { c.Registration.Policy.RedirectURIs = "any" }, "registration.policy.redirect_uris"},
		{"registration/ttl_positive", func(c *Config) { c.Registration.UnusedClientTTL = 0 }, "registration.unused_client_ttl"},
		{"registration/limit_not_negative", func(c *Config) { c.Registration.PerAddressPerHour = -1 }, "registration.per_address_per_hour"},
		{"registration/keys_inline_or_file", func(c *Config) {
			c.Registration.SoftwareStatementKeys, c.Registration.SoftwareStatementKeysFile = "{}", "/k.json"
		}, "not both"},
		{"default_config_in_dev_mode", func(c *Config) { *c = Default(); c.Dev = true }, ""},
		{"default_config_without_dev_needs_system_secret", func(c *Config) { *c = Default() }, "system_secret: is required"},

		{"issuer/required", func(c *Config) { c.Issuer = "" }, "issuer: is required"},
		{"issuer/relative", func(c *Config) { c.Issuer = "/id" }, "issuer: must be an absolute http(s) URL"},
		{"issuer/no_host", func(c *Config) { c.Issuer = "https://" }, "issuer: must be an absolute"},
		{"issuer/other_scheme", func(c *Config) { c.Issuer = "ftp://id.example.com" }, `http or https scheme, got "ftp"`},
		{"issuer/RFC8414_2/query", func(c *Config) { c.Issuer = "https://id.example.com?tenant=a" }, "query"},
		{"issuer/RFC8414_2/empty_query", func(c *Config) { c.Issuer = "https://id.example.com?" }, "query"},
		{"issuer/RFC8414_2/fragment", func(c *Config) { c.Issuer = "https://id.example.com#x" }, "fragment"},
		{"issuer/RFC8414_2/http_needs_loopback", func(c *Config) { c.Issuer = "http://id.example.com" }, "must use https"},
		{"issuer/http_loopback_ok", func(c *Config) { c.Issuer = "http://127.0.0.1:8080" }, ""},
		{"issuer/http_ipv6_loopback_ok", func(c *Config) { c.Issuer = "http://[::1]:8080" }, ""},
		{"issuer/http_localhost_ok", func(c *Config) { c.Issuer = "http://localhost:8080" }, ""},
		{"issuer/http_anywhere_in_dev", func(c *Config) { c.Issuer = "http://id.example.com"; c.Dev = true }, ""},
		{"issuer/path_ok", func(c *Config) { c.Issuer = "https://example.com/auth" }, ""},
		{"issuer/trailing_slash", func(c *Config) { c.Issuer = "https://example.com/" }, "slash"},
		{"issuer/userinfo", func(c *Config) { c.Issuer = "https://u:p@example.com" }, "user information"},

		{"listen/not_host_port", func(c *Config) { c.Listen = "8080" }, "listen: must be host:port"},
		{"listen/bad_port", func(c *Config) { c.Listen = "127.0.0.1:http" }, `listen: invalid port "http"`},
		{"listen/port_too_big", func(c *Config) { c.Listen = "127.0.0.1:70000" }, "listen: invalid port"},
		{"listen/all_interfaces_ok", func(c *Config) { c.Listen = ":8080" }, ""},
		{"listen/ipv6_ok", func(c *Config) { c.Listen = "[::1]:0" }, ""},

		{"database/required", func(c *Config) { c.Database = "" }, "database: is required"},
		{"database/unknown_scheme", func(c *Config) { c.Database = "mysql://x/y" }, `database: must start with "sqlite:"`},
		{"database/sqlite_needs_path", func(c *Config) { c.Database = "sqlite:" }, "needs a file path"},
		{"database/sqlite_ok", func(c *Config) { c.Database = "sqlite:/var/lib/latchkey/db.sqlite" }, ""},
		{"database/postgresql_scheme_ok", func(c *Config) { c.Database = "postgresql://u@h/db" }, ""},
		{"database/postgres_needs_host", func(c *Config) { c.Database = "postgres:///db" }, "needs a host"},

		{"system_secret/too_short", func(c *Config) { c.SystemSecret = "short" }, "system_secret: must be at least 32 bytes, got 5"},
		{"system_secret/too_short_even_in_dev", func(c *Config) { c.SystemSecret = "short"; c.Dev = true }, "system_secret: must be at least 32 bytes"},
		{"system_secret/optional_in_dev", func(c *Config) { c.SystemSecret = ""; c.Dev = true }, ""},

		{"ttl/code_zero", func(c *Config) { c.Tokens.CodeTTL = 0 }, "tokens.code_ttl: must be positive"},
		{"ttl/access_negative", func(c *Config) { c.Tokens.AccessTokenTTL = -time.Second }, "tokens.access_token_ttl: must be positive"},
		{"ttl/refresh_zero", func(c *Config) { c.Tokens.RefreshTokenTTL = 0 }, "tokens.refresh_token_ttl: must be positive"},
		{"ttl/session_zero", func(c *Config) { c.Session.TTL = 0 }, "session.ttl: must be positive"},
		{"ttl/auth_request_zero", func(c *Config) { c.Session.AuthRequestTTL = 0 }, "session.auth_request_ttl: must be positive"},
		{"ttl/idle_zero", func(c *Config) { c.Session.IdleTTL = 0 }, "session.idle_ttl: must be positive"},
		{"ttl/idle_negative", func(c *Config) { c.Session.IdleTTL = -time.Minute }, "session.idle_ttl: must be positive"},
		{"ttl/idle_longer_than_ttl", func(c *Config) { c.Session.TTL = time.Hour; c.Session.IdleTTL = 61 * time.Minute }, "session.idle_ttl: must be at most session.ttl (1h0m0s), got 1h1m0s"},
		{"ttl/idle_equal_to_ttl_ok", func(c *Config) { c.Session.TTL = time.Hour; c.Session.IdleTTL = time.Hour }, ""},
		{"ttl/idle_shorter_than_ttl_ok", func(c *Config) { c.Session.IdleTTL = time.Minute }, ""},
		{"ttl/RFC6749_4.1.2/code_at_most_10m", func(c *Config) { c.Tokens.CodeTTL = 11 * time.Minute }, "tokens.code_ttl: must be at most 10m0s"},
		{"ttl/RFC6749_4.1.2/code_10m_ok", func(c *Config) { c.Tokens.CodeTTL = 10 * time.Minute }, ""},

		{"refresh_reuse_grace/negative_refused", func(c *Config) { c.Tokens.RefreshReuseGrace = -time.Second }, "tokens.refresh_reuse_grace: must be between 0 (strict: any reuse revokes the family) and 1m0s, got -1s"},
		{"refresh_reuse_grace/above_60s_refused", func(c *Config) { c.Tokens.RefreshReuseGrace = 61 * time.Second }, "tokens.refresh_reuse_grace: must be between 0"},
		{"refresh_reuse_grace/zero_is_strict_ok", func(c *Config) { c.Tokens.RefreshReuseGrace = 0 }, ""},
		{"refresh_reuse_grace/60s_ok", func(c *Config) { c.Tokens.RefreshReuseGrace = time.Minute }, ""},

		{"par/RFC9126_7_2/par_ttl_zero", func(c *Config) { c.Tokens.PARTTL = 0 }, "tokens.par_ttl: must be a whole number of seconds"},
		{"par/RFC9126_7_2/par_ttl_at_most_10m", func(c *Config) { c.Tokens.PARTTL = 11 * time.Minute }, "tokens.par_ttl: must be a whole number of seconds from 1s to 10m0s"},
		{"par/par_ttl_whole_seconds", func(c *Config) { c.Tokens.PARTTL = 1500 * time.Millisecond }, "tokens.par_ttl"},
		{"par/par_ttl_90s_ok", func(c *Config) { c.Tokens.PARTTL = 90 * time.Second }, ""},
		{"device/RFC8628_5.1/device_code_ttl_zero", func(c *Config) { c.Tokens.DeviceCodeTTL = 0 }, "tokens.device_code_ttl: must be positive"},
		{"device/RFC8628_5.1/device_code_ttl_at_most_1h", func(c *Config) { c.Tokens.DeviceCodeTTL = 61 * time.Minute }, "tokens.device_code_ttl: must be positive and at most 1h0m0s"},
		{"device/device_code_ttl_30m_ok", func(c *Config) { c.Tokens.DeviceCodeTTL = 30 * time.Minute }, ""},
		{"device/RFC8628_3.2/interval_whole_seconds", func(c *Config) { c.Tokens.DevicePollInterval = 1500 * time.Millisecond }, "tokens.device_poll_interval: must be a whole number of seconds"},
		{"device/RFC8628_3.2/interval_at_least_1s", func(c *Config) { c.Tokens.DevicePollInterval = 0 }, "tokens.device_poll_interval: must be a whole number of seconds, at least 1s"},
		{"device/interval_shorter_than_the_code", func(c *Config) { c.Tokens.DeviceCodeTTL = time.Minute; c.Tokens.DevicePollInterval = time.Minute }, "tokens.device_poll_interval: must be shorter than tokens.device_code_ttl"},
		{"device/interval_1s_ok", func(c *Config) { c.Tokens.DevicePollInterval = time.Second }, ""},

		{"scopes/RFC6749_3.3/space", func(c *Config) { c.Scopes = append(c.Scopes, Scope{Name: "notes read"}) }, "scopes[8].name"},
		{"scopes/RFC6749_3.3/quote", func(c *Config) { c.Scopes = []Scope{{Name: `a"b`}} }, "not a valid scope token"},
		{"scopes/RFC6749_3.3/backslash", func(c *Config) { c.Scopes = []Scope{{Name: `a\b`}} }, "not a valid scope token"},
		{"scopes/RFC6749_3.3/non_ascii", func(c *Config) { c.Scopes = []Scope{{Name: "notes.lesen\u00e9"}} }, "not a valid scope token"},
		{"scopes/empty_name", func(c *Config) { c.Scopes = []Scope{{Name: ""}} }, "scopes[0].name: is required"},
		{"scopes/duplicate", func(c *Config) { c.Scopes = []Scope{{Name: "a"}, {Name: "b"}, {Name: "a"}} }, `scopes[2].name: duplicate scope "a" (also scopes[0])`},
		{"scopes/RFC6749_3.3/all_allowed_punctuation", func(c *Config) { c.Scopes = []Scope{{Name: "urn:x:notes.read!#$%&'()*+,-/;<=>?@[]^_`{|}~"}} }, ""},

		{"clients/empty_id", func(c *Config) { c.Clients[1].ID = "" }, "clients[1].id: is required"},
		{"clients/duplicate_id", func(c *Config) { c.Clients[1].ID = "web" }, `clients[1].id: duplicate client id "web" (also clients[0])`},
		{"resources/uri_required", func(c *Config) { c.Resources = []Resource{{ClientID: "rs", ClientSecret: "rs-secret-long-enough"}} }, "resources[0].uri: is required"},
		{"resources/duplicate_uri", func(c *Config) {
			c.Resources = []Resource{{URI: "https://a/", ClientID: "a", ClientSecret: "rs-secret-long-enough"}, {URI: "https://a/", ClientID: "b", ClientSecret: "rs-secret-long-enough"}}
		}, `resources[1].uri: duplicate resource "https://a/" (also resources[0])`},
		{"resources/client_of_a_client", func(c *Config) {
			c.Resources = []Resource{{URI: "https://a/", ClientID: "web", ClientSecret: "rs-secret-long-enough"}}
		}, `resources[0].client_id: client id "web" is taken`},
		{"resources/secret_required", func(c *Config) { c.Resources = []Resource{{URI: "https://a/", ClientID: "a"}} }, "resources[0]: client_secret or client_secret_hash is required"},
		{"resources/bad_hash", func(c *Config) {
			c.Resources = []Resource{{URI: "https://a/", ClientID: "a", ClientSecretHash: "md5:x"}}
		}, "resources[0].client_secret_hash"},
		{"clients/RFC6819_5_1_4_2_2/imported_secret_too_short", func(c *Config) { c.Clients[0].Secret = "short" }, `clients[0].secret: a client secret must be 16 to 512 characters (got 5)`},
		{"clients/imported_secret_with_a_newline", func(c *Config) { c.Clients[0].Secret = "a-secret-long-enough\n" }, `clients[0].secret: a client secret must be printable ASCII`},
		{"resources/RFC6819_5_1_4_2_2/imported_secret_too_short", func(c *Config) {
			c.Resources = []Resource{{URI: "https://a/", ClientID: "a", ClientSecret: "s"}}
		}, `resources[0].client_secret: a client secret must be 16 to 512 characters`},
		{"resources/ok", func(c *Config) {
			c.Resources = []Resource{{URI: "https://a/", ClientID: "a", ClientSecret: "rs-secret-long-enough"}}
		}, ""},
		{"clients/secret_and_hash", func(c *Config) { c.Clients[0].SecretHash = "sha256:" + strings.Repeat("a", 64) }, "clients[0]: set secret or secret_hash, not both"},
		{"clients/malformed_hash", func(c *Config) { c.Clients[0].Secret = ""; c.Clients[0].SecretHash = "md5:abc" }, "clients[0].secret_hash: must be"},
		{"clients/sha256_hash_ok", func(c *Config) {
			c.Clients[0].Secret = ""
			c.Clients[0].SecretHash = "sha256:" + strings.Repeat("0f", 32)
		}, ""},

		{"users/empty_username", func(c *Config) { c.Users[0].Username = "" }, "users[0].username: is required"},
		{"users/duplicate_username", func(c *Config) { c.Users[1].Username = "alice" }, `users[1].username: duplicate username "alice"`},
		{"users/space_in_username", func(c *Config) { c.Users[0].Username = "al ice" }, "users[0].username: must not contain spaces"},
		{"users/no_password", func(c *Config) { c.Users[0].Password = "" }, "users[0]: password or password_hash is required"},
		{"users/password_and_hash", func(c *Config) { c.Users[1].Password = "correct-horse" }, "users[1]: set password or password_hash, not both"},
		{"users/short_password", func(c *Config) { c.Users[0].Password = "1234567" }, "users[0].password: must be at least 8 characters"},
		{"users/malformed_hash", func(c *Config) { c.Users[1].PasswordHash = "$2y$10$bcrypt" }, "users[1].password_hash: must be an argon2id"},
		{"users/email_verified_without_email", func(c *Config) { c.Users[0].EmailVerified = true }, "users[0].email_verified: needs an email"},
		{"users/email_verified_ok", func(c *Config) { c.Users[0].Email, c.Users[0].EmailVerified = "alice@example.com", true }, ""},
		{"session/revoke_refresh_on_logout_ok", func(c *Config) { c.Session.RevokeRefreshOnLogout = true }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.modify(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Config{
		Issuer:   "ftp://x?y",
		Listen:   "nope",
		Database: "mysql://x",
		Tokens:   Tokens{CodeTTL: time.Hour},
		Scopes:   []Scope{{Name: "a b"}, {Name: "c"}, {Name: "c"}},
		Clients:  []Client{{ID: ""}, {ID: "x"}, {ID: "x"}},
		Users:    []User{{Username: ""}},
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil")
	}
	want := []string{
		"issuer: ", "listen: ", "database: ", "system_secret: ",
		"tokens.code_ttl: must be at most", "tokens.access_token_ttl: ", "tokens.refresh_token_ttl: ",
		"session.ttl: ", "session.auth_request_ttl: ", "session.idle_ttl: ",
		"scopes[0].name: ", "scopes[2].name: duplicate",
		"clients[0].id: ", "clients[2].id: duplicate",
		"users[0].username: ", "users[0]: password",
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not report %q:\n%v", w, err)
		}
	}
	// errors.Join: one problem per line, each reachable on its own.
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) < len(want) {
		t.Errorf("want at least %d joined problems, got %v", len(want), err)
	}
	// The issuer's own problems are listed on one line, both named.
	if !strings.Contains(err.Error(), `scheme, got "ftp"`) || !strings.Contains(err.Error(), "query") {
		t.Errorf("issuer problems not all reported: %v", err)
	}
}
