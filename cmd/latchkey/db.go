package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

func (a *app) dbCommand() *cobra.Command {
	m := &manageCmd{}
	cmd := m.groupCommand("db", "Inspect the database")
	cmd.AddCommand(a.dbStatsCommand(m))
	return cmd
}

func (a *app) dbStatsCommand(m *manageCmd) *cobra.Command {
	return &cobra.Command{
		Use:   "stats",
		Short: "Rows per table, and how many have expired and since when",
		Long: `Print the rows of every table and, for the tables whose rows expire
(tokens, codes, authorization requests, device codes, sessions, grants,
replay records), how many have expired and when the oldest of them did:
what is waiting to be deleted. Every row is counted, which on a large
PostgreSQL table is a full scan.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), m, func(_ config.Config, db *sqlstore.DB) error {
				now := a.clock()
				stats, err := db.Stats(cmd.Context(), now)
				if err != nil {
					return err
				}
				if m.out.json() {
					return writeJSON(a.stdout, stats)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "TABLE\tROWS\tEXPIRED\tOLDEST EXPIRED")
				for _, s := range stats {
					expired, oldest := "-", "-"
					if s.Expires {
						expired = fmt.Sprint(s.Expired)
					}
					if !s.OldestExpiry.IsZero() {
						oldest = s.OldestExpiry.UTC().Format(time.RFC3339) + " (" + now.Sub(s.OldestExpiry).Round(time.Second).String() + " ago)"
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", s.Table, s.Rows, expired, oldest)
				}
				return tw.Flush()
			})
		},
	}
}
