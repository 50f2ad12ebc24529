package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// applyStatic makes the database hold the clients and users declared in the
// configuration (GitOps): each is created if missing and updated if it
// differs. Entries removed from the file are left alone, since the CLI may
// have made them. Every invalid static client is reported before anything
// is written.
func applyStatic(ctx context.Context, st store.Store, cfg config.Config, now time.Time, logger *slog.Logger) error {
	_, err := applyStaticCounted(ctx, st, cfg, now, logger)
	return err
}

// staticChanges counts what applying the static entries changed.
type staticChanges struct {
	ClientsCreated, ClientsUpdated     int
	ResourcesCreated, ResourcesUpdated int
	UsersCreated, UsersUpdated         int
}

func (c staticChanges) count(did string, created, updated *int) {
	switch did {
	case "created":
		*created++
	case "updated":
		*updated++
	}
}

// applyStaticCounted is applyStatic, reporting what it changed.
func applyStaticCounted(ctx context.Context, st store.Store, cfg config.Config, now time.Time, logger *slog.Logger) (staticChanges, error) {
	var ch staticChanges
	if err := errors.Join(validateStatic(cfg, now)...); err != nil {
		return ch, problems("invalid static clients or resources in the configuration", err)
	}
	for _, cc := range cfg.Clients {
		did, err := applyStaticClient(ctx, st, cc, now, logger)
		if err != nil {
			return ch, err
		}
		ch.count(did, &ch.ClientsCreated, &ch.ClientsUpdated)
	}
	for _, cr := range cfg.Resources {
		did, err := applyStaticResource(ctx, st, cr, now, logger)
		if err != nil {
			return ch, err
		}
		ch.count(did, &ch.ResourcesCreated, &ch.ResourcesUpdated)
	}
	for _, cu := range cfg.Users {
		did, err := applyStaticUser(ctx, st, cu, now, logger)
		if err != nil {
			return ch, err
		}
		ch.count(did, &ch.UsersCreated, &ch.UsersUpdated)
	}
	return ch, nil
}

// validateStatic returns every problem of the static clients and resources
// against the configuration's scopes, each naming its entry.
func validateStatic(cfg config.Config, now time.Time) []error {
	scopes := oauth.NewScopes(cfg.Scopes)
	var errs []error
	for i, cc := range cfg.Clients {
		c := staticClient(cc)
		if c.SecretHash == "" && cc.Secret != "" {
			c.SecretHash = pendingSecret
		}
		if err := oauth.ValidateClient(c, scopes); err != nil {
			for _, e := range flatten(err) {
				errs = append(errs, fmt.Errorf("clients[%d] (%q): %w", i, cc.ID, e))
			}
		}
	}
	for i, cr := range cfg.Resources {
		if err := oauth.ValidateResource(staticResource(cr, now), scopes); err != nil {
			for _, e := range flatten(err) {
				errs = append(errs, fmt.Errorf("resources[%d] (%q): %w", i, cr.URI, e))
			}
		}
	}
	return errs
}

// staticClient is the registration a config entry declares, with its
// secret hash only if given as secret_hash.
func staticClient(cc config.Client) store.Client {
	grants := cc.GrantTypes
	if len(grants) == 0 {
		grants = oauth.DefaultGrantTypes
	}
	c := store.Client{
		ID:                      cc.ID,
		SecretHash:              cc.SecretHash,
		Name:                    cc.Name,
		Public:                  cc.Public,
		RedirectURIs:            slices.Clone(cc.RedirectURIs),
		GrantTypes:              slices.Clone(grants),
		Scopes:                  slices.Clone(cc.Scopes),
		CodeTTL:                 cc.CodeTTL,
		AccessTokenTTL:          cc.AccessTokenTTL,
		RefreshTokenTTL:         cc.RefreshTokenTTL,
		AccessTokenFormat:       cc.AccessTokenFormat,
		TokenEndpointAuthMethod: cc.TokenEndpointAuthMethod,
		JWKS:                    cc.JWKS,
		JWKSURI:                 cc.JWKSURI,
		PostLogoutRedirectURIs:  slices.Clone(cc.PostLogoutRedirectURIs),
		BackchannelLogoutURI:    cc.BackchannelLogoutURI,
		FrontchannelLogoutURI:   cc.FrontchannelLogoutURI,
		InitiateLoginURI:        cc.InitiateLoginURI,
		LogoURI:                 cc.LogoURI,
		ClientURI:               cc.ClientURI,
		Description:             cc.Description,
		FirstParty:              cc.FirstParty,
		IDTokenAlg:              cc.IDTokenAlg,
		RequiredScopes:          cleanList(cc.RequiredScopes, true),
		Resources:               slices.Clone(cc.Resources),

		RequirePushedAuthorizationRequests: cc.RequirePushedAuthorizationRequests,
		DPoPBoundAccessTokens:              cc.DPoPBoundAccessTokens,
		RequireSignedRequestObject:         cc.RequireSignedRequestObject,
		Profile:                            cc.Profile,
	}
	oauth.ApplyProfileDefaults(&c)
	return c
}

func applyStaticClient(ctx context.Context, st store.ClientStore, cc config.Client, now time.Time, logger *slog.Logger) (string, error) {
	want := staticClient(cc)
	have, err := st.GetClient(ctx, cc.ID)
	found := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("static client %q: %w", cc.ID, err)
	}
	if cc.Secret != "" {
		// Keep the stored hash while it verifies the declared secret: an
		// argon2id hash is salted, so rehashing would always look changed.
		if found && secret.CheckClientSecret(have.SecretHash, cc.Secret) {
			want.SecretHash = have.SecretHash
		} else {
			want.SecretHash = oauth.HashGivenSecret(cc.Secret)
		}
	}
	did, err := upsertClient(ctx, st, want, have, found, now)
	if err != nil {
		return "", fmt.Errorf("static client %q: %w", cc.ID, err)
	}
	if did != "" {
		logger.InfoContext(ctx, "static client "+did, "client_id", cc.ID)
	}
	return did, nil
}

// upsertClient creates want if it was not found, or updates it if it differs
// from have; it reports what it did ("created", "updated" or "").
func upsertClient(ctx context.Context, st store.ClientStore, want, have store.Client, found bool, now time.Time) (string, error) {
	if !found {
		want.CreatedAt, want.UpdatedAt = now, now
		return "created", st.CreateClient(ctx, want)
	}
	if sameClient(have, want) {
		return "", nil
	}
	want.CreatedAt, want.UpdatedAt = have.CreatedAt, now
	return "updated", st.UpdateClient(ctx, want)
}

// sameClient compares every registration field (not the timestamps).
func sameClient(a, b store.Client) bool {
	return a.ID == b.ID && a.SecretHash == b.SecretHash && a.Name == b.Name && a.Public == b.Public &&
		slices.Equal(a.RedirectURIs, b.RedirectURIs) && slices.Equal(a.GrantTypes, b.GrantTypes) &&
		slices.Equal(a.Scopes, b.Scopes) && a.CodeTTL == b.CodeTTL && a.AccessTokenTTL == b.AccessTokenTTL &&
		a.RefreshTokenTTL == b.RefreshTokenTTL && a.AccessTokenFormat == b.AccessTokenFormat &&
		a.TokenEndpointAuthMethod == b.TokenEndpointAuthMethod && a.JWKS == b.JWKS && a.JWKSURI == b.JWKSURI &&
		slices.Equal(a.PostLogoutRedirectURIs, b.PostLogoutRedirectURIs) && a.BackchannelLogoutURI == b.BackchannelLogoutURI &&
		a.FrontchannelLogoutURI == b.FrontchannelLogoutURI && a.InitiateLoginURI == b.InitiateLoginURI &&
		a.LogoURI == b.LogoURI && a.ClientURI == b.ClientURI && a.Description == b.Description &&
		a.FirstParty == b.FirstParty && a.IDTokenAlg == b.IDTokenAlg && slices.Equal(a.RequiredScopes, b.RequiredScopes) &&
		slices.Equal(a.Resources, b.Resources) && a.RequirePushedAuthorizationRequests == b.RequirePushedAuthorizationRequests &&
		a.DPoPBoundAccessTokens == b.DPoPBoundAccessTokens && a.RequireSignedRequestObject == b.RequireSignedRequestObject &&
		a.Profile == b.Profile
}

func staticResource(cr config.Resource, now time.Time) store.Resource {
	return store.Resource{URI: cr.URI, Name: cr.Name, Scopes: cleanList(cr.Scopes, true), ClientID: cr.ClientID, CreatedAt: now, UpdatedAt: now}
}

// applyStaticResource creates the resource with its credentials if
// missing, and otherwise updates its name, scopes and secret where they
// differ from the file.
func applyStaticResource(ctx context.Context, st store.Store, cr config.Resource, now time.Time, logger *slog.Logger) (string, error) {
	want := staticResource(cr, now)
	have, err := st.GetResource(ctx, cr.URI)
	if errors.Is(err, store.ErrNotFound) {
		hash := cr.ClientSecretHash
		if hash == "" {
			hash = oauth.HashGivenSecret(cr.ClientSecret)
		}
		if err := st.CreateResource(ctx, want, oauth.ResourceCredentials(want, hash)); err != nil {
			return "", fmt.Errorf("static resource %q: %w", cr.URI, err)
		}
		logger.InfoContext(ctx, "static resource created", "resource", cr.URI, "client_id", cr.ClientID)
		return "created", nil
	}
	if err != nil {
		return "", fmt.Errorf("static resource %q: %w", cr.URI, err)
	}
	if have.ClientID != want.ClientID {
		return "", fmt.Errorf("static resource %q: registered with client %q, not %q; delete it first (latchkey resources delete)", cr.URI, have.ClientID, want.ClientID)
	}
	did := ""
	if have.Name != want.Name || !slices.Equal(have.Scopes, want.Scopes) {
		did = "updated"
		want.CreatedAt = have.CreatedAt
		if err := st.UpdateResource(ctx, want); err != nil {
			return "", fmt.Errorf("static resource %q: %w", cr.URI, err)
		}
		logger.InfoContext(ctx, "static resource updated", "resource", cr.URI)
	}
	c, err := st.GetClient(ctx, want.ClientID)
	if err != nil {
		return "", fmt.Errorf("static resource %q: %w", cr.URI, err)
	}
	hash := cr.ClientSecretHash
	switch {
	case hash == "" && secret.CheckClientSecret(c.SecretHash, cr.ClientSecret), hash == c.SecretHash:
		return did, nil
	case hash == "":
		hash = oauth.HashGivenSecret(cr.ClientSecret)
	}
	c.SecretHash, c.UpdatedAt = hash, now
	if err := st.UpdateClient(ctx, c); err != nil {
		return "", fmt.Errorf("static resource %q: %w", cr.URI, err)
	}
	logger.InfoContext(ctx, "static resource secret updated", "resource", cr.URI)
	return "updated", nil
}

func applyStaticUser(ctx context.Context, st store.UserStore, cu config.User, now time.Time, logger *slog.Logger) (string, error) {
	want := store.User{Username: cu.Username, PasswordHash: cu.PasswordHash, Name: cu.Name, Email: cu.Email, EmailVerified: cu.EmailVerified}
	have, err := st.GetUserByUsername(ctx, cu.Username)
	found := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("static user %q: %w", cu.Username, err)
	}
	did, err := upsertUser(ctx, st, want, cu.Password, have, found, now)
	if err != nil {
		return "", fmt.Errorf("static user %q: %w", cu.Username, err)
	}
	if did != "" {
		logger.InfoContext(ctx, "static user "+did, "username", cu.Username)
	}
	return did, nil
}

// upsertUser creates want (hashing password if want has no hash) if it was
// not found, or updates it if it differs from have; a stored hash that
// verifies password is kept. It reports what it did.
func upsertUser(ctx context.Context, st store.UserStore, want store.User, password string, have store.User, found bool, now time.Time) (string, error) {
	if want.PasswordHash == "" {
		if ok, err := secret.CheckPassword(have.PasswordHash, password); found && err == nil && ok {
			want.PasswordHash = have.PasswordHash
		} else {
			want.PasswordHash = secret.HashPassword(password)
		}
	}
	if !found {
		want.ID = secret.RandomString(16)
		want.CreatedAt, want.UpdatedAt = now, now
		return "created", st.CreateUser(ctx, want)
	}
	if have.PasswordHash == want.PasswordHash && have.Name == want.Name && have.Email == want.Email &&
		have.EmailVerified == want.EmailVerified {
		return "", nil
	}
	// An administrator's disabling outlasts a restart with the file.
	want.ID, want.CreatedAt, want.UpdatedAt, want.DisabledAt = have.ID, have.CreatedAt, now, have.DisabledAt
	return "updated", st.UpdateUser(ctx, want)
}
