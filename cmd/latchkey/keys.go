package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/token"
)

// defaultPublishDelay is how long a rotated key is published before it
// signs: longer than any sensible JWKS cache and than the servers' reload
// interval (token.DefaultReloadInterval).
const defaultPublishDelay = 5 * time.Minute

func (a *app) keysCommand() *cobra.Command {
	m := &manageCmd{}
	cmd := m.groupCommand("keys", "List and rotate the keys that sign tokens")
	cmd.Long = `List and rotate the keys that sign tokens.

Each algorithm has its own active key: tokens.algorithm (ES256 by default)
signs access tokens, RS256 signs ID tokens unless a client registered ES256
or EdDSA. The server generates a key of each algorithm that has none when it
starts, and each algorithm's key is rotated on its own.

Keys live in the database, their private halves sealed with the system
secret, so every server sharing the database signs with the same keys and
publishes the same JWKS. Running servers pick up a rotation within ` + token.DefaultReloadInterval.String() + `.`
	m.remote.register(cmd.PersistentFlags())
	cmd.AddCommand(a.keysListCommand(m), a.keysRotateCommand(m), a.keysRetireCommand(m), a.keysResealCommand(m))
	return cmd
}

func (a *app) listKeys(ctx context.Context, db *sqlstore.DB) ([]admin.KeyView, error) {
	infos, err := token.List(ctx, db, a.clock())
	if err != nil {
		return nil, err
	}
	views := make([]admin.KeyView, 0, len(infos))
	for _, k := range infos {
		views = append(views, admin.NewKeyView(k))
	}
	return views, nil
}

func (a *app) printKeys(m *manageCmd, views []admin.KeyView) error {
	if m.out.json() {
		return writeJSON(a.stdout, views)
	}
	return writeKeyTable(a.stdout, views)
}

func writeKeyTable(w io.Writer, views []admin.KeyView) error {
	if len(views) == 0 {
		_, err := fmt.Fprintln(w, "No signing keys (the server generates one per algorithm when it starts).")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tACTIVE FROM\tRETIRE AT")
	for _, v := range views {
		retire := "-"
		if v.RetireAt != nil {
			retire = formatTime(*v.RetireAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.KID, v.Algorithm, v.State, formatTime(v.CreatedAt), formatTime(v.ActiveAt), retire)
	}
	return tw.Flush()
}

func (a *app) keysListCommand(m *manageCmd) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List signing keys by algorithm, newest first, with their state: next, active, published or retired",
		Long: `List every signing key, grouped by algorithm (RS256, ES256, EdDSA) and
newest first within each, with its state among the keys of its algorithm:
next (published, signs from ACTIVE FROM), active (signs that algorithm's
tokens now), published (a newer key of its algorithm signs; it keeps
verifying until RETIRE AT) or retired.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if m.remote.on() {
				return a.remoteListKeys(cmd, m)
			}
			return a.withStore(cmd.Context(), m, func(_ config.Config, db *sqlstore.DB) error {
				views, err := a.listKeys(cmd.Context(), db)
				if err != nil {
					return err
				}
				return a.printKeys(m, views)
			})
		},
	}
}

// rotateView is what keys rotate prints.
type rotateView struct {
	Key              admin.KeyView   `json:"key"`
	MaxTokenLifetime string          `json:"max_token_lifetime"`
	Keys             []admin.KeyView `json:"keys"`
}

func (a *app) keysRotateCommand(m *manageCmd) *cobra.Command {
	var alg string
	var publishDelay, maxLifetime time.Duration
	cmd := &cobra.Command{
		Use:   "rotate [--algorithm ES256|RS256|EdDSA] [--publish-delay D] [--max-token-lifetime D]",
		Short: "Create a new signing key of one algorithm; its older keys retire once their tokens have expired",
		Long: `Create a new signing key of --algorithm. It is published in the JWKS at
once and signs that algorithm's tokens after --publish-delay, so that
verifiers caching the JWKS fetch it first. Every older key of the same
algorithm keeps verifying, and stays in the JWKS, until --max-token-lifetime
after the new key starts signing: every token it signed has expired by then.
Keys of other algorithms are not touched: rotate each algorithm on its own.
Keys whose retirement has passed are deleted.

The new key is sealed with the system secret from the configuration (in dev
mode the generated one beside the database): it must be the servers' secret,
and rotation refuses to run if it cannot open the existing keys.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if alg != "" && alg != token.ES256 && alg != token.RS256 && alg != token.EdDSA {
				return usageError(cmd, fmt.Sprintf("invalid --algorithm %q: want ES256, RS256 or EdDSA", alg))
			}
			if publishDelay < 0 {
				return usageError(cmd, "--publish-delay must not be negative")
			}
			if cmd.Flags().Changed("max-token-lifetime") && maxLifetime <= 0 {
				return usageError(cmd, "--max-token-lifetime must be positive")
			}
			if m.remote.on() {
				if cmd.Flags().Changed("max-token-lifetime") {
					return usageError(cmd, "--max-token-lifetime works on the database only: through --server the server takes the longest access token lifetime")
				}
				return a.remoteRotateKey(cmd, m, alg, publishDelay)
			}
			ctx := cmd.Context()
			cfg, err := a.loadConfig(&m.db)
			if err != nil {
				return err
			}
			sealKey, err := a.signingSealKey(cfg)
			if err != nil {
				return err
			}
			db, err := openStore(ctx, cfg)
			if err != nil {
				return err
			}
			defer db.Close()

			if alg == "" {
				alg = cfg.Tokens.Algorithm
			}
			lifetime := maxLifetime
			if lifetime == 0 {
				if lifetime, err = maxAccessTokenTTL(ctx, cfg, db); err != nil {
					return err
				}
			}
			nk, err := token.Rotate(ctx, db, sealKey, alg, a.clock(), publishDelay, lifetime)
			if err != nil {
				return err
			}
			a.audit(ctx, cfg, audit.Event{Name: audit.EventKeyChanged, Detail: "rotated " + alg + ": new key " + nk.ID})
			views, err := a.listKeys(ctx, db)
			if err != nil {
				return err
			}
			return a.printRotation(m, nk.ID, lifetime, views)
		},
	}
	cmd.Flags().StringVar(&alg, "algorithm", "", "`ALG` to rotate: ES256, RS256 or EdDSA (default tokens.algorithm of the configuration, ES256 unless set)")
	cmd.Flags().DurationVar(&publishDelay, "publish-delay", defaultPublishDelay, "how long the new key is published before it signs")
	cmd.Flags().DurationVar(&maxLifetime, "max-token-lifetime", 0,
		"how long older keys keep verifying after the new key signs (default: the longest access token lifetime, of tokens.access_token_ttl, tokens.implicit_token_ttl and every client's)")
	return cmd
}

func (a *app) keysResealCommand(m *manageCmd) *cobra.Command {
	return &cobra.Command{
		Use:   "reseal",
		Short: "Seal the signing keys again with system_secret after a change of system secret",
		Long: `Seal the signing keys again with system_secret.

The step of a system-secret rotation (docs/operations.md) once every server
runs with the new secret as system_secret and the old one as
system_secret_previous: every key only the previous secret opens is sealed
again with the new one, so that system_secret_previous can then be removed.
Keys and tokens do not change; running it again does nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if m.remote.on() {
				return errDatabaseOnly
			}
			ctx := cmd.Context()
			cfg, err := a.loadConfig(&m.db)
			if err != nil {
				return err
			}
			sealKey, err := a.signingSealKey(cfg)
			if err != nil {
				return err
			}
			if cfg.SystemSecretPrevious == "" {
				return fmt.Errorf("no system_secret_previous (LATCHKEY_SYSTEM_SECRET_PREVIOUS): set it to the secret being replaced")
			}
			db, err := openStore(ctx, cfg)
			if err != nil {
				return err
			}
			defer db.Close()
			previous := session.DeriveKey([]byte(cfg.SystemSecretPrevious), "signing-keys")
			n, err := token.Reseal(ctx, db, sealKey, [][]byte{previous})
			if n > 0 {
				a.audit(ctx, cfg, audit.Event{Name: audit.EventKeyChanged, Detail: fmt.Sprintf("resealed %d keys with the new system secret", n)})
			}
			if err != nil {
				return err
			}
			if m.out.json() {
				return writeJSON(a.stdout, map[string]any{"resealed": n})
			}
			_, err = fmt.Fprintf(a.stdout, "Sealed %d keys again with system_secret; system_secret_previous may now be removed.\n", n)
			return err
		},
	}
}

// printRotation prints the key kid just created among views, the keys
// after the rotation; older keys of its algorithm keep verifying until
// lifetime after it signs.
func (a *app) printRotation(m *manageCmd, kid string, lifetime time.Duration, views []admin.KeyView) error {
	out := rotateView{MaxTokenLifetime: lifetime.String(), Keys: views}
	for _, v := range views {
		if v.KID == kid {
			out.Key = v
		}
	}
	if m.out.json() {
		return writeJSON(a.stdout, out)
	}
	return writeRotation(a.stdout, out, out.Key.ActiveAt.Add(lifetime))
}

func writeRotation(w io.Writer, v rotateView, retireAt time.Time) error {
	alg := v.Key.Algorithm
	older := false // another key of the algorithm still verifies
	for _, k := range v.Keys {
		if k.Algorithm == alg && k.KID != v.Key.KID && k.State != token.StateRetired {
			older = true
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "New key:\t%s (%s)\n", v.Key.KID, alg)
	fmt.Fprintf(tw, "Published:\t%s (in the JWKS now)\n", formatTime(v.Key.CreatedAt))
	fmt.Fprintf(tw, "Signs %s tokens from:\t%s\n", alg, formatTime(v.Key.ActiveAt))
	if older {
		fmt.Fprintf(tw, "Older %s keys retire:\t%s at the latest (max token lifetime %s)\n", alg, formatTime(retireAt), v.MaxTokenLifetime)
	} else {
		fmt.Fprintf(tw, "Older %s keys:\tnone\n", alg)
	}
	fmt.Fprintf(tw, "Other algorithms:\tunchanged\n")
	fmt.Fprintf(tw, "\t(running servers pick this up within %s)\n", token.DefaultReloadInterval)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return writeKeyTable(w, v.Keys)
}

// signingSealKey returns the key that seals signing keys, derived from the
// system secret exactly as the server derives it. In dev mode without a
// configured secret it is the generated one kept beside the database
// (created now if the server has not run yet).
func (a *app) signingSealKey(cfg config.Config) ([]byte, error) {
	secretValue := cfg.SystemSecret
	if secretValue == "" && cfg.Dev {
		path := devSecretPath(cfg.Database)
		if path == "" {
			return nil, fmt.Errorf("dev mode with an in-memory database has no lasting system secret: keys cannot be managed from another process")
		}
		v, _, err := devSystemSecret(path)
		if err != nil {
			return nil, err
		}
		secretValue = v
	}
	switch {
	case secretValue == "":
		return nil, fmt.Errorf("no system secret: set system_secret (LATCHKEY_SYSTEM_SECRET) to the servers' secret, or use --dev")
	case len(secretValue) < config.MinSystemSecretLen:
		return nil, fmt.Errorf("system_secret must be at least %d bytes, got %d", config.MinSystemSecretLen, len(secretValue))
	}
	return session.DeriveKey([]byte(secretValue), "signing-keys"), nil
}

// maxAccessTokenTTL is the longest lifetime an access token can have now:
// the configured defaults and every client's own lifetime.
func maxAccessTokenTTL(ctx context.Context, cfg config.Config, db *sqlstore.DB) (time.Duration, error) {
	longest := max(cfg.Tokens.AccessTokenTTL, cfg.Tokens.ImplicitTokenTTL)
	for _, c := range cfg.Clients {
		longest = max(longest, c.AccessTokenTTL)
	}
	clients, err := db.ListClients(ctx)
	if err != nil {
		return 0, fmt.Errorf("list clients: %w", err)
	}
	for _, c := range clients {
		longest = max(longest, c.AccessTokenTTL)
	}
	if longest <= 0 {
		return 0, fmt.Errorf("no access token lifetime configured: pass --max-token-lifetime")
	}
	return longest, nil
}
