package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) migrateCommand() *cobra.Command {
	var db dbFlags
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "migrate [--config FILE] [--dev] [--database DSN]",
		Short: "Bring the database schema up to date and exit",
		Long: `Bring the database schema up to date and exit. serve and the management
commands migrate too; run this to upgrade the schema before rolling out
new server nodes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(cmd); err != nil {
				return err
			}
			cfg, err := a.loadConfig(&db)
			if err != nil {
				return err
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
	return cmd
}
