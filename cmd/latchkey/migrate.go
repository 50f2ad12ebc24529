package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/internal/config"
)

func (a *app) migrateCommand() *cobra.Command {
	var db dbFlags
	var out outputFlag
	var status bool
	cmd := &cobra.Command{
		Use:   "migrate [--config FILE] [--dev] [--database DSN] [--status]",
		Short: "Bring the database schema up to date and exit",
		Long: `Bring the database schema up to date and exit. serve and the management
commands migrate too; run this to upgrade the schema before rolling out
new server nodes. With --status, show where the schema stands (the last
migration applied, the latest this binary knows, and those pending)
without changing it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(cmd); err != nil {
				return err
			}
			cfg, err := a.loadConfig(&db)
			if err != nil {
				return err
			}
			if status {
				return migrationStatus(cmd, cfg, out)
			}
			st, err := openStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if err := st.Close(); err != nil {
				return fmt.Errorf("close database: %w", err)
			}
			if out.json() {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"migrated": true})
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), "Database schema is up to date.")
			return err
		},
	}
	db.register(cmd.Flags())
	out.register(cmd.Flags())
	cmd.Flags().BoolVar(&status, "status", false, "show the schema's migration status and change nothing")
	return cmd
}

func migrationStatus(cmd *cobra.Command, cfg config.Config, out outputFlag) error {
	st, err := openDatabase(cmd.Context(), cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := st.MigrationStatus(cmd.Context())
	if err != nil {
		return err
	}
	if out.json() {
		return writeJSON(cmd.OutOrStdout(), s)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "Schema version %d of %d.\n", s.Current, s.Latest)
	if len(s.Pending) == 0 {
		_, err = fmt.Fprintln(w, "Up to date.")
		return err
	}
	fmt.Fprintf(w, "%d pending (latchkey migrate applies them):\n", len(s.Pending))
	for _, p := range s.Pending {
		fmt.Fprintln(w, "  "+p)
	}
	return nil
}
