package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// ClientBody is a client's metadata as the API reads and writes it, with
// RFC 7591 names where RFC 7591 has one. The command line's --server mode
// sends and reads the same.
type ClientBody struct {
	ID                         string          `json:"client_id,omitempty"`
	Name                       string          `json:"client_name"`
	Public                     bool            `json:"public,omitempty"`
	RedirectURIs               []string        `json:"redirect_uris,omitempty"`
	GrantTypes                 []string        `json:"grant_types,omitempty"`
	Scopes                     []string        `json:"scopes,omitempty"`
	RequiredScopes             []string        `json:"required_scopes,omitempty"`
	Resources                  []string        `json:"resources,omitempty"`
	AccessTokenFormat          string          `json:"access_token_format,omitempty"`
	TokenEndpointAuthMethod    string          `json:"token_endpoint_auth_method,omitempty"`
	JWKS                       json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                    string          `json:"jwks_uri,omitempty"`
	PostLogoutRedirectURIs     []string        `json:"post_logout_redirect_uris,omitempty"`
	BackchannelLogoutURI       string          `json:"backchannel_logout_uri,omitempty"`
	FrontchannelLogoutURI      string          `json:"frontchannel_logout_uri,omitempty"`
	InitiateLoginURI           string          `json:"initiate_login_uri,omitempty"`
	LogoURI                    string          `json:"logo_uri,omitempty"`
	ClientURI                  string          `json:"client_uri,omitempty"`
	Description                string          `json:"description,omitempty"`
	FirstParty                 bool            `json:"first_party,omitempty"`
	IDTokenAlg                 string          `json:"id_token_signed_response_alg,omitempty"`
	RequirePAR                 bool            `json:"require_pushed_authorization_requests,omitempty"`
	DPoPBound                  bool            `json:"dpop_bound_access_tokens,omitempty"`
	RequireSignedRequestObject bool            `json:"require_signed_request_object,omitempty"`
	Profile                    string          `json:"profile,omitempty"`
	CodeTTL                    string          `json:"code_ttl,omitempty"`
	AccessTokenTTL             string          `json:"access_token_ttl,omitempty"`
	RefreshTokenTTL            string          `json:"refresh_token_ttl,omitempty"`
}

// ClientInput is a create or replace request: the metadata, and on create
// an optional secret to import.
type ClientInput struct {
	ClientBody
	Secret string `json:"client_secret,omitempty"`
}

// ClientView is a client as the API answers it; the secret only once,
// when created or rotated.
type ClientView struct {
	ClientBody
	Secret    string    `json:"client_secret,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func newClientView(c store.Client, plain string) ClientView {
	return ClientView{ClientBody: ClientMetadata(c), Secret: plain, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// ClientMetadata is c's metadata as the API has it (never its secret).
func ClientMetadata(c store.Client) ClientBody {
	ttl := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.String()
	}
	b := ClientBody{
		ID: c.ID, Name: c.Name, Public: c.Public, RedirectURIs: c.RedirectURIs, GrantTypes: c.GrantTypes, Scopes: c.Scopes,
		RequiredScopes: c.RequiredScopes, Resources: c.Resources, AccessTokenFormat: c.AccessTokenFormat,
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod, JWKSURI: c.JWKSURI,
		PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, BackchannelLogoutURI: c.BackchannelLogoutURI,
		FrontchannelLogoutURI: c.FrontchannelLogoutURI, InitiateLoginURI: c.InitiateLoginURI, LogoURI: c.LogoURI,
		ClientURI: c.ClientURI, Description: c.Description, FirstParty: c.FirstParty, IDTokenAlg: c.IDTokenAlg,
		RequirePAR: c.RequirePushedAuthorizationRequests, DPoPBound: c.DPoPBoundAccessTokens,
		RequireSignedRequestObject: c.RequireSignedRequestObject, Profile: c.Profile,
		CodeTTL: ttl(c.CodeTTL), AccessTokenTTL: ttl(c.AccessTokenTTL), RefreshTokenTTL: ttl(c.RefreshTokenTTL),
	}
	if c.JWKS != "" {
		b.JWKS = json.RawMessage(c.JWKS)
	}
	return b
}

// ToClient applies b onto c (every metadata field replaced); syntax
// errors of the durations are returned, for validation to list with the
// others. With no grant types, c gets oauth.DefaultGrantTypes.
func (b ClientBody) ToClient(c store.Client) (store.Client, []error) {
	var errs []error
	dur := func(name, s string) time.Duration {
		if s == "" {
			return 0
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			errs = append(errs, errors.New(name+" must be a duration such as 10m or 1h"))
		}
		return d
	}
	c.Name, c.Public, c.RedirectURIs, c.GrantTypes, c.Scopes = b.Name, b.Public, b.RedirectURIs, b.GrantTypes, b.Scopes
	c.RequiredScopes, c.Resources, c.AccessTokenFormat = b.RequiredScopes, b.Resources, b.AccessTokenFormat
	c.TokenEndpointAuthMethod, c.JWKS, c.JWKSURI = b.TokenEndpointAuthMethod, string(b.JWKS), b.JWKSURI
	c.PostLogoutRedirectURIs, c.BackchannelLogoutURI, c.FrontchannelLogoutURI = b.PostLogoutRedirectURIs, b.BackchannelLogoutURI, b.FrontchannelLogoutURI
	c.InitiateLoginURI, c.LogoURI, c.ClientURI, c.Description = b.InitiateLoginURI, b.LogoURI, b.ClientURI, b.Description
	c.FirstParty, c.IDTokenAlg, c.Profile = b.FirstParty, b.IDTokenAlg, b.Profile
	c.RequirePushedAuthorizationRequests, c.DPoPBoundAccessTokens, c.RequireSignedRequestObject = b.RequirePAR, b.DPoPBound, b.RequireSignedRequestObject
	c.CodeTTL, c.AccessTokenTTL, c.RefreshTokenTTL = dur("code_ttl", b.CodeTTL), dur("access_token_ttl", b.AccessTokenTTL), dur("refresh_token_ttl", b.RefreshTokenTTL)
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = append([]string(nil), oauth.DefaultGrantTypes...)
	}
	return c, errs
}

// validateClient checks c as the command line does (oauth.ValidateClient)
// and that the resources it names are registered; every problem at once.
func (a *API) validateClient(r *http.Request, c store.Client, errs []error) (*problem, error) {
	if err := oauth.ValidateClient(c, a.o.OAuth.Scopes); err != nil {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = append(errs, j.Unwrap()...)
		} else {
			errs = append(errs, err)
		}
	}
	for _, uri := range c.Resources {
		if _, err := a.o.Store.GetResource(r.Context(), uri); errors.Is(err, store.ErrNotFound) {
			errs = append(errs, errors.New("resource "+uri+" is not registered"))
		} else if err != nil {
			return nil, err
		}
	}
	if len(errs) > 0 {
		return invalid("client", errors.Join(errs...)), nil
	}
	return nil, nil
}

func (a *API) listClients(w http.ResponseWriter, r *http.Request, _ caller) {
	listPage(a, w, r, "clients", a.o.Store.ListClients, func(c store.Client) string { return c.ID },
		func(c store.Client) ClientView { return newClientView(c, "") })
}

func (a *API) client(w http.ResponseWriter, r *http.Request) (store.Client, bool) {
	return lookup(a, w, r, "client", "no client with this id", a.o.Store.GetClient, r.PathValue("id"))
}

func (a *API) getClient(w http.ResponseWriter, r *http.Request, _ caller) {
	if c, ok := a.client(w, r); ok {
		writeJSON(w, http.StatusOK, newClientView(c, ""))
	}
}

// createClient registers a client; a confidential client that
// authenticates with a secret gets a generated one (or the one given,
// imported), answered once.
func (a *API) createClient(w http.ResponseWriter, r *http.Request, who caller) {
	var in ClientInput
	if p := readJSON(w, r, &in); p != nil {
		writeProblem(w, p)
		return
	}
	now := a.o.Now()
	c, errs := in.ToClient(store.Client{ID: in.ID, CreatedAt: now, UpdatedAt: now})
	if c.ID == "" {
		c.ID = oauth.NewClientID()
	}
	keyAuth := c.TokenEndpointAuthMethod == oauth.AuthPrivateKeyJWT
	if in.Secret != "" {
		if err := config.ValidateGivenSecret(in.Secret); err != nil {
			errs = append(errs, err)
		}
	}
	if in.Secret != "" || !c.Public && !keyAuth {
		c.SecretHash = "pending" // stands for the hash while validating: argon2id runs only for a valid client
	}
	if p, err := a.validateClient(r, c, errs); err != nil {
		a.serverError(w, r, "validate client", err)
		return
	} else if p != nil {
		writeProblem(w, p)
		return
	}
	var plain string
	switch {
	case in.Secret != "":
		plain, c.SecretHash = in.Secret, oauth.HashGivenSecret(in.Secret)
	case !c.Public && !keyAuth:
		var v secret.Value
		v, c.SecretHash = oauth.NewClientSecret()
		plain = v.String()
	}
	if err := a.o.Store.CreateClient(r.Context(), c); errors.Is(err, store.ErrConflict) {
		writeProblem(w, conflict("a client with this id exists"))
		return
	} else if err != nil {
		a.serverError(w, r, "create client", err)
		return
	}
	a.o.OAuth.ClientsChanged(c.ID)
	a.audit(r.Context(), who, audit.Event{Name: audit.EventClientChanged, ClientID: c.ID, Detail: "created"})
	w.Header().Set("Location", Prefix+"/clients/"+c.ID)
	writeJSON(w, http.StatusCreated, newClientView(c, plain))
}

// updateClient replaces a client's metadata; its id, secret and
// timestamps of creation stay. client_id in the body, if any, must match.
// A client made confidential (with a secret) gets a generated secret,
// answered once; one made public or private_key_jwt loses its secret.
func (a *API) updateClient(w http.ResponseWriter, r *http.Request, who caller) {
	var in ClientBody
	if p := readJSON(w, r, &in); p != nil {
		writeProblem(w, p)
		return
	}
	old, ok := a.client(w, r)
	if !ok {
		return
	}
	if in.ID != "" && in.ID != old.ID {
		writeProblem(w, badRequest("client_id in the body differs from the one in the path"))
		return
	}
	c, errs := in.ToClient(old)
	c.UpdatedAt = a.o.Now()
	generate := false
	switch {
	case c.Public || c.TokenEndpointAuthMethod == oauth.AuthPrivateKeyJWT:
		c.SecretHash = ""
	case c.SecretHash == "":
		generate, c.SecretHash = true, "pending" // stands for the secret generated once valid
	}
	if p, err := a.validateClient(r, c, errs); err != nil {
		a.serverError(w, r, "validate client", err)
		return
	} else if p != nil {
		writeProblem(w, p)
		return
	}
	var plain string
	if generate {
		var v secret.Value
		v, c.SecretHash = oauth.NewClientSecret()
		plain = v.String()
	}
	if !a.storeOK(w, r, "update client", "no client with this id", a.o.Store.UpdateClient(r.Context(), c)) {
		return
	}
	a.o.OAuth.ClientsChanged(c.ID)
	a.audit(r.Context(), who, audit.Event{Name: audit.EventClientChanged, ClientID: c.ID, Detail: "updated"})
	writeJSON(w, http.StatusOK, newClientView(c, plain))
}

// deleteClient removes a client and everything issued to it.
func (a *API) deleteClient(w http.ResponseWriter, r *http.Request, who caller) {
	id := r.PathValue("id")
	if id == who.clientID {
		writeProblem(w, conflict("an admin client cannot delete itself"))
		return
	}
	if !a.storeOK(w, r, "delete client", "no client with this id", a.o.Store.DeleteClient(r.Context(), id)) {
		return
	}
	a.o.OAuth.ClientsChanged(id)
	a.audit(r.Context(), who, audit.Event{Name: audit.EventClientChanged, ClientID: id, Detail: "deleted"})
	w.WriteHeader(http.StatusNoContent)
}

// rotateSecret replaces a confidential client's secret with a generated
// one, answered once; the old secret stops working at once.
func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request, who caller) {
	c, ok := a.client(w, r)
	if !ok {
		return
	}
	if c.Public || c.TokenEndpointAuthMethod == oauth.AuthPrivateKeyJWT {
		writeProblem(w, conflict("this client authenticates without a secret"))
		return
	}
	var v secret.Value
	v, c.SecretHash = oauth.NewClientSecret()
	c.UpdatedAt = a.o.Now()
	if err := a.o.Store.UpdateClient(r.Context(), c); err != nil {
		a.serverError(w, r, "update client", err)
		return
	}
	a.o.OAuth.ClientsChanged(c.ID)
	a.audit(r.Context(), who, audit.Event{Name: audit.EventClientChanged, ClientID: c.ID, Detail: "secret rotated"})
	writeJSON(w, http.StatusOK, newClientView(c, v.String()))
}
