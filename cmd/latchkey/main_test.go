package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// syncBuffer is a bytes.Buffer safe for a server goroutine writing while
// the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cli runs the program in-process, the way main does, with a fixed
// environment (nothing from the real one unless env says so).
type cli struct {
	env      map[string]string
	onListen func(addr string)
}

type result struct {
	stdout, stderr string
	err            error
}

func (c cli) run(ctx context.Context, stdin string, args ...string) result {
	var stdout, stderr syncBuffer
	a := &app{
		stdin:     strings.NewReader(stdin),
		stdout:    &stdout,
		stderr:    &stderr,
		lookupEnv: func(k string) (string, bool) { v, ok := c.env[k]; return v, ok },
		onListen:  c.onListen,
	}
	err := a.run(ctx, args)
	return result{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// mustRun runs args and fails the test if the command fails.
func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := cli{}.run(t.Context(), stdin, args...)
	if r.err != nil {
		t.Fatalf("latchkey %s: %v\nstderr: %s", strings.Join(args, " "), formatError(r.err), r.stderr)
	}
	return r.stdout
}

// mustRunJSON runs args with --output json and decodes the output into v.
func mustRunJSON(t *testing.T, v any, args ...string) string {
	t.Helper()
	return mustRunJSONStdin(t, v, "", args...)
}

// mustRunJSONStdin is mustRunJSON with standard input.
func mustRunJSONStdin(t *testing.T, v any, stdin string, args ...string) string {
	t.Helper()
	out := mustRun(t, stdin, append(args, "--output", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("latchkey %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// mustFail runs args and returns the printed error; the command must fail.
func mustFail(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := cli{}.run(t.Context(), stdin, args...)
	if r.err == nil {
		t.Fatalf("latchkey %s succeeded, want an error\nstdout: %s", strings.Join(args, " "), r.stdout)
	}
	return formatError(r.err)
}

// tempDB returns the --database flag of a fresh SQLite database and its file.
func tempDB(t *testing.T) (flag, path string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "latchkey.db")
	return "--database=sqlite:" + path, path
}

// openDB opens the test database directly, to check what was stored.
func openDB(t *testing.T, path string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// databaseBytes returns the database file with its WAL and journal, so a
// check for plain-text secrets also sees rows not yet checkpointed.
func databaseBytes(t *testing.T, path string) []byte {
	t.Helper()
	var all []byte
	files, _ := filepath.Glob(path + "*")
	for _, f := range files {
		if strings.HasSuffix(f, ".secret") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if len(all) == 0 {
		t.Fatalf("no database files at %s", path)
	}
	return all
}

func TestRunEntry(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"version"}, strings.NewReader(""), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if want := "latchkey dev (" + runtime.Version(); !strings.HasPrefix(stdout.String(), want) {
		t.Errorf("version printed %q, want prefix %q", stdout.String(), want)
	}
}

func TestVersionJSON(t *testing.T) {
	var v struct{ Version, Go, Platform string }
	mustRunJSON(t, &v, "version")
	if v.Version != "dev" || v.Go != runtime.Version() || v.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("version = %+v", v)
	}
}

func TestUsageErrors(t *testing.T) {
	db, _ := tempDB(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown_command", []string{"frobnicate"}, `unknown command "frobnicate" for "latchkey"`},
		{"unknown_subcommand", []string{"clients", "lst", db}, `unknown command "lst" for "latchkey clients"`},
		{"unknown_flag", []string{"clients", "list", "--bogus", db}, "unknown flag: --bogus"},
		{"missing_argument", []string{"clients", "get", db}, "usage: latchkey clients get CLIENT_ID"},
		{"extra_argument", []string{"users", "get", "a", "b", db}, "usage: latchkey users get USERNAME"},
		{"bad_output", []string{"clients", "list", "--output", "yaml", db}, `invalid --output "yaml": want text or json`},
		{"bad_output_version", []string{"version", "-o", "xml"}, `invalid --output "xml"`},
		{"bad_database", []string{"clients", "list", "--database", "mysql://x/y"}, `database: must start with "sqlite:"`},
		{"bad_duration_flag", []string{"clients", "create", "--name", "x", "--code-ttl", "soon", db}, `invalid argument "soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := mustFail(t, "", tt.args...)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not contain %q", msg, tt.want)
			}
			if strings.Contains(msg, "goroutine") || strings.Contains(msg, ".go:") {
				t.Errorf("error looks like a stack trace: %q", msg)
			}
			if !strings.HasPrefix(msg, "latchkey: ") || strings.Count(msg, "\n") != 0 {
				t.Errorf("want one line starting with \"latchkey: \", got %q", msg)
			}
		})
	}
}

func TestOutputIsCheckedBeforeAnyChange(t *testing.T) {
	db, path := tempDB(t)
	mustFail(t, "", "clients", "create", "--name", "x", "--redirect-uri", "https://x.example/cb", "-o", "yaml", db)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the database was created (%v) although the command was refused", err)
	}
}

func TestConfigFileAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "latchkey.yaml")
	fileDB := filepath.Join(dir, "file.db")
	envDB := filepath.Join(dir, "env.db")
	flagDB := filepath.Join(dir, "flag.db")
	writeTestFile(t, file, "database: sqlite:"+fileDB+"\n")
	envFile := filepath.Join(dir, "env.yaml")
	envFileDB := filepath.Join(dir, "envfile.db")
	writeTestFile(t, envFile, "database: sqlite:"+envFileDB+"\n")
	ctx := t.Context()
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"file", nil, []string{"--config", file}, fileDB},
		{"config_from_env", map[string]string{"LATCHKEY_CONFIG": envFile}, nil, envFileDB},
		{"config_flag_beats_env", map[string]string{"LATCHKEY_CONFIG": envFile}, []string{"--config", file}, fileDB},
		{"env_beats_file", map[string]string{"LATCHKEY_DATABASE": "sqlite:" + envDB}, []string{"--config", file}, envDB},
		{"flag_beats_env", map[string]string{"LATCHKEY_DATABASE": "sqlite:" + envDB}, []string{"--config", file, "--database", "sqlite:" + flagDB}, flagDB},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := cli{env: tt.env}.run(ctx, "", append([]string{"migrate"}, tt.args...)...)
			if r.err != nil {
				t.Fatal(formatError(r.err))
			}
			if _, err := os.Stat(tt.want); err != nil {
				t.Errorf("database %s not created: %v", tt.want, err)
			}
		})
	}

	t.Run("unknown_key_is_named", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.yaml")
		if err := os.WriteFile(bad, []byte("databse: sqlite:x.db\nlisten: 1\nlisen: 2\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		msg := mustFail(t, "", "migrate", "--config", bad)
		for _, w := range []string{"invalid configuration:", "\n  - ", "databse", "lisen"} {
			if !strings.Contains(msg, w) {
				t.Errorf("error %q does not contain %q", msg, w)
			}
		}
	})
}

func TestMigrate(t *testing.T) {
	db, path := tempDB(t)
	var out struct{ Migrated bool }
	mustRunJSON(t, &out, "migrate", db)
	if !out.Migrated {
		t.Errorf("migrate --output json = %+v", out)
	}
	if got := mustRun(t, "", "migrate", db); !strings.Contains(got, "up to date") {
		t.Errorf("second migrate printed %q", got)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

func writeTestFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateStatus: migrate --status shows the pending migrations of a
// fresh database and applies none; after migrate, none is pending.
func TestMigrateStatus(t *testing.T) {
	db, _ := tempDB(t)
	var st struct {
		Current, Latest int64
		Pending         []string
	}
	for range 2 {
		mustRunJSON(t, &st, "migrate", "--status", db)
		// Every migration is pending, the last one numbered Latest (the
		// numbers may skip one that another change lands separately).
		if st.Current != 0 || st.Latest == 0 || len(st.Pending) == 0 || int64(len(st.Pending)) > st.Latest ||
			!strings.HasPrefix(st.Pending[len(st.Pending)-1], fmt.Sprintf("%05d_", st.Latest)) {
			t.Fatalf("migrate --status on a fresh database = %+v", st)
		}
	}
	mustRun(t, "", "migrate", db)
	if got := mustRun(t, "", "migrate", "--status", db); !strings.Contains(got, "Up to date.") {
		t.Fatalf("migrate --status after migrate printed %q", got)
	}
}

// TestDBStats: db stats counts the rows of every table, and the expired
// ones of the tables whose rows expire.
func TestDBStats(t *testing.T) {
	db, _ := tempDB(t)
	mustRun(t, "", "clients", "create", "--name", "Backup", "--grant-type", "client_credentials", "--scope", "notes.read", db)
	var stats []struct {
		Table   string
		Rows    int64
		Expires bool
	}
	mustRunJSON(t, &stats, "db", "stats", db)
	rows := map[string]int64{}
	for _, s := range stats {
		rows[s.Table] = s.Rows
	}
	if rows["clients"] != 1 || rows["tokens"] != 0 || len(stats) < 14 {
		t.Fatalf("db stats = %+v", stats)
	}
	if got := mustRun(t, "", "db", "stats", db); !strings.Contains(got, "OLDEST EXPIRED") || !strings.Contains(got, "clients") {
		t.Fatalf("db stats printed %q", got)
	}
}
