package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// resourceView is a registered resource (RFC 8707); the secret of its
// introspection credentials only once, when created.
type resourceView struct {
	URI          string    `json:"uri"`
	Name         string    `json:"name"`
	Scopes       []string  `json:"scopes"`
	ClientID     string    `json:"client_id"`
	ClientSecret string    `json:"client_secret,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func newResourceView(r store.Resource, plain string) resourceView {
	return resourceView{URI: r.URI, Name: r.Name, Scopes: r.Scopes, ClientID: r.ClientID, ClientSecret: plain,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// noResource is the 404 detail for a resource URI nobody registered.
const noResource = "no resource with this URI (escape it as one path segment)"

func (a *API) listResources(w http.ResponseWriter, r *http.Request, _ caller) {
	listPage(a, w, r, "resources", a.o.Store.ListResources, func(x store.Resource) string { return x.URI },
		func(x store.Resource) resourceView { return newResourceView(x, "") })
}

// resource is the resource the path names.
func (a *API) resource(w http.ResponseWriter, r *http.Request) (store.Resource, bool) {
	return lookup(a, w, r, "resource", noResource, a.o.Store.GetResource, r.PathValue("uri"))
}

func (a *API) getResource(w http.ResponseWriter, r *http.Request, _ caller) {
	if res, ok := a.resource(w, r); ok {
		writeJSON(w, http.StatusOK, newResourceView(res, ""))
	}
}

// createResource registers a protected API and the client it introspects
// with; the generated secret (or the one given) is answered once.
func (a *API) createResource(w http.ResponseWriter, r *http.Request, who caller) {
	var in struct {
		URI          string   `json:"uri"`
		Name         string   `json:"name"`
		Scopes       []string `json:"scopes"`
		ClientID     string   `json:"client_id"`
		ClientSecret string   `json:"client_secret"`
	}
	if p := readJSON(w, r, &in); p != nil {
		writeProblem(w, p)
		return
	}
	now := a.o.Now()
	res := store.Resource{URI: strings.TrimSpace(in.URI), Name: strings.TrimSpace(in.Name), Scopes: in.Scopes,
		ClientID: in.ClientID, CreatedAt: now, UpdatedAt: now}
	if res.ClientID == "" {
		res.ClientID = oauth.NewClientID()
	}
	if err := oauth.ValidateResource(res, a.o.OAuth.Scopes); err != nil {
		writeProblem(w, invalid("resource", err))
		return
	}
	plain := in.ClientSecret
	if plain != "" {
		if err := config.ValidateGivenSecret(plain); err != nil {
			writeProblem(w, invalid("resource", err))
			return
		}
	}
	var hash string
	if plain != "" {
		hash = oauth.HashGivenSecret(plain)
	} else {
		var v secret.Value
		v, hash = oauth.NewClientSecret()
		plain = v.String()
	}
	if err := a.o.Store.CreateResource(r.Context(), res, oauth.ResourceCredentials(res, hash)); errors.Is(err, store.ErrConflict) {
		writeProblem(w, conflict("a resource with this URI or a client with this id exists"))
		return
	} else if err != nil {
		a.serverError(w, r, "create resource", err)
		return
	}
	a.o.OAuth.ClientsChanged(res.ClientID)
	a.audit(r.Context(), who, audit.Event{Name: audit.EventResourceChanged, ClientID: res.ClientID, Detail: "created " + res.URI})
	w.Header().Set("Location", Prefix+"/resources/"+url.PathEscape(res.URI))
	writeJSON(w, http.StatusCreated, newResourceView(res, plain))
}

// updateResource replaces a resource's name and scopes; its URI and
// introspection credentials stay.
func (a *API) updateResource(w http.ResponseWriter, r *http.Request, who caller) {
	var in struct {
		Name   string   `json:"name"`
		Scopes []string `json:"scopes"`
	}
	if p := readJSON(w, r, &in); p != nil {
		writeProblem(w, p)
		return
	}
	res, ok := a.resource(w, r)
	if !ok {
		return
	}
	res.Name, res.Scopes, res.UpdatedAt = strings.TrimSpace(in.Name), in.Scopes, a.o.Now()
	if err := oauth.ValidateResource(res, a.o.OAuth.Scopes); err != nil {
		writeProblem(w, invalid("resource", err))
		return
	}
	if !a.storeOK(w, r, "update resource", noResource, a.o.Store.UpdateResource(r.Context(), res)) {
		return
	}
	a.o.OAuth.ClientsChanged(res.ClientID)
	a.audit(r.Context(), who, audit.Event{Name: audit.EventResourceChanged, ClientID: res.ClientID, Detail: "updated " + res.URI})
	writeJSON(w, http.StatusOK, newResourceView(res, ""))
}

// deleteResource removes a resource and its introspection client.
func (a *API) deleteResource(w http.ResponseWriter, r *http.Request, who caller) {
	uri := r.PathValue("uri")
	res, err := a.o.Store.GetResource(r.Context(), uri)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.serverError(w, r, "get resource", err)
		return
	}
	if !a.storeOK(w, r, "delete resource", noResource, a.o.Store.DeleteResource(r.Context(), uri)) {
		return
	}
	a.o.OAuth.ClientsChanged(res.ClientID)
	a.audit(r.Context(), who, audit.Event{Name: audit.EventResourceChanged, ClientID: res.ClientID, Detail: "deleted " + uri})
	w.WriteHeader(http.StatusNoContent)
}

// listScopes answers the scope registry (from the configuration) and the
// built-in admin scopes; scopes change only with the configuration.
func (a *API) listScopes(w http.ResponseWriter, r *http.Request, _ caller) {
	type scopeView struct {
		Name        string `json:"name"`
		Description string `json:"description,omitempty"`
		BuiltIn     bool   `json:"built_in,omitempty"`
	}
	out := page[scopeView]{Items: []scopeView{}}
	reg := a.o.OAuth.Scopes
	for _, n := range reg.Names() {
		out.Items = append(out.Items, scopeView{Name: n, Description: reg.Description(n)})
	}
	for _, n := range oauth.AdminScopes {
		out.Items = append(out.Items, scopeView{Name: n, BuiltIn: true})
	}
	writeJSON(w, http.StatusOK, out)
}
