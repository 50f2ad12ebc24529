package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

func (a *app) registrationTokensCommand() *cobra.Command {
	m := &manageCmd{}
	cmd := m.groupCommand("registration-tokens", "Issue and manage initial access tokens for dynamic client registration (RFC 7591 §3)")
	m.remote.register(cmd.PersistentFlags())
	cmd.AddCommand(a.registrationTokensCreateCommand(m), a.registrationTokensListCommand(m), a.registrationTokensDeleteCommand(m))
	return cmd
}

func (a *app) registrationTokensCreateCommand(m *manageCmd) *cobra.Command {
	var ttl time.Duration
	var uses int
	var description string
	cmd := &cobra.Command{
		Use:   "create [--ttl DURATION] [--uses N] [--description TEXT]",
		Short: "Issue an initial access token; prints it once",
		Long: `Issue an initial access token. With registration.mode initial_access_token,
a client registers at /register with it as a Bearer token. --ttl 0 never
expires; --uses 0 allows any number of registrations.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ttl < 0 || uses < 0 {
				return usageError(cmd, "--ttl and --uses must not be negative")
			}
			if m.remote.on() {
				return a.remoteCreateRegistrationToken(cmd, m, map[string]any{"ttl": ttl.String(), "max_uses": uses, "description": description})
			}
			return a.withStore(cmd.Context(), m, func(cfg config.Config, db *sqlstore.DB) error {
				v, t, err := oauth.IssueInitialAccessToken(cmd.Context(), db, a.clock(), ttl, uses, description)
				if err != nil {
					return fmt.Errorf("create registration token: %w", err)
				}
				a.audit(cmd.Context(), cfg, audit.Event{Name: audit.EventRegistrationTokenChanged, Detail: "issued " + t.ID})
				return m.printRegistrationToken(cmd, admin.NewRegistrationTokenView(t, v.String()))
			})
		},
	}
	fs := cmd.Flags()
	fs.DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token is valid (0: never expires)")
	fs.IntVar(&uses, "uses", 1, "how many registrations it allows (0: any number)")
	fs.StringVar(&description, "description", "", "what the token is for")
	return cmd
}

func expires(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return formatTime(t)
}

func maxUses(n int) string {
	if n == 0 {
		return "unlimited"
	}
	return fmt.Sprint(n)
}

func (a *app) registrationTokensListCommand(m *manageCmd) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List initial access tokens (never the tokens themselves)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if m.remote.on() {
				return a.remoteListRegistrationTokens(cmd, m)
			}
			return a.withStore(cmd.Context(), m, func(cfg config.Config, db *sqlstore.DB) error {
				list, err := db.ListRegistrationTokens(cmd.Context())
				if err != nil {
					return fmt.Errorf("list registration tokens: %w", err)
				}
				views := make([]admin.RegistrationTokenView, len(list))
				for i, t := range list {
					views[i] = admin.NewRegistrationTokenView(t, "")
				}
				return m.printRegistrationTokens(cmd, views)
			})
		},
	}
}

func (a *app) registrationTokensDeleteCommand(m *manageCmd) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an initial access token; clients it registered stay",
		Args:  wantArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if m.remote.on() {
				return a.remoteDeleteRegistrationToken(cmd, args[0], m)
			}
			return a.withStore(cmd.Context(), m, func(cfg config.Config, db *sqlstore.DB) error {
				err := db.DeleteRegistrationToken(cmd.Context(), args[0])
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("registration token %q not found", args[0])
				}
				if err != nil {
					return fmt.Errorf("delete registration token: %w", err)
				}
				a.audit(cmd.Context(), cfg, audit.Event{Name: audit.EventRegistrationTokenChanged, Detail: "deleted " + args[0]})
				return printDeletedRegistrationToken(cmd, args[0])
			})
		},
	}
}

// printRegistrationToken prints a token just issued, the token once.
func (m *manageCmd) printRegistrationToken(cmd *cobra.Command, view admin.RegistrationTokenView) error {
	if m.out.json() {
		return writeJSON(cmd.OutOrStdout(), view)
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ID:\t%s\n", view.ID)
	fmt.Fprintf(tw, "Token:\t%s\n", view.Token)
	fmt.Fprintf(tw, "\t(shown once: Latchkey keeps only a hash)\n")
	fmt.Fprintf(tw, "Expires:\t%s\n", expires(view.ExpiresAt))
	fmt.Fprintf(tw, "Uses:\t%d of %s\n", view.Uses, maxUses(view.MaxUses))
	return tw.Flush()
}

func (m *manageCmd) printRegistrationTokens(cmd *cobra.Command, views []admin.RegistrationTokenView) error {
	if m.out.json() {
		return writeJSON(cmd.OutOrStdout(), views)
	}
	if len(views) == 0 {
		_, err := fmt.Fprintln(cmd.OutOrStdout(), "No registration tokens.")
		return err
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEXPIRES\tUSES\tDESCRIPTION")
	for _, v := range views {
		fmt.Fprintf(tw, "%s\t%s\t%d/%s\t%s\n", v.ID, expires(v.ExpiresAt), v.Uses, maxUses(v.MaxUses), v.Description)
	}
	return tw.Flush()
}

func printDeletedRegistrationToken(cmd *cobra.Command, id string) error {
	_, err := fmt.Fprintf(cmd.OutOrStdout(), "Deleted registration token %s.\n", id)
	return err
}
