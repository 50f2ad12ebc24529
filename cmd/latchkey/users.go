package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

func (a *app) usersCommand() *cobra.Command {
	m := &manageCmd{}
	cmd := m.groupCommand("users", "Create and manage users who sign in with a password")
	m.remote.register(cmd.PersistentFlags())
	cmd.AddCommand(
		a.usersCreateCommand(m),
		a.usersListCommand(m),
		a.usersGetCommand(m),
		a.usersDeleteCommand(m),
		a.usersSetPasswordCommand(m),
		a.usersDisableCommand(m, true),
		a.usersDisableCommand(m, false),
	)
	return cmd
}

// passwordFlags are --password and --password-stdin.
type passwordFlags struct {
	password string
	stdin    bool
}

func (p *passwordFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&p.stdin, "password-stdin", false, "read the password from standard input (one line)")
	fs.StringVar(&p.password, "password", "", "the `PASSWORD` (visible to other local users in the process list: prefer --password-stdin)")
}

// read returns the password from exactly one of the two flags, checked.
func (a *app) readPassword(cmd *cobra.Command, p *passwordFlags) (string, error) {
	given := cmd.Flags().Changed("password")
	switch {
	case given && p.stdin:
		return "", usageError(cmd, "give --password or --password-stdin, not both")
	case !given && !p.stdin:
		return "", usageError(cmd, "a password is required: --password-stdin (recommended) or --password")
	}
	pw := p.password
	if p.stdin {
		data, err := io.ReadAll(io.LimitReader(a.stdin, oauth.MaxPasswordLen+2))
		if err != nil {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		line, _, _ := bytes.Cut(data, []byte("\n"))
		pw = strings.TrimSuffix(string(line), "\r")
	}
	if err := oauth.CheckPassword(pw); err != nil {
		return "", err
	}
	return pw, nil
}

func (a *app) usersCreateCommand(m *manageCmd) *cobra.Command {
	var pw passwordFlags
	var username, email, name string
	var emailVerified bool
	cmd := &cobra.Command{
		Use:   "create --username USERNAME (--password-stdin | --password PASSWORD) [--email EMAIL [--email-verified]] [--name NAME]",
		Short: "Create a user",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var errs []error
			if err := config.ValidateUsername(username); err != nil {
				errs = append(errs, fmt.Errorf("username: %w", err))
			}
			if err := oauth.ValidateEmail(email); err != nil {
				errs = append(errs, err)
			}
			if emailVerified && email == "" {
				errs = append(errs, errors.New("--email-verified needs --email"))
			}
			name = strings.TrimSpace(name)
			if err := oauth.ValidateName(name); err != nil {
				errs = append(errs, err)
			}
			password, err := a.readPassword(cmd, &pw)
			if err != nil {
				errs = append(errs, err)
			}
			if err := errors.Join(errs...); err != nil {
				return problems("invalid user", err)
			}
			if m.remote.on() {
				return a.remoteCreateUser(cmd, m, map[string]any{"username": username, "password": password,
					"name": name, "email": email, "email_verified": emailVerified})
			}
			return a.withStore(cmd.Context(), m, func(cfg config.Config, db *sqlstore.DB) error {
				now := a.clock()
				u := store.User{
					ID:            secret.RandomString(16),
					Username:      username,
					PasswordHash:  secret.HashPassword(password),
					Name:          name,
					Email:         email,
					EmailVerified: emailVerified,
					CreatedAt:     now,
					UpdatedAt:     now,
				}
				if err := db.CreateUser(cmd.Context(), u); err != nil {
					if errors.Is(err, store.ErrConflict) {
						return fmt.Errorf("user %q already exists", username)
					}
					return fmt.Errorf("create user: %w", err)
				}
				a.audit(cmd.Context(), cfg, audit.Event{Name: audit.EventUserChanged, UserID: u.ID, Detail: "created"})
				return m.printUser(cmd, u)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&username, "username", "", "the `USERNAME` to sign in with (required)")
	pw.register(fs)
	fs.StringVar(&email, "email", "", "email `ADDRESS`")
	fs.BoolVar(&emailVerified, "email-verified", false, "you vouch that the address is the user's (the email_verified claim)")
	fs.StringVar(&name, "name", "", "full `NAME`")
	return cmd
}

func (m *manageCmd) printUser(cmd *cobra.Command, u store.User) error {
	return m.printUserView(cmd, newUserView(u))
}

// printUserView prints one user, from the database or the admin API.
func (m *manageCmd) printUserView(cmd *cobra.Command, v userView) error {
	if m.out.json() {
		return writeJSON(cmd.OutOrStdout(), v)
	}
	return writeUser(cmd.OutOrStdout(), v)
}

// getUser returns the user or a one-line "not found" error.
func getUser(ctx context.Context, db store.UserStore, username string) (store.User, error) {
	u, err := db.GetUserByUsername(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, fmt.Errorf("user %q not found", username)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

func (a *app) usersListCommand(m *manageCmd) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if m.remote.on() {
				return a.remoteListUsers(cmd, m)
			}
			return a.withStore(cmd.Context(), m, func(cfg config.Config, db *sqlstore.DB) error {
				users, err := db.ListUsers(cmd.Context())
				if err != nil {
					return fmt.Errorf("list users: %w", err)
				}
				views := make([]userView, len(users))
				for i, u := range users {
					views[i] = newUserView(u)
				}
				if m.out.json() {
					return writeJSON(cmd.OutOrStdout(), views)
				}
				return writeUserTable(cmd.OutOrStdout(), views)
			})
		},
	}
}

func (a *app) usersGetCommand(m *manageCmd) *cobra.Command {
	return &cobra.Command{
		Use:   "get USERNAME",
		Short: "Show one user",
		Args:  wantArgs("USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if m.remote.on() {
				return a.remoteGetUser(cmd, m, args[0])
			}
			return a.withStore(cmd.Context(), m, func(cfg config.Config, db *sqlstore.DB) error {
				u, err := getUser(cmd.Context(), db, args[0])
				if err != nil {
					return err
				}
				return m.printUser(cmd, u)
			})
		},
	}
}

func (a *app) usersDeleteCommand(m *manageCmd) *cobra.Command {
	return &cobra.Command{
		Use:   "delete USERNAME",
		Short: "Delete a user with their sessions, grants and tokens",
		Args:  wantArgs("USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if m.remote.on() {
				return a.remoteDeleteUser(cmd, m, args[0])
			}
			return a.withStore(cmd.Context(), m, func(cfg config.Config, db *sqlstore.DB) error {
				u, err := getUser(cmd.Context(), db, args[0])
				if err != nil {
					return err
				}
				if err := db.DeleteUser(cmd.Context(), u.ID); err != nil {
					if errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("user %q not found", u.Username)
					}
					return fmt.Errorf("delete user: %w", err)
				}
				a.audit(cmd.Context(), cfg, audit.Event{Name: audit.EventUserChanged, UserID: u.ID, Detail: "deleted"})
				return printDeletedUser(cmd, m, u.Username, u.ID)
			})
		},
	}
}

func (a *app) usersSetPasswordCommand(m *manageCmd) *cobra.Command {
	var pw passwordFlags
	cmd := &cobra.Command{
		Use:   "set-password USERNAME (--password-stdin | --password PASSWORD)",
		Short: "Set a user's password",
		Args:  wantArgs("USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			password, err := a.readPassword(cmd, &pw)
			if err != nil {
				return err
			}
			if m.remote.on() {
				return a.remoteSetPassword(cmd, m, args[0], password)
			}
			return a.withStore(cmd.Context(), m, func(cfg config.Config, db *sqlstore.DB) error {
				u, err := getUser(cmd.Context(), db, args[0])
				if err != nil {
					return err
				}
				u.PasswordHash = secret.HashPassword(password)
				u.UpdatedAt = a.clock()
				if err := db.UpdateUser(cmd.Context(), u); err != nil {
					if errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("user %q not found", u.Username)
					}
					return fmt.Errorf("update user: %w", err)
				}
				// Whoever knew the old password is signed out everywhere; the
				// apps the user granted keep their tokens (revoke those per app).
				ended, err := db.DeleteUserSessions(cmd.Context(), u.ID)
				if err != nil {
					return fmt.Errorf("end sessions: %w", err)
				}
				a.audit(cmd.Context(), cfg, audit.Event{Name: audit.EventPasswordChanged, UserID: u.ID, Detail: "set by an administrator"})
				// The user sees it on the account page, as a change of their own.
				if err := db.AddActivity(cmd.Context(), []store.Activity{{UserID: u.ID, Kind: store.ActivityPassword,
					Detail: "set by an administrator", At: a.clock()}}); err != nil {
					return fmt.Errorf("record activity: %w", err)
				}
				return printPasswordSet(cmd, m, u.Username, u.ID, ended)
			})
		},
	}
	pw.register(cmd.Flags())
	return cmd
}

// usersDisableCommand is users disable (disable true) or users enable.
func (a *app) usersDisableCommand(m *manageCmd, disable bool) *cobra.Command {
	use, short := "enable USERNAME", "Let a disabled user sign in again (nothing revoked comes back)"
	if disable {
		use, short = "disable USERNAME", "Refuse a user's sign-ins; end their sessions and revoke their grants and tokens"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  wantArgs("USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if m.remote.on() {
				return a.remoteSetDisabled(cmd, m, args[0], disable)
			}
			return a.withStore(cmd.Context(), m, func(cfg config.Config, db *sqlstore.DB) error {
				u, err := getUser(cmd.Context(), db, args[0])
				if err != nil {
					return err
				}
				u, changed, err := oauth.SetDisabled(cmd.Context(), db, u.ID, disable, a.clock())
				if err != nil {
					return fmt.Errorf("disable user: %w", err)
				}
				if changed {
					detail := "enabled"
					if disable {
						detail = "disabled"
					}
					a.audit(cmd.Context(), cfg, audit.Event{Name: audit.EventUserChanged, UserID: u.ID, Detail: detail})
				}
				return printDisabled(cmd, m, newUserView(u))
			})
		},
	}
}

func printDisabled(cmd *cobra.Command, m *manageCmd, v userView) error {
	if m.out.json() {
		return writeJSON(cmd.OutOrStdout(), v)
	}
	state := "enabled"
	if v.Disabled {
		state = "disabled: they cannot sign in, and their sessions, grants and tokens have ended"
	}
	_, err := fmt.Fprintf(cmd.OutOrStdout(), "User %s is %s.\n", v.Username, state)
	return err
}

func printDeletedUser(cmd *cobra.Command, m *manageCmd, username, id string) error {
	if m.out.json() {
		return writeJSON(cmd.OutOrStdout(), map[string]any{"username": username, "id": id, "deleted": true})
	}
	_, err := fmt.Fprintf(cmd.OutOrStdout(), "Deleted user %s with their sessions, grants and tokens.\n", username)
	return err
}

func printPasswordSet(cmd *cobra.Command, m *manageCmd, username, id string, ended int) error {
	if m.out.json() {
		return writeJSON(cmd.OutOrStdout(), map[string]any{"username": username, "id": id, "password_changed": true, "sessions_ended": ended})
	}
	_, err := fmt.Fprintf(cmd.OutOrStdout(), "Password of %s changed; %d browser sessions signed out.\n", username, ended)
	return err
}
