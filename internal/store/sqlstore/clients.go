package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

const clientColumns = "id, secret_hash, name, public, redirect_uris, grant_types, scopes, " +
	"code_ttl, access_token_ttl, refresh_token_ttl, created_at, updated_at, " +
	"access_token_format, token_endpoint_auth_method, jwks, jwks_uri, " +
	"post_logout_redirect_uris, backchannel_logout_uri, frontchannel_logout_uri, initiate_login_uri, " +
	"logo_uri, client_uri, description, first_party, id_token_alg, required_scopes, resources, " +
	"require_pushed_authorization_requests, dpop_bound_access_tokens, require_signed_request_object, profile, " +
	"self_registered, registration_token_hash, registration_metadata, used_at"

// clientColumnCount is the number of clientColumns.
const clientColumnCount = 35

func scanClient(s rowScanner) (store.Client, error) {
	var c store.Client
	var codeTTL, accessTTL, refreshTTL int64
	err := s.Scan(&c.ID, &c.SecretHash, &c.Name, &c.Public, list(&c.RedirectURIs), list(&c.GrantTypes), list(&c.Scopes),
		&codeTTL, &accessTTL, &refreshTTL, tm(&c.CreatedAt), tm(&c.UpdatedAt),
		&c.AccessTokenFormat, &c.TokenEndpointAuthMethod, &c.JWKS, &c.JWKSURI,
		list(&c.PostLogoutRedirectURIs), &c.BackchannelLogoutURI, &c.FrontchannelLogoutURI, &c.InitiateLoginURI,
		&c.LogoURI, &c.ClientURI, &c.Description, &c.FirstParty, &c.IDTokenAlg, list(&c.RequiredScopes), list(&c.Resources),
		&c.RequirePushedAuthorizationRequests, &c.DPoPBoundAccessTokens, &c.RequireSignedRequestObject, &c.Profile,
		&c.SelfRegistered, &c.RegistrationTokenHash, &c.RegistrationMetadata, tm(&c.UsedAt))
	c.CodeTTL, c.AccessTokenTTL, c.RefreshTokenTTL = time.Duration(codeTTL), time.Duration(accessTTL), time.Duration(refreshTTL)
	return c, err
}

func checkClient(c store.Client) error {
	if err := checkKeys(c.ID); err != nil {
		return err
	}
	if err := checkText(c.SecretHash, c.Name, c.AccessTokenFormat, c.TokenEndpointAuthMethod, c.JWKS, c.JWKSURI,
		c.BackchannelLogoutURI, c.FrontchannelLogoutURI, c.InitiateLoginURI, c.LogoURI, c.ClientURI, c.Description,
		c.IDTokenAlg, c.RegistrationTokenHash, c.RegistrationMetadata); err != nil {
		return err
	}
	for _, l := range [][]string{c.RedirectURIs, c.GrantTypes, c.Scopes, c.PostLogoutRedirectURIs, c.RequiredScopes, c.Resources} {
		if err := checkText(l...); err != nil {
			return err
		}
	}
	return nil
}

// clientArgs returns the values of clientColumns, in order.
func (db *DB) clientArgs(c store.Client) []any {
	return []any{c.ID, c.SecretHash, c.Name, c.Public,
		encodeList(c.RedirectURIs), encodeList(c.GrantTypes), encodeList(c.Scopes),
		int64(c.CodeTTL), int64(c.AccessTokenTTL), int64(c.RefreshTokenTTL),
		db.d.time(c.CreatedAt), db.d.time(c.UpdatedAt),
		c.AccessTokenFormat, c.TokenEndpointAuthMethod, c.JWKS, c.JWKSURI,
		encodeList(c.PostLogoutRedirectURIs), c.BackchannelLogoutURI, c.FrontchannelLogoutURI, c.InitiateLoginURI,
		c.LogoURI, c.ClientURI, c.Description, c.FirstParty, c.IDTokenAlg, encodeList(c.RequiredScopes), encodeList(c.Resources),
		c.RequirePushedAuthorizationRequests, c.DPoPBoundAccessTokens, c.RequireSignedRequestObject, c.Profile,
		c.SelfRegistered, c.RegistrationTokenHash, c.RegistrationMetadata, db.d.time(c.UsedAt)}
}

// CreateClient inserts c; ErrConflict if the id exists, ErrInvalid if a
// value cannot be stored.
func (db *DB) CreateClient(ctx context.Context, c store.Client) error {
	if err := checkClient(c); err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	q := "INSERT INTO clients (" + clientColumns + ") VALUES (" + db.d.args(1, clientColumnCount) + ")"
	if _, err := db.execWrite(ctx, q, db.clientArgs(c)...); err != nil {
		return fmt.Errorf("create client: %w", mapErr(err))
	}
	return nil
}

// GetClient returns the client; ErrNotFound.
func (db *DB) GetClient(ctx context.Context, id string) (store.Client, error) {
	if !validKey(id) {
		return store.Client{}, fmt.Errorf("get client: %w", store.ErrNotFound)
	}
	q := "SELECT " + clientColumns + " FROM clients WHERE id = " + db.d.arg(1)
	return one(db.queryRow(ctx, db.read, q, id), scanClient, "get client")
}

// ListClients returns every client ordered by id (byte order).
func (db *DB) ListClients(ctx context.Context) ([]store.Client, error) {
	rows, err := db.query(ctx, db.read, "SELECT "+clientColumns+" FROM clients ORDER BY id")
	out, err := collect(rows, err, scanClient)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return out, nil
}

// UpdateClient replaces every field of the client with c.ID, CreatedAt
// included; ErrNotFound, ErrInvalid.
func (db *DB) UpdateClient(ctx context.Context, c store.Client) error {
	if err := checkClient(c); err != nil {
		return fmt.Errorf("update client: %w", err)
	}
	q := "UPDATE clients SET " + db.d.assignments(clientColumns) + " WHERE id = " + db.d.arg(1)
	n, err := db.execWrite(ctx, q, db.clientArgs(c)...)
	if err != nil {
		return fmt.Errorf("update client: %w", mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("update client: %w", store.ErrNotFound)
	}
	return nil
}

// DeleteClient removes the client and, by cascading foreign keys in the
// same statement, its authorization requests, grants, codes and tokens;
// ErrNotFound.
func (db *DB) DeleteClient(ctx context.Context, id string) error {
	if !validKey(id) {
		return fmt.Errorf("delete client: %w", store.ErrNotFound)
	}
	// A transaction so that PostgreSQL may run it again if the cascade
	// deadlocks with a concurrent writer.
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		n, err := db.execCount(ctx, tx, "DELETE FROM clients WHERE id = "+db.d.arg(1), id)
		if err == nil && n == 0 {
			err = store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete client: %w", mapErr(err))
	}
	return nil
}

// TouchClient sets used_at to t unless it is already later; ErrNotFound.
func (db *DB) TouchClient(ctx context.Context, id string, t time.Time) error {
	if !validKey(id) {
		return fmt.Errorf("touch client: %w", store.ErrNotFound)
	}
	p := db.d.arg
	q := "UPDATE clients SET used_at = " + p(2) + " WHERE id = " + p(1) + " AND (used_at IS NULL OR used_at < " + p(2) + ")"
	n, err := db.execWrite(ctx, q, id, db.d.time(t))
	if err != nil {
		return fmt.Errorf("touch client: %w", mapErr(err))
	}
	if n == 0 {
		// Either no such client or a later use already recorded.
		_, err := one(db.queryRow(ctx, db.read, "SELECT 1 FROM clients WHERE id = "+p(1), id), func(s rowScanner) (int, error) {
			var n int
			return n, s.Scan(&n)
		}, "touch client")
		return err
	}
	return nil
}

// DeleteUnusedClients removes the self-registered clients last used (or,
// never used, created) before t, with everything issued to them by
// cascading foreign keys, and returns their ids in one statement.
func (db *DB) DeleteUnusedClients(ctx context.Context, t time.Time) ([]string, error) {
	q := "DELETE FROM clients WHERE self_registered = " + db.d.arg(2) +
		" AND COALESCE(used_at, created_at) < " + db.d.arg(1) + " RETURNING id"
	var ids []string
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		ids = nil
		rows, err := db.query(ctx, tx, q, db.d.time(t), true)
		ids, err = collect(rows, err, func(s rowScanner) (string, error) {
			var id string
			return id, s.Scan(&id)
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("delete unused clients: %w", mapErr(err))
	}
	return ids, nil
}
