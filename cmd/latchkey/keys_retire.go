package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/token"
)

func (a *app) keysRetireCommand(m *manageCmd) *cobra.Command {
	return &cobra.Command{
		Use:   "retire KID",
		Short: "Retire a signing key now: it leaves the JWKS and verifies nothing more",
		Long: `Retire a signing key now, as the admin API's POST /keys/{kid}/retire does:
it leaves the JWKS and the tokens it signed no longer verify. The key that
signs its algorithm's tokens cannot be retired (rotate first, then retire it
once the new key signs); a key that is next may be, before it ever signs.
Running servers pick this up within ` + token.DefaultReloadInterval.String() + ` (through --server, the
server answering at once).`,
		Args: wantArgs("KID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if m.remote.on() {
				return a.remoteRetireKey(cmd, m, args[0])
			}
			return a.withStore(cmd.Context(), m, func(cfg config.Config, db *sqlstore.DB) error {
				views, err := a.listKeys(cmd.Context(), db)
				if err != nil {
					return err
				}
				var k *admin.KeyView
				for i := range views {
					if views[i].KID == args[0] {
						k = &views[i]
					}
				}
				switch {
				case k == nil:
					return fmt.Errorf("key %q not found", args[0])
				case k.State == token.StateActive:
					return fmt.Errorf("key %q signs its algorithm's tokens: rotate, then retire it once the new key signs", k.KID)
				case k.State == token.StateRetired:
					return fmt.Errorf("key %q is already retired", k.KID)
				}
				if err := db.RetireSigningKey(cmd.Context(), k.KID, a.clock()); errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("key %q not found", k.KID)
				} else if err != nil {
					return fmt.Errorf("retire key: %w", err)
				}
				a.audit(cmd.Context(), cfg, audit.Event{Name: audit.EventKeyChanged, Detail: "retired " + k.Algorithm + " key " + k.KID})
				return a.printRetired(m, k.KID)
			})
		},
	}
}

func (a *app) printRetired(m *manageCmd, kid string) error {
	if m.out.json() {
		return writeJSON(a.stdout, map[string]any{"kid": kid, "retired": true})
	}
	_, err := fmt.Fprintf(a.stdout, "Retired key %s: it is out of the JWKS and verifies nothing more.\n", kid)
	return err
}
