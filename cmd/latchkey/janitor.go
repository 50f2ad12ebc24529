package main

import (
	"fmt"
	"maps"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/janitor"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

func (a *app) janitorCommand() *cobra.Command {
	m := &manageCmd{}
	cmd := &cobra.Command{
		Use:   "janitor [--config FILE] [--dev] [--database DSN] [-o json]",
		Short: "Delete expired rows now and print what was deleted",
		Long: `Delete expired rows now, as serve does every janitor.interval, and print
how many rows were deleted per table: tokens, codes and device codes,
pending authorization requests, sessions, replay records, and activity
older than activity.retention. Rows that reuse and replay detection still
need stay: a rotated refresh token, and a redeemed code, while its family
has an unexpired token. Rows go a minute after they expired, in statements
of janitor.batch rows. On PostgreSQL, if a server node is purging at the
same moment, nothing is done and the command says so.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := m.out.check(cmd); err != nil {
				return err
			}
			return a.withStore(cmd.Context(), m, func(cfg config.Config, db *sqlstore.DB) error {
				j := &janitor.Janitor{Store: db, Batch: cfg.Janitor.Batch, ActivityRetention: cfg.Activity.Retention, Now: a.clock,
					Clients: db, UnusedClientTTL: cfg.Registration.UnusedClientTTL}
				purged, err := j.RunOnce(cmd.Context())
				if err != nil {
					return err
				}
				if m.out.json() {
					return writeJSON(a.stdout, map[string]any{"skipped": purged.Skipped, "deleted": purged.Rows})
				}
				if purged.Skipped {
					_, err := fmt.Fprintln(a.stdout, "Another node is deleting expired rows right now; nothing was done.")
					return err
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "TABLE\tDELETED")
				for _, t := range slices.Sorted(maps.Keys(purged.Rows)) {
					fmt.Fprintf(tw, "%s\t%d\n", t, purged.Rows[t])
				}
				return tw.Flush()
			})
		},
	}
	m.db.register(cmd.Flags())
	m.out.register(cmd.Flags())
	return cmd
}
