package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

func (a *app) resourcesCommand() *cobra.Command {
	m := &manageCmd{}
	cmd := m.groupCommand("resources", "Register and manage protected APIs (RFC 8707 resources)")
	m.remote.register(cmd.PersistentFlags())
	cmd.AddCommand(
		a.resourcesCreateCommand(m),
		a.resourcesListCommand(m),
		a.resourcesGetCommand(m),
		a.resourcesUpdateCommand(m),
		a.resourcesDeleteCommand(m),
	)
	return cmd
}

// resourceView is how a resource is printed; the secret only once.
type resourceView struct {
	URI                   string    `json:"uri"`
	Name                  string    `json:"name"`
	Scopes                []string  `json:"scopes"`
	ClientID              string    `json:"client_id"`
	ClientSecret          string    `json:"client_secret,omitempty"`
	IntrospectionEndpoint string    `json:"introspection_endpoint"`
	CreatedAt             time.Time `json:"created_at"`
	UpdatedAt             time.Time `json:"updated_at"`
}

func newResourceView(r store.Resource, plainSecret, issuer string) resourceView {
	return resourceView{URI: r.URI, Name: r.Name, Scopes: nonNil(r.Scopes), ClientID: r.ClientID, ClientSecret: plainSecret,
		IntrospectionEndpoint: strings.TrimRight(issuer, "/") + "/introspect", CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func (m *manageCmd) printResource(cmd *cobra.Command, v resourceView) error {
	if m.out.json() {
		return writeJSON(cmd.OutOrStdout(), v)
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Resource:\t%s\n", v.URI)
	fmt.Fprintf(tw, "\t(the aud of the tokens meant for this API)\n")
	fmt.Fprintf(tw, "Name:\t%s\n", v.Name)
	fmt.Fprintf(tw, "Scopes:\t%s\n", listOrNone(v.Scopes, " "))
	fmt.Fprintf(tw, "Client ID:\t%s\n", v.ClientID)
	if v.ClientSecret != "" {
		fmt.Fprintf(tw, "Client secret:\t%s\n", v.ClientSecret)
		fmt.Fprintf(tw, "\t(shown once: store it now; Latchkey keeps only a hash)\n")
	}
	fmt.Fprintf(tw, "Introspection:\t%s\n", v.IntrospectionEndpoint)
	fmt.Fprintf(tw, "\t(POST with the client ID and secret, HTTP Basic; RFC 7662)\n")
	fmt.Fprintf(tw, "Created:\t%s\n", formatTime(v.CreatedAt))
	fmt.Fprintf(tw, "Updated:\t%s\n", formatTime(v.UpdatedAt))
	return tw.Flush()
}

func (m *manageCmd) printResources(cmd *cobra.Command, views []resourceView) error {
	if m.out.json() {
		return writeJSON(cmd.OutOrStdout(), views)
	}
	return writeResourceTable(cmd.OutOrStdout(), views)
}

func writeResourceTable(w io.Writer, views []resourceView) error {
	if len(views) == 0 {
		_, err := fmt.Fprintln(w, "No resources.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "URI\tNAME\tCLIENT ID\tSCOPES")
	for _, v := range views {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.URI, v.Name, v.ClientID, strings.Join(v.Scopes, " "))
	}
	return tw.Flush()
}

// getResource returns the resource or a one-line "not found" error.
func getResource(ctx context.Context, db store.ResourceStore, uri string) (store.Resource, error) {
	r, err := db.GetResource(ctx, uri)
	if errors.Is(err, store.ErrNotFound) {
		return store.Resource{}, fmt.Errorf("resource %q not found", uri)
	}
	if err != nil {
		return store.Resource{}, fmt.Errorf("get resource: %w", err)
	}
	return r, nil
}

func (a *app) resourcesCreateCommand(m *manageCmd) *cobra.Command {
	var uri, name, clientID, plain string
	var scopes []string
	cmd := &cobra.Command{
		Use:   "create --uri URI --name NAME --scope SCOPE... [--client-id ID] [--secret SECRET]",
		Short: "Register a protected API; prints the credentials it introspects with (the secret once)",
		Long: `Register a protected API as an RFC 8707 resource. Its URI is the aud of
the access tokens meant for it: a client names it in the resource parameter,
or gets it by asking for one of the scopes it serves. The API introspects
tokens at /introspect with the client ID and secret printed here, and learns
only about the tokens meant for it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := a.clock()
			r := store.Resource{URI: strings.TrimSpace(uri), Name: strings.TrimSpace(name), Scopes: cleanList(scopes, true),
				ClientID: clientID, CreatedAt: now, UpdatedAt: now}
			if r.ClientID == "" {
				r.ClientID = oauth.NewClientID()
			}
			secretGiven := cmd.Flags().Changed("secret")
			if secretGiven && plain == "" {
				return usageError(cmd, "--secret must not be empty")
			}
			if secretGiven {
				if err := config.ValidateGivenSecret(plain); err != nil {
					return usageError(cmd, "--secret: "+err.Error())
				}
			}
			if m.remote.on() {
				return a.remoteResourceCall(cmd, m, http.MethodPost, "", map[string]any{"uri": r.URI, "name": r.Name,
					"scopes": r.Scopes, "client_id": r.ClientID, "client_secret": plain})
			}
			return a.withStore(cmd.Context(), m, func(cfg config.Config, db *sqlstore.DB) error {
				if err := oauth.ValidateResource(r, oauth.NewScopes(cfg.Scopes)); err != nil {
					return problems("invalid resource", err)
				}
				var hash string
				if secretGiven {
					hash = oauth.HashGivenSecret(plain)
				} else {
					var v secret.Value
					v, hash = oauth.NewClientSecret()
					plain = v.String()
				}
				if err := db.CreateResource(cmd.Context(), r, oauth.ResourceCredentials(r, hash)); err != nil {
					if errors.Is(err, store.ErrConflict) {
						return fmt.Errorf("resource %q or client %q already exists", r.URI, r.ClientID)
					}
					return fmt.Errorf("create resource: %w", err)
				}
				a.audit(cmd.Context(), cfg, audit.Event{Name: audit.EventResourceChanged, ClientID: r.ClientID, Detail: "created " + r.URI})
				return m.printResource(cmd, newResourceView(r, plain, cfg.Issuer))
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&uri, "uri", "", "the resource indicator `URI` (absolute, no fragment): the aud of its tokens")
	fs.StringVar(&name, "name", "", "display `NAME`")
	fs.StringArrayVar(&scopes, "scope", nil, "`SCOPE` the API serves (repeatable, or space-separated)")
	fs.StringVar(&clientID, "client-id", "", "client `ID` of its introspection credentials (default: generated)")
	fs.StringVar(&plain, "secret", "", "import this `SECRET` instead of generating one")
	return cmd
}

func (a *app) resourcesListCommand(m *manageCmd) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List registered resources",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if m.remote.on() {
				return a.remoteListResources(cmd, m)
			}
			return a.withStore(cmd.Context(), m, func(cfg config.Config, db *sqlstore.DB) error {
				list, err := db.ListResources(cmd.Context())
				if err != nil {
					return fmt.Errorf("list resources: %w", err)
				}
				views := make([]resourceView, len(list))
				for i, r := range list {
					views[i] = newResourceView(r, "", cfg.Issuer)
				}
				return m.printResources(cmd, views)
			})
		},
	}
}

func (a *app) resourcesGetCommand(m *manageCmd) *cobra.Command {
	return &cobra.Command{
		Use:   "get URI",
		Short: "Show one resource",
		Args:  wantArgs("URI"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if m.remote.on() {
				return a.remoteResourceCall(cmd, m, http.MethodGet, args[0], nil)
			}
			return a.withStore(cmd.Context(), m, func(cfg config.Config, db *sqlstore.DB) error {
				r, err := getResource(cmd.Context(), db, args[0])
				if err != nil {
					return err
				}
				return m.printResource(cmd, newResourceView(r, "", cfg.Issuer))
			})
		},
	}
}

func (a *app) resourcesUpdateCommand(m *manageCmd) *cobra.Command {
	var name string
	var scopes []string
	cmd := &cobra.Command{
		Use:   "update URI [--name NAME] [--scope SCOPE]...",
		Short: "Change a resource's name or scopes (--scope replaces the list); its secret: latchkey clients rotate-secret CLIENT_ID",
		Args:  wantArgs("URI"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			if m.remote.on() {
				return a.remoteUpdateResource(cmd, m, args[0], name, scopes)
			}
			return a.withStore(cmd.Context(), m, func(cfg config.Config, db *sqlstore.DB) error {
				r, err := getResource(cmd.Context(), db, args[0])
				if err != nil {
					return err
				}
				if fl.Changed("name") {
					r.Name = strings.TrimSpace(name)
				}
				if fl.Changed("scope") {
					r.Scopes = cleanList(scopes, true)
				}
				if err := oauth.ValidateResource(r, oauth.NewScopes(cfg.Scopes)); err != nil {
					return problems("invalid resource", err)
				}
				r.UpdatedAt = a.clock()
				if err := db.UpdateResource(cmd.Context(), r); err != nil {
					return fmt.Errorf("update resource: %w", err)
				}
				a.audit(cmd.Context(), cfg, audit.Event{Name: audit.EventResourceChanged, ClientID: r.ClientID, Detail: "updated " + r.URI})
				return m.printResource(cmd, newResourceView(r, "", cfg.Issuer))
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "display `NAME`")
	cmd.Flags().StringArrayVar(&scopes, "scope", nil, "`SCOPE` the API serves (repeatable); replaces the list")
	return cmd
}

func (a *app) resourcesDeleteCommand(m *manageCmd) *cobra.Command {
	return &cobra.Command{
		Use:   "delete URI",
		Short: "Delete a resource and its credentials; tokens already issued for it stay valid until they expire",
		Args:  wantArgs("URI"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if m.remote.on() {
				return a.remoteDeleteResource(cmd, m, args[0])
			}
			return a.withStore(cmd.Context(), m, func(cfg config.Config, db *sqlstore.DB) error {
				err := db.DeleteResource(cmd.Context(), args[0])
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("resource %q not found", args[0])
				}
				if err != nil {
					return fmt.Errorf("delete resource: %w", err)
				}
				a.audit(cmd.Context(), cfg, audit.Event{Name: audit.EventResourceChanged, Detail: "deleted " + args[0]})
				return printDeletedResource(cmd, m, args[0])
			})
		},
	}
}

func printDeletedResource(cmd *cobra.Command, m *manageCmd, uri string) error {
	if !m.out.json() {
		_, err := fmt.Fprintf(cmd.OutOrStdout(), "Deleted resource %s.\n", uri)
		return err
	}
	return writeJSON(cmd.OutOrStdout(), map[string]any{"uri": uri, "deleted": true})
}
