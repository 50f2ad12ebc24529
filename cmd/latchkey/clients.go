package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// oauth.DefaultGrantTypes are given to a client registered without --grant-type.

// manageCmd is the state shared by the subcommands of clients and users.
type manageCmd struct {
	db  dbFlags
	out outputFlag
	// remote is --server: the admin API instead of the database, for the
	// groups whose commands the admin API serves (docs/admin-api.md).
	remote remoteFlags
}

// groupCommand returns a parent command whose subcommands share the
// database and output flags, checked before any subcommand runs.
func (m *manageCmd) groupCommand(use, short string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return m.out.check(cmd)
		},
		// Runnable, so that cobra.NoArgs reports an unknown subcommand
		// instead of printing the help and succeeding.
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	m.db.register(cmd.PersistentFlags())
	m.out.register(cmd.PersistentFlags())
	return cmd
}

// errDatabaseOnly refuses --server on a command the admin API cannot serve.
var errDatabaseOnly = errors.New("this command works on the database only: leave out --server")

// withStore loads the configuration, opens the database and runs fn.
// Commands that do not work through the admin API refuse --server here.
func (a *app) withStore(ctx context.Context, m *manageCmd, fn func(cfg config.Config, db *sqlstore.DB) error) error {
	if m.remote.on() {
		return errDatabaseOnly
	}
	cfg, err := a.loadConfig(&m.db)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(cfg, db)
}

func (a *app) clientsCommand() *cobra.Command {
	m := &manageCmd{}
	cmd := m.groupCommand("clients", "Register and manage OAuth clients")
	m.remote.register(cmd.PersistentFlags())
	cmd.AddCommand(
		a.clientsCreateCommand(m),
		a.clientsListCommand(m),
		a.clientsGetCommand(m),
		a.clientsUpdateCommand(m),
		a.clientsDeleteCommand(m),
		a.clientsRotateSecretCommand(m),
	)
	return cmd
}

// clientFlags are the registration flags of create and update.
type clientFlags struct {
	name            string
	redirectURIs    []string
	grantTypes      []string
	scopes          []string
	public          bool
	secret          string
	codeTTL         time.Duration
	accessTokenTTL  time.Duration
	refreshTokenTTL time.Duration
	tokenFormat     string
	authMethod      string
	jwks            string
	jwksURI         string

	// OpenID Connect and platform metadata.
	postLogoutRedirectURIs []string
	backchannelLogoutURI   string
	frontchannelLogoutURI  string
	initiateLoginURI       string
	logoURI                string
	clientURI              string
	description            string
	firstParty             bool
	requirePAR             bool
	requireDPoP            bool
	requireRequestObject   bool
	profile                string
	idTokenAlg             string
	requiredScopes         []string
	resources              []string
}

// keyAuth reports whether the flags register a private_key_jwt client,
// which has keys instead of a secret.
func (f *clientFlags) keyAuth() bool { return f.authMethod == oauth.AuthPrivateKeyJWT }

// readJWKS returns the --jwks value: inline JSON, or @FILE.
func readJWKS(v string) (string, error) {
	if name, ok := strings.CutPrefix(v, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("--jwks: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return v, nil
}

func (f *clientFlags) register(fs *pflag.FlagSet, update bool) {
	replaces := ""
	if update {
		replaces = "; replaces the list when given (pass \"\" to clear it)"
	}
	fs.StringVar(&f.name, "name", "", "display `NAME` shown on the consent page")
	fs.StringArrayVar(&f.redirectURIs, "redirect-uri", nil, "redirect `URI` (repeatable)"+replaces)
	fs.StringArrayVar(&f.grantTypes, "grant-type", nil, "grant `TYPE` (repeatable): "+strings.Join(oauth.KnownGrantTypes, ", ")+
		"; default "+strings.Join(oauth.DefaultGrantTypes, " and ")+replaces)
	fs.StringArrayVar(&f.scopes, "scope", nil, "`SCOPE` the client may request (repeatable, or space-separated)"+replaces)
	fs.BoolVar(&f.public, "public", false, "public client (native or browser app): no secret, PKCE required")
	fs.StringVar(&f.secret, "secret", "", "import this client `SECRET` instead of generating one")
	fs.DurationVar(&f.codeTTL, "code-ttl", 0, "authorization code lifetime (0: server default)")
	fs.DurationVar(&f.accessTokenTTL, "access-token-ttl", 0, "access token lifetime (0: server default)")
	fs.DurationVar(&f.refreshTokenTTL, "refresh-token-ttl", 0, "refresh token lifetime (0: server default)")
	fs.StringVar(&f.tokenFormat, "access-token-format", "", "`FORMAT` of access tokens: jwt (RFC 9068, default) or opaque")
	fs.StringVar(&f.authMethod, "auth-method", "", "token endpoint auth `METHOD`: client_secret_basic, client_secret_post or private_key_jwt (default: either secret method)")
	fs.StringVar(&f.jwks, "jwks", "", "the client's public JWK Set for private_key_jwt: inline `JSON` or @FILE")
	fs.StringVar(&f.jwksURI, "jwks-uri", "", "where to fetch the client's JWK Set for private_key_jwt (`URL`, https)")
	fs.StringArrayVar(&f.postLogoutRedirectURIs, "post-logout-redirect-uri", nil,
		"`URI` the app may ask to return to after signing out (repeatable; rules of redirect URIs)"+replaces)
	fs.StringVar(&f.backchannelLogoutURI, "backchannel-logout-uri", "", "`URI` that receives logout tokens (OpenID Back-Channel Logout; https)")
	fs.StringVar(&f.frontchannelLogoutURI, "frontchannel-logout-uri", "", "`URI` loaded in an iframe at logout (OpenID Front-Channel Logout; https)")
	fs.StringVar(&f.initiateLoginURI, "initiate-login-uri", "", "`URI` that starts a sign-in at the app (linked from the portal; https)")
	fs.StringVar(&f.logoURI, "logo-uri", "", "`URI` of the app's logo (https)")
	fs.StringVar(&f.clientURI, "client-uri", "", "`URI` of the app's home page (https)")
	fs.StringVar(&f.description, "description", "", "`TEXT` describing the app (at most 1000 characters)")
	fs.StringArrayVar(&f.requiredScopes, "required-scope", nil, "`SCOPE` the consent page cannot untick (repeatable, among --scope; openid always is)"+replaces)
	fs.BoolVar(&f.firstParty, "first-party", false, "an application of the platform itself: its consent is implied (never for a public client)")
	fs.BoolVar(&f.requirePAR, "require-par", false, "the app must push its authorization requests to /par (RFC 9126 require_pushed_authorization_requests)")
	fs.BoolVar(&f.requireDPoP, "require-dpop", false, "every token request of the app must carry a DPoP proof (RFC 9449 dpop_bound_access_tokens)")
	fs.BoolVar(&f.requireRequestObject, "require-request-object", false, "the app must send its authorization requests as request objects signed with its keys (RFC 9101 require_signed_request_object)")
	fs.StringVar(&f.profile, "profile", "", "`PROFILE` the app is held to on every request: fapi2 (FAPI 2.0 Security Profile: PAR, PKCE, private_key_jwt, DPoP; see docs/fapi2.md); empty for none")
	fs.StringArrayVar(&f.resources, "resource", nil, "`URI` of a registered resource (RFC 8707) the client may ask tokens for (repeatable; default: every resource serving one of its scopes)"+replaces)
	fs.StringVar(&f.idTokenAlg, "id-token-alg", "", "`ALG` that signs the app's ID tokens: RS256, ES256 or EdDSA (empty: RS256)")
}

// applyOpenID sets the OpenID Connect and platform fields of c from the
// flags: all of them (create), or only those given (update, changed != nil).
func (f *clientFlags) applyOpenID(c *store.Client, changed func(name string) bool) {
	if changed == nil {
		changed = func(string) bool { return true }
	}
	if changed("post-logout-redirect-uri") {
		c.PostLogoutRedirectURIs = cleanList(f.postLogoutRedirectURIs, false)
	}
	for _, s := range []struct {
		flag  string
		value string
		field *string
	}{
		{"backchannel-logout-uri", f.backchannelLogoutURI, &c.BackchannelLogoutURI},
		{"frontchannel-logout-uri", f.frontchannelLogoutURI, &c.FrontchannelLogoutURI},
		{"initiate-login-uri", f.initiateLoginURI, &c.InitiateLoginURI},
		{"logo-uri", f.logoURI, &c.LogoURI},
		{"client-uri", f.clientURI, &c.ClientURI},
		{"description", f.description, &c.Description},
		{"id-token-alg", f.idTokenAlg, &c.IDTokenAlg},
		{"profile", f.profile, &c.Profile},
	} {
		if changed(s.flag) {
			*s.field = strings.TrimSpace(s.value)
		}
	}
	if changed("first-party") {
		c.FirstParty = f.firstParty
	}
	if changed("require-par") {
		c.RequirePushedAuthorizationRequests = f.requirePAR
	}
	if changed("require-dpop") {
		c.DPoPBoundAccessTokens = f.requireDPoP
	}
	if changed("require-request-object") {
		c.RequireSignedRequestObject = f.requireRequestObject
	}
	oauth.ApplyProfileDefaults(c)
	if changed("required-scope") {
		c.RequiredScopes = cleanList(f.requiredScopes, true)
	}
	if changed("resource") {
		c.Resources = cleanList(f.resources, false)
	}
}

// registeredResources checks that every URI names a registered resource.
func registeredResources(ctx context.Context, db store.ResourceStore, uris []string) error {
	for _, uri := range uris {
		if _, err := db.GetResource(ctx, uri); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("resource %q is not registered (latchkey resources create --uri %s ...)", uri, uri)
		} else if err != nil {
			return fmt.Errorf("get resource: %w", err)
		}
	}
	return nil
}

// cleanList drops empty entries; for scopes it also splits on spaces, as in
// the scope parameter (RFC 6749 §3.3).
func cleanList(in []string, splitSpaces bool) []string {
	out := []string{}
	for _, v := range in {
		if splitSpaces {
			out = append(out, strings.Fields(v)...)
		} else if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// pendingSecret stands for a secret hash during validation, so that slow
// argon2id hashing runs only for a registration that is valid.
const pendingSecret = "pending"

func (a *app) clientsCreateCommand(m *manageCmd) *cobra.Command {
	var f clientFlags
	var id string
	cmd := &cobra.Command{
		Use:   "create --name NAME [--redirect-uri URI]... [--grant-type TYPE]... [--scope SCOPE]... [--public] [--id ID] [--secret SECRET]",
		Short: "Register a client; a generated secret is shown once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := a.clock()
			c := store.Client{
				ID:                      id,
				Name:                    strings.TrimSpace(f.name),
				Public:                  f.public,
				RedirectURIs:            cleanList(f.redirectURIs, false),
				GrantTypes:              cleanList(f.grantTypes, false),
				Scopes:                  cleanList(f.scopes, true),
				CodeTTL:                 f.codeTTL,
				AccessTokenTTL:          f.accessTokenTTL,
				RefreshTokenTTL:         f.refreshTokenTTL,
				CreatedAt:               now,
				UpdatedAt:               now,
				AccessTokenFormat:       f.tokenFormat,
				TokenEndpointAuthMethod: f.authMethod,
				JWKSURI:                 f.jwksURI,
			}
			f.applyOpenID(&c, nil)
			jwks, err := readJWKS(f.jwks)
			if err != nil {
				return err
			}
			c.JWKS = jwks
			if c.ID == "" {
				c.ID = oauth.NewClientID()
			}
			if len(c.GrantTypes) == 0 {
				c.GrantTypes = append([]string(nil), oauth.DefaultGrantTypes...)
			}
			secretGiven := cmd.Flags().Changed("secret")
			if secretGiven && f.secret == "" {
				return usageError(cmd, "--secret must not be empty")
			}
			if secretGiven {
				if err := config.ValidateGivenSecret(f.secret); err != nil {
					return usageError(cmd, "--secret: "+err.Error())
				}
			}
			if m.remote.on() {
				return a.remoteCreateClient(cmd, m, c, f.secret)
			}
			if !c.Public && !f.keyAuth() || secretGiven {
				c.SecretHash = pendingSecret
			}
			return a.withStore(cmd.Context(), m, func(cfg config.Config, db *sqlstore.DB) error {
				if err := oauth.ValidateClient(c, oauth.NewScopes(cfg.Scopes)); err != nil {
					return problems("invalid client", err)
				}
				if err := registeredResources(cmd.Context(), db, c.Resources); err != nil {
					return err
				}
				var plain string
				switch {
				case secretGiven:
					plain, c.SecretHash = f.secret, oauth.HashGivenSecret(f.secret)
				case !c.Public && !f.keyAuth():
					var v secret.Value
					v, c.SecretHash = oauth.NewClientSecret()
					plain = v.String()
				}
				if err := db.CreateClient(cmd.Context(), c); err != nil {
					if errors.Is(err, store.ErrConflict) {
						return fmt.Errorf("client %q already exists", c.ID)
					}
					return fmt.Errorf("create client: %w", err)
				}
				a.audit(cmd.Context(), cfg, audit.Event{Name: audit.EventClientChanged, ClientID: c.ID, Detail: "created"})
				return m.printClient(cmd, c, plain)
			})
		},
	}
	f.register(cmd.Flags(), false)
	cmd.Flags().StringVar(&id, "id", "", "client `ID` (default: generated)")
	return cmd
}

func (m *manageCmd) printClient(cmd *cobra.Command, c store.Client, plainSecret string) error {
	v := newClientView(c, plainSecret)
	if m.out.json() {
		return writeJSON(cmd.OutOrStdout(), v)
	}
	return writeClient(cmd.OutOrStdout(), v)
}

func (a *app) clientsListCommand(m *manageCmd) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List registered clients",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if m.remote.on() {
				return a.remoteListClients(cmd, m)
			}
			return a.withStore(cmd.Context(), m, func(_ config.Config, db *sqlstore.DB) error {
				clients, err := db.ListClients(cmd.Context())
				if err != nil {
					return fmt.Errorf("list clients: %w", err)
				}
				views := make([]clientView, len(clients))
				for i, c := range clients {
					views[i] = newClientView(c, "")
				}
				if m.out.json() {
					return writeJSON(cmd.OutOrStdout(), views)
				}
				return writeClientTable(cmd.OutOrStdout(), views)
			})
		},
	}
}

// getClient returns the client or a one-line "not found" error.
func getClient(ctx context.Context, db store.ClientStore, id string) (store.Client, error) {
	c, err := db.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Client{}, fmt.Errorf("client %q not found", id)
	}
	if err != nil {
		return store.Client{}, fmt.Errorf("get client: %w", err)
	}
	return c, nil
}

func (a *app) clientsGetCommand(m *manageCmd) *cobra.Command {
	return &cobra.Command{
		Use:   "get CLIENT_ID",
		Short: "Show one client",
		Args:  wantArgs("CLIENT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if m.remote.on() {
				return a.remoteClientCall(cmd, m, "GET", args[0], "")
			}
			return a.withStore(cmd.Context(), m, func(_ config.Config, db *sqlstore.DB) error {
				c, err := getClient(cmd.Context(), db, args[0])
				if err != nil {
					return err
				}
				return m.printClient(cmd, c, "")
			})
		},
	}
}

func (a *app) clientsUpdateCommand(m *manageCmd) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "update CLIENT_ID [flags]",
		Short: "Change a client; only the flags given change, and lists given replace the old ones",
		Long: `Change a client; only the flags given change, and a list flag given
(--redirect-uri, --grant-type, --scope, --post-logout-redirect-uri)
replaces the whole list; a text flag given as "" clears it.
--public drops the secret; --public=false on a public client makes it
confidential with a new generated secret (shown once) unless --secret is given.`,
		Args: wantArgs("CLIENT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			secretGiven := fl.Changed("secret")
			if secretGiven && f.secret == "" {
				return usageError(cmd, "--secret must not be empty")
			}
			if secretGiven {
				if err := config.ValidateGivenSecret(f.secret); err != nil {
					return usageError(cmd, "--secret: "+err.Error())
				}
			}
			if m.remote.on() {
				if secretGiven {
					return usageError(cmd, "--secret on update works on the database only; through --server, a confidential client gets a generated secret (clients rotate-secret)")
				}
				return a.remoteUpdateClient(cmd, m, &f, args[0])
			}
			return a.withStore(cmd.Context(), m, func(cfg config.Config, db *sqlstore.DB) error {
				c, err := getClient(cmd.Context(), db, args[0])
				if err != nil {
					return err
				}
				generate, err := f.apply(&c, fl.Changed, secretGiven)
				if err != nil {
					return err
				}
				if secretGiven || generate {
					c.SecretHash = pendingSecret
				}
				if err := oauth.ValidateClient(c, oauth.NewScopes(cfg.Scopes)); err != nil {
					return problems("invalid client", err)
				}
				if err := registeredResources(cmd.Context(), db, c.Resources); err != nil {
					return err
				}
				var plain string
				switch {
				case secretGiven:
					plain, c.SecretHash = f.secret, oauth.HashGivenSecret(f.secret)
				case generate:
					var v secret.Value
					v, c.SecretHash = oauth.NewClientSecret()
					plain = v.String()
				}
				c.UpdatedAt = a.clock()
				if err := db.UpdateClient(cmd.Context(), c); err != nil {
					if errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("client %q not found", c.ID)
					}
					return fmt.Errorf("update client: %w", err)
				}
				a.audit(cmd.Context(), cfg, audit.Event{Name: audit.EventClientChanged, ClientID: c.ID, Detail: "updated"})
				return m.printClient(cmd, c, plain)
			})
		},
	}
	f.register(cmd.Flags(), true)
	return cmd
}

func (a *app) clientsDeleteCommand(m *manageCmd) *cobra.Command {
	return &cobra.Command{
		Use:   "delete CLIENT_ID",
		Short: "Delete a client and everything issued to it",
		Args:  wantArgs("CLIENT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if m.remote.on() {
				return a.remoteDeleteClient(cmd, m, args[0])
			}
			return a.withStore(cmd.Context(), m, func(cfg config.Config, db *sqlstore.DB) error {
				id := args[0]
				if err := db.DeleteClient(cmd.Context(), id); err != nil {
					if errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("client %q not found", id)
					}
					return fmt.Errorf("delete client: %w", err)
				}
				a.audit(cmd.Context(), cfg, audit.Event{Name: audit.EventClientChanged, ClientID: id, Detail: "deleted"})
				return printDeletedClient(cmd, m, id)
			})
		},
	}
}

func printDeletedClient(cmd *cobra.Command, m *manageCmd, id string) error {
	if m.out.json() {
		return writeJSON(cmd.OutOrStdout(), map[string]any{"client_id": id, "deleted": true})
	}
	_, err := fmt.Fprintf(cmd.OutOrStdout(), "Deleted client %s and everything issued to it.\n", id)
	return err
}

func (a *app) clientsRotateSecretCommand(m *manageCmd) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-secret CLIENT_ID",
		Short: "Replace a confidential client's secret with a new generated one, shown once",
		Long: `Replace a confidential client's secret with a new generated one, shown
once. The old secret stops working at once.`,
		Args: wantArgs("CLIENT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if m.remote.on() {
				return a.remoteClientCall(cmd, m, "POST", args[0], "/secret")
			}
			return a.withStore(cmd.Context(), m, func(cfg config.Config, db *sqlstore.DB) error {
				c, err := getClient(cmd.Context(), db, args[0])
				if err != nil {
					return err
				}
				if c.Public {
					return fmt.Errorf("client %q is public and has no secret", c.ID)
				}
				var v secret.Value
				v, c.SecretHash = oauth.NewClientSecret()
				c.UpdatedAt = a.clock()
				if err := db.UpdateClient(cmd.Context(), c); err != nil {
					return fmt.Errorf("update client: %w", err)
				}
				a.audit(cmd.Context(), cfg, audit.Event{Name: audit.EventClientChanged, ClientID: c.ID, Detail: "secret rotated"})
				return m.printClient(cmd, c, v.String())
			})
		},
	}
}

// apply changes c by the update flags given (changed), as clients update
// does on the database and through the admin API. generate reports that
// a public client became confidential and needs a new generated secret.
func (f *clientFlags) apply(c *store.Client, changed func(string) bool, secretGiven bool) (generate bool, err error) {
	if changed("name") {
		c.Name = strings.TrimSpace(f.name)
	}
	if changed("redirect-uri") {
		c.RedirectURIs = cleanList(f.redirectURIs, false)
	}
	if changed("grant-type") {
		c.GrantTypes = cleanList(f.grantTypes, false)
	}
	if changed("scope") {
		c.Scopes = cleanList(f.scopes, true)
	}
	if changed("code-ttl") {
		c.CodeTTL = f.codeTTL
	}
	if changed("access-token-ttl") {
		c.AccessTokenTTL = f.accessTokenTTL
	}
	if changed("refresh-token-ttl") {
		c.RefreshTokenTTL = f.refreshTokenTTL
	}
	if changed("access-token-format") {
		c.AccessTokenFormat = f.tokenFormat
	}
	if changed("auth-method") {
		c.TokenEndpointAuthMethod = f.authMethod
		if f.keyAuth() {
			c.SecretHash = ""
		}
	}
	if changed("jwks") {
		if c.JWKS, err = readJWKS(f.jwks); err != nil {
			return false, err
		}
	}
	if changed("jwks-uri") {
		c.JWKSURI = f.jwksURI
	}
	f.applyOpenID(c, changed)
	if changed("public") {
		switch {
		case f.public:
			c.Public, c.SecretHash = true, ""
		case c.Public:
			c.Public, generate = false, !secretGiven
		}
	}
	return generate, nil
}
