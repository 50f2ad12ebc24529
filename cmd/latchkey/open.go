package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

const (
	// devDatabase is the database of dev mode unless one is configured,
	// relative to the current directory.
	devDatabase = "sqlite:latchkey-dev.db"
	// devSecretFile keeps the dev system secret when the database is not a
	// SQLite file (so there is nothing to put it beside).
	devSecretFile = "latchkey-dev.secret"
	// configEnv names the configuration file when --config is not given.
	configEnv = "LATCHKEY_CONFIG"
)

// dbFlags are the flags of every command that reads the configuration and
// opens the database: serve, migrate, clients and users.
type dbFlags struct {
	configPath string
	dev        bool
	database   string
}

func (f *dbFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.configPath, "config", "", "YAML configuration `FILE` (default $"+configEnv+"; LATCHKEY_* variables apply either way)")
	fs.BoolVar(&f.dev, "dev", false, "development mode: database "+devDatabase+" unless configured, generated system secret, demo data")
	fs.StringVar(&f.database, "database", "", "database `DSN`: sqlite:PATH or postgres://... (beats the file and LATCHKEY_DATABASE)")
}

// loadConfig returns the configuration from the file, the environment and
// these flags, with the dev-mode database default applied. It does not
// validate: serve validates everything, management commands only what they use.
func (a *app) loadConfig(f *dbFlags) (config.Config, error) {
	path := f.configPath
	if path == "" && a.lookupEnv != nil {
		path, _ = a.lookupEnv(configEnv)
	}
	cfg, err := config.LoadWith(path, a.lookupEnv)
	if err != nil {
		return config.Config{}, problems("invalid configuration", err)
	}
	if f.dev {
		cfg.Dev = true
	}
	switch {
	case f.database != "":
		cfg.Database = f.database
	case cfg.Dev && cfg.Database == config.Default().Database:
		cfg.Database = devDatabase
	}
	return cfg, nil
}

// openStore opens the configured database and brings its schema up to date.
// Management commands migrate too, so that they work on a fresh database.
func openStore(ctx context.Context, cfg config.Config) (*sqlstore.DB, error) {
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// openDatabase opens the configured database as it is, without migrating
// (migrate --status).
func openDatabase(ctx context.Context, cfg config.Config) (*sqlstore.DB, error) {
	if err := config.ValidateDatabase(cfg.Database); err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	// sqlstore's errors already say what failed ("open store: ...",
	// "migrate: ...") and never echo the DSN, which may hold a password.
	return sqlstore.Open(ctx, cfg.Database)
}

// sqlitePath returns the file of a "sqlite:PATH" DSN (sqlstore takes PATH
// literally); "" for an in-memory or non-SQLite database.
func sqlitePath(dsn string) string {
	p, ok := strings.CutPrefix(dsn, "sqlite:")
	if !ok || p == ":memory:" {
		return ""
	}
	return p
}

// devSecretPath is where dev mode keeps its system secret: beside the SQLite
// database, or in the current directory for another database. "" means an
// in-memory database, whose secret need not outlive the process.
func devSecretPath(dsn string) string {
	if p := sqlitePath(dsn); p != "" {
		return p + ".secret"
	}
	if strings.HasPrefix(dsn, "sqlite:") {
		return ""
	}
	return devSecretFile
}

// devSystemSecret returns the system secret kept in path, creating it on
// first use (32 random bytes, base64url, mode 0600), so that a restart keeps
// every key and token valid. created reports whether it was just made.
func devSystemSecret(path string) (value string, created bool, err error) {
	if path == "" {
		return secret.RandomString(32), true, nil
	}
	for range 2 {
		data, err := os.ReadFile(path)
		if err == nil {
			v := strings.TrimSpace(string(data))
			if len(v) < config.MinSystemSecretLen {
				return "", false, fmt.Errorf("dev system secret %s is shorter than %d bytes; delete it to generate a new one", path, config.MinSystemSecretLen)
			}
			return v, false, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", false, fmt.Errorf("read dev system secret: %w", err)
		}
		v := secret.RandomString(32)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue // another process made it first: read theirs
		}
		if err != nil {
			return "", false, fmt.Errorf("create dev system secret: %w", err)
		}
		_, werr := f.WriteString(v + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(path)
			return "", false, fmt.Errorf("write dev system secret: %w", werr)
		}
		return v, true, nil
	}
	return "", false, fmt.Errorf("dev system secret %s: could not be read or created", path)
}
