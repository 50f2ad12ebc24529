// Package admin is the admin API: JSON over HTTP under /admin/v1/, for
// managing clients, users, resources, grants, signing keys and reading the
// scopes and the activity log. Callers authenticate with an access token
// of a client granted latchkey:admin (or latchkey:admin:read for reads),
// verified as introspection verifies tokens (oauth.AuthenticateAccess), so
// DPoP-bound tokens and private_key_jwt clients work as anywhere else.
// Errors are RFC 9457 problem details; lists are cursor-paged; every change
// is an audit event whose actor is the admin client.
package admin

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// Prefix is where the admin API is served.
const Prefix = "/admin/v1"

// Options are what the admin API is built from.
type Options struct {
	OAuth *oauth.Provider
	Store store.Store
	// SealKey seals the signing keys that rotation creates.
	SealKey []byte
	// Algorithm is the default algorithm of a key rotation.
	Algorithm string
	// MaxTokenLifetime is the longest server-wide token lifetime; a
	// rotation keeps older keys at least this long (clients' own
	// lifetimes are added).
	MaxTokenLifetime time.Duration
	// Reload makes a change of signing keys take effect at once on this
	// node (nil: at the next periodic reload).
	Reload func(r *http.Request) error
	Audit  *audit.Log
	Now    func() time.Time
	Logger *slog.Logger
}

// API is the admin API's handler.
type API struct {
	o   Options
	mux *http.ServeMux
	// paths finds, for a path no route of its method serves, the pattern
	// of the routes that serve it with other methods (405 with Allow).
	paths *http.ServeMux
}

// route is one operation: the table is what is served and what the test
// holds against the OpenAPI document.
type route struct {
	method, path string
	write        bool // needs latchkey:admin, not only latchkey:admin:read
	h            func(a *API, w http.ResponseWriter, r *http.Request, c caller)
}

// routes lists every operation of the admin API.
var routes = []route{
	{"GET", "/clients", false, (*API).listClients},
	{"POST", "/clients", true, (*API).createClient},
	{"GET", "/clients/{id}", false, (*API).getClient},
	{"PUT", "/clients/{id}", true, (*API).updateClient},
	{"DELETE", "/clients/{id}", true, (*API).deleteClient},
	{"POST", "/clients/{id}/secret", true, (*API).rotateSecret},
	{"GET", "/users", false, (*API).listUsers},
	{"POST", "/users", true, (*API).createUser},
	{"GET", "/users/{id}", false, (*API).getUser},
	{"PATCH", "/users/{id}", true, (*API).updateUser},
	{"DELETE", "/users/{id}", true, (*API).deleteUser},
	{"POST", "/users/{id}/password", true, (*API).resetPassword},
	{"GET", "/resources", false, (*API).listResources},
	{"POST", "/resources", true, (*API).createResource},
	{"GET", "/resources/{uri}", false, (*API).getResource},
	{"PUT", "/resources/{uri}", true, (*API).updateResource},
	{"DELETE", "/resources/{uri}", true, (*API).deleteResource},
	{"GET", "/scopes", false, (*API).listScopes},
	{"GET", "/grants", false, (*API).listGrants},
	{"DELETE", "/grants/{id}", true, (*API).revokeGrant},
	{"GET", "/keys", false, (*API).listKeys},
	{"POST", "/keys/rotate", true, (*API).rotateKey},
	{"POST", "/keys/{kid}/retire", true, (*API).retireKey},
	{"GET", "/activity", false, (*API).listActivity},
	{"GET", "/registration-tokens", false, (*API).listRegistrationTokens},
	{"POST", "/registration-tokens", true, (*API).createRegistrationToken},
	{"DELETE", "/registration-tokens/{id}", true, (*API).deleteRegistrationToken},
}

// New builds the admin API.
func New(o Options) *API {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	a := &API{o: o, mux: http.NewServeMux(), paths: http.NewServeMux()}
	seen := map[string]bool{}
	for _, rt := range routes {
		a.mux.HandleFunc(rt.method+" "+Prefix+rt.path, a.guard(rt))
		if !seen[rt.path] {
			seen[rt.path] = true
			a.paths.HandleFunc(Prefix+rt.path, func(http.ResponseWriter, *http.Request) {})
		}
	}
	a.mux.HandleFunc("GET "+Prefix+"/openapi.json", serveOpenAPI)
	a.mux.HandleFunc(Prefix+"/", a.unmatched)
	return a
}

// Routes mounts the admin API on mux.
func (a *API) Routes(mux *http.ServeMux) { mux.Handle(Prefix+"/", a) }

// ServeHTTP serves the admin API.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	a.mux.ServeHTTP(w, r)
}

// unmatched answers what no route serves: 405 with Allow when the path
// is served with other methods, else 404; both as problems.
func (a *API) unmatched(w http.ResponseWriter, r *http.Request) {
	_, pattern := a.paths.Handler(r)
	var allow []string
	for _, rt := range routes {
		if pattern != "" && Prefix+rt.path == pattern {
			allow = append(allow, rt.method)
		}
	}
	if len(allow) == 0 {
		writeProblem(w, notFound("no such route"))
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeProblem(w, &problem{Status: http.StatusMethodNotAllowed, Title: "Method not allowed",
		Detail: "use " + strings.Join(allow, " or ")})
}
