package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// adminEnv is a running Latchkey with an admin client (latchkey:admin), a
// read-only one (latchkey:admin:read) and a token of each.
type adminEnv struct {
	*env
	admin, reader     testClient
	adminTok, readTok string
}

func newAdminEnv(t *testing.T, backend string) *adminEnv {
	t.Helper()
	a := &adminEnv{env: newEnv(t, backend)}
	a.admin = a.adminClient("admin-cli", oauth.ScopeAdmin, oauth.ScopeAdminRead)
	a.reader = a.adminClient("admin-reader", oauth.ScopeAdminRead)
	a.adminTok = a.scopedToken(a.admin, oauth.ScopeAdmin)
	a.readTok = a.scopedToken(a.reader, oauth.ScopeAdminRead)
	return a
}

// adminClient registers a client_credentials client with scopes.
func (e *env) adminClient(id string, scopes ...string) testClient {
	e.t.Helper()
	sec, hash := oauth.NewClientSecret()
	e.mustCreateClient(store.Client{ID: id, SecretHash: hash, Name: id, GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: scopes})
	return testClient{id: id, secret: sec.String()}
}

// scopedToken gets a client_credentials access token of c for scope.
func (e *env) scopedToken(c testClient, scope string) string {
	e.t.Helper()
	a := e.postToken(url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}, &c, true)
	if a.status != 200 {
		e.t.Fatalf("token for %s: %d %v", scope, a.status, a.body)
	}
	return a.str("access_token")
}

// adminAnswer is an answer of the admin API.
type adminAnswer struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (a adminAnswer) str(k string) string { s, _ := a.body[k].(string); return s }

// items returns the items of a list answer.
func (a adminAnswer) items() []map[string]any {
	list, _ := a.body["items"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, it := range list {
		m, _ := it.(map[string]any)
		out = append(out, m)
	}
	return out
}

// call sends method path (under /admin/v1) with tok as Bearer (none when
// "") and body as JSON (none when nil; a string is sent as it is).
func (e *env) call(method, path, tok string, body any) adminAnswer {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, e.issuer+"/admin/v1"+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return doAdmin(e.t, req)
}

func doAdmin(t testing.TB, req *http.Request) adminAnswer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw := readBody(t, resp)
	out := adminAnswer{status: resp.StatusCode, header: resp.Header, raw: raw}
	json.Unmarshal([]byte(raw), &out.body)
	validateAnswer(t, req, out)
	return out
}

// validateAnswer holds every answer of a documented admin route against
// the OpenAPI document the server serves (kin-openapi): its status must
// be documented and its body must match the schema.
func validateAnswer(t testing.TB, req *http.Request, a adminAnswer) {
	t.Helper()
	if !strings.Contains(req.URL.Path, "/admin/v1/") || strings.HasSuffix(req.URL.Path, "/openapi.json") {
		return
	}
	base := req.URL.Scheme + "://" + req.URL.Host
	docResp, err := http.Get(base + "/admin/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if docResp.StatusCode != 200 {
		docResp.Body.Close()
		return // not served here (server.admin_listen)
	}
	doc, err := openapi3.NewLoader().LoadFromData([]byte(readBody(t, docResp)))
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: base + "/admin/v1"}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		return // not a documented route: the routes test covers the table
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 a.status,
		Header:                 a.header,
		Body:                   io.NopCloser(strings.NewReader(a.raw)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		t.Errorf("%s %s answered %d, not as openapi.json says: %v\n%.300s", req.Method, req.URL.Path, a.status, err, a.raw)
	}
}

// wantProblem checks an RFC 9457 problem answer of status.
func wantProblem(t *testing.T, what string, a adminAnswer, status int) {
	t.Helper()
	if a.status != status || a.header.Get("Content-Type") != "application/problem+json" ||
		a.str("title") == "" || a.str("type") == "" || a.body["status"] != float64(status) {
		t.Errorf("%s: got %d %q %s, want a %d problem", what, a.status, a.header.Get("Content-Type"), a.raw, status)
	}
}

func wantStatus(t *testing.T, what string, a adminAnswer, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: got %d %s, want %d", what, a.status, a.raw, status)
	}
}

// TestAdminAPI_Authorization: no token or an invalid one is 401 with a
// challenge (RFC 6750 §3.1); a token without an admin scope, or a
// read-only token on a change, is 403 insufficient_scope; a revoked token
// stops working at once; a user's flow cannot get an admin scope.
func TestAdminAPI_Authorization(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newAdminEnv(t, backend)
			none := e.call("GET", "/clients", "", nil)
			wantProblem(t, "no token", none, 401)
			if none.header.Get("WWW-Authenticate") != `Bearer realm="latchkey"` {
				t.Errorf("no token: %q", none.header.Get("WWW-Authenticate"))
			}
			bad := e.call("GET", "/clients", "lk_at_notatoken", nil)
			wantProblem(t, "invalid token", bad, 401)
			if !strings.Contains(bad.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("invalid token: %q", bad.header.Get("WWW-Authenticate"))
			}
			req, _ := http.NewRequest("GET", e.issuer+"/admin/v1/clients", nil)
			req.Header.Set("Authorization", "Bearer not a b64token")
			wantProblem(t, "malformed Authorization header (RFC 6750 §2.1)", doAdmin(t, req), 400)
			plain := e.scopedToken(e.svc, "notes.read")
			for _, c := range []struct {
				name, method, path, tok string
				body                    any
			}{
				{"token_without_admin_scope_reads", "GET", "/clients", plain, nil},
				{"token_without_admin_scope_writes", "DELETE", "/clients/" + e.web.id, plain, nil},
				{"read_only_token_creates", "POST", "/clients", e.readTok, map[string]any{"client_name": "x"}},
				{"read_only_token_deletes", "DELETE", "/clients/" + e.web.id, e.readTok, nil},
				{"read_only_token_rotates_keys", "POST", "/keys/rotate", e.readTok, nil},
			} {
				a := e.call(c.method, c.path, c.tok, c.body)
				wantProblem(t, c.name, a, 403)
				if !strings.Contains(a.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
					t.Errorf("%s: WWW-Authenticate %q", c.name, a.header.Get("WWW-Authenticate"))
				}
			}
			if _, err := e.store.GetClient(context.Background(), e.web.id); err != nil {
				t.Fatalf("a refused delete deleted: %v", err)
			}
			wantStatus(t, "read-only token reads", e.call("GET", "/clients", e.readTok, nil), 200)
			wantStatus(t, "admin token reads", e.call("GET", "/clients", e.adminTok, nil), 200)

			// Revocation (RFC 7009) of an admin JWT ends it at once.
			tok := e.scopedToken(e.admin, oauth.ScopeAdmin)
			req, _ = http.NewRequest("POST", e.issuer+"/revoke", strings.NewReader(url.Values{"token": {tok}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(e.admin.id, e.admin.secret)
			if r := doAdmin(t, req); r.status != 200 {
				t.Fatalf("revoke: %d %s", r.status, r.raw)
			}
			wantStatus(t, "revoked admin token", e.call("GET", "/clients", tok, nil), 401)

			// A client whose scopes include no admin scope cannot ask for it.
			if a := e.postToken(url.Values{"grant_type": {"client_credentials"}, "scope": {oauth.ScopeAdmin}}, &e.svc, true); a.status != 400 || a.str("error") != "invalid_scope" {
				t.Errorf("admin scope for a client without it: %d %v", a.status, a.body)
			}
			// Nor can a user's flow (the password grant), even for a client
			// registered with it.
			form := url.Values{"grant_type": {"password"}, "username": {e.user}, "password": {e.pass}, "scope": {oauth.ScopeAdmin}}
			if a := e.postToken(form, &e.app, true); a.status != 400 || a.str("error") != "invalid_scope" {
				t.Errorf("admin scope in the password grant: %d %v", a.status, a.body)
			}
		})
	}
}

// TestAdminAPI_OpaqueAndDPoPBoundTokens: the admin API verifies tokens as
// introspection does: an opaque token works; a DPoP-bound token works with
// its proof (RFC 9449 §7.1) and is refused as a bearer token (§7.2).
func TestAdminAPI_OpaqueAndDPoPBoundTokens(t *testing.T) {
	e := newAdminEnv(t, "sqlite")
	// Changed through the API, the client takes effect on this node at once.
	wantStatus(t, "switch to opaque tokens", e.call("PUT", "/clients/"+e.admin.id, e.adminTok, map[string]any{"client_name": "admin",
		"grant_types": []string{"client_credentials"}, "scopes": []string{oauth.ScopeAdmin}, "access_token_format": "opaque"}), 200)
	opaque := e.scopedToken(e.admin, oauth.ScopeAdmin)
	if !strings.HasPrefix(opaque, "lk_at_") {
		t.Fatalf("not an opaque token: %s", opaque)
	}
	wantStatus(t, "opaque admin token", e.call("GET", "/users", opaque, nil), 200)

	k := newDPoPKey(t)
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {oauth.ScopeAdmin}}
	bound := boundToken(t, e.postTokenDPoP(form, &e.admin, k.proof(e.env, "POST", e.issuer+"/token", "", "")))
	u := e.issuer + "/admin/v1/users"
	resp, body := e.getWith(u, "DPoP", bound, k.proof(e.env, "GET", u, bound, ""))
	if resp.StatusCode != 200 {
		t.Fatalf("DPoP-bound admin token with its proof: %d %s", resp.StatusCode, body)
	}
	resp, body = e.getWith(u, "Bearer", bound, "")
	wantAdminDPoPChallenge(t, resp, body)
	other := newDPoPKey(t)
	resp, body = e.getWith(u, "DPoP", bound, other.proof(e.env, "GET", u, bound, ""))
	wantAdminDPoPChallenge(t, resp, body)

	// A bound read-only token on a change: 403 insufficient_scope, with the
	// DPoP scheme (RFC 9449 §7.1).
	readOnly := boundToken(t, e.postTokenDPoP(url.Values{"grant_type": {"client_credentials"}, "scope": {oauth.ScopeAdminRead}},
		&e.reader, k.proof(e.env, "POST", e.issuer+"/token", "", "")))
	del := e.issuer + "/admin/v1/users/nobody"
	req, _ := http.NewRequest(http.MethodDelete, del, nil)
	req.Header.Set("Authorization", "DPoP "+readOnly)
	req.Header.Set("DPoP", k.proof(e.env, "DELETE", del, readOnly, ""))
	a := doAdmin(t, req)
	if ch := a.header.Get("WWW-Authenticate"); a.status != 403 || !strings.HasPrefix(ch, "DPoP ") || !strings.Contains(ch, `error="insufficient_scope"`) {
		t.Fatalf("bound read-only token on a change: %d %q", a.status, ch)
	}
}

// wantAdminDPoPChallenge checks a refusal of a DPoP-bound token (RFC 9449
// §7.1): 401 with the DPoP challenge, the algorithms and invalid_token,
// and a problem as the body.
func wantAdminDPoPChallenge(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	c := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != 401 || !strings.HasPrefix(c, "DPoP ") || !strings.Contains(c, `algs="`) || !strings.Contains(c, `error="invalid_token"`) ||
		resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(body, `"status":401`) {
		t.Errorf("got %d %q %q %s, want 401 with a DPoP challenge and a problem", resp.StatusCode, c, resp.Header.Get("Content-Type"), body)
	}
}

// TestAdminAPI_Clients: create (a secret answered once, which works at
// the token endpoint), get, list in pages, replace, rotate the secret,
// delete; every problem of an invalid client at once; each change audited
// with the admin client as actor.
func TestAdminAPI_Clients(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newAdminEnv(t, backend)
			tok := e.adminTok
			created := e.call("POST", "/clients", tok, map[string]any{
				"client_id": "reports", "client_name": "Reports", "grant_types": []string{"client_credentials"}, "scopes": []string{"notes.read"},
			})
			wantStatus(t, "create", created, 201)
			sec := created.str("client_secret")
			if created.str("client_id") != "reports" || !strings.HasPrefix(sec, "lk_cs_") || created.header.Get("Location") != "/admin/v1/clients/reports" {
				t.Fatalf("created: %v %v", created.body, created.header)
			}
			if a := e.postToken(url.Values{"grant_type": {"client_credentials"}}, &testClient{id: "reports", secret: sec}, true); a.status != 200 {
				t.Fatalf("the created client's secret: %d %v", a.status, a.body)
			}
			got := e.call("GET", "/clients/reports", e.readTok, nil)
			if got.status != 200 || got.str("client_name") != "Reports" || got.str("client_secret") != "" {
				t.Fatalf("get: %d %v", got.status, got.body)
			}
			wantProblem(t, "get unknown", e.call("GET", "/clients/nope", tok, nil), 404)
			wantProblem(t, "create a duplicate", e.call("POST", "/clients", tok, map[string]any{
				"client_id": "reports", "client_name": "Again", "grant_types": []string{"client_credentials"}}), 409)

			// Every problem at once (RFC 9457 with an errors list).
			bad := e.call("POST", "/clients", tok, map[string]any{
				"client_name": "", "redirect_uris": []string{"JaVaScRiPt:alert(1)"}, "scopes": []string{"no.such.scope"}, "code_ttl": "soon",
				"client_secret": "short",
			})
			wantProblem(t, "invalid client", bad, 422)
			errs, _ := bad.body["errors"].([]any)
			joined := strings.ToLower(strings.Join(strs(errs), "\n"))
			for _, want := range []string{"client name", "redirect uri", "unknown scope", "code_ttl", "client secret must be 16"} {
				if !strings.Contains(joined, want) {
					t.Errorf("the problem does not list %q: %s", want, bad.raw)
				}
			}
			// An admin scope only for confidential client_credentials clients.
			wantProblem(t, "public client with the admin scope", e.call("POST", "/clients", tok, map[string]any{
				"client_name": "x", "public": true, "redirect_uris": []string{"https://x.example/cb"}, "scopes": []string{oauth.ScopeAdmin}}), 422)

			// Pages of one, in client_id order, each client once.
			var ids []string
			cursor := ""
			for range 20 {
				p := e.call("GET", "/clients?limit=2&cursor="+cursor, e.readTok, nil)
				wantStatus(t, "page", p, 200)
				for _, it := range p.items() {
					ids = append(ids, it["client_id"].(string))
				}
				if cursor = p.str("next_cursor"); cursor == "" {
					break
				}
			}
			all, _ := e.store.ListClients(context.Background())
			if len(ids) != len(all) || strings.Join(ids, ",") != strings.Join(clientIDs(all), ",") {
				t.Errorf("paged %v, want %v", ids, clientIDs(all))
			}
			wantProblem(t, "limit 0", e.call("GET", "/clients?limit=0", tok, nil), 400)
			wantProblem(t, "limit 201", e.call("GET", "/clients?limit=201", tok, nil), 400)
			wantProblem(t, "bad cursor", e.call("GET", "/clients?cursor=%25%25", tok, nil), 400)

			upd := e.call("PUT", "/clients/reports", tok, map[string]any{"client_name": "Monthly reports",
				"grant_types": []string{"client_credentials"}, "scopes": []string{"notes.read", "photos.read"}})
			if upd.status != 200 || upd.str("client_name") != "Monthly reports" {
				t.Fatalf("update: %d %s", upd.status, upd.raw)
			}
			wantProblem(t, "update with another id", e.call("PUT", "/clients/reports", tok, map[string]any{"client_id": "other", "client_name": "x"}), 400)
			wantProblem(t, "update unknown", e.call("PUT", "/clients/nope", tok, map[string]any{"client_name": "x"}), 404)
			wantProblem(t, "update invalid", e.call("PUT", "/clients/reports", tok, map[string]any{"client_name": "x", "redirect_uris": []string{"https://a.example/cb#f"}}), 422)
			if a := e.postToken(url.Values{"grant_type": {"client_credentials"}}, &testClient{id: "reports", secret: sec}, true); a.status != 200 {
				t.Fatalf("an update kept the secret: %d %v", a.status, a.body)
			}

			rot := e.call("POST", "/clients/reports/secret", tok, nil)
			wantStatus(t, "rotate", rot, 200)
			if a := e.postToken(url.Values{"grant_type": {"client_credentials"}}, &testClient{id: "reports", secret: sec}, true); a.status != 401 {
				t.Errorf("the old secret after rotation: %d", a.status)
			}
			if a := e.postToken(url.Values{"grant_type": {"client_credentials"}}, &testClient{id: "reports", secret: rot.str("client_secret")}, true); a.status != 200 {
				t.Errorf("the new secret: %d %v", a.status, a.body)
			}
			wantProblem(t, "rotate a public client", e.call("POST", "/clients/"+e.native.id+"/secret", tok, nil), 409)
			// Made confidential, a public client gets a secret, answered once.
			conf := e.call("PUT", "/clients/"+e.native.id, tok, map[string]any{"client_name": "Notes for phone",
				"grant_types": []string{"client_credentials"}, "scopes": []string{"notes.read"}})
			if conf.status != 200 || !strings.HasPrefix(conf.str("client_secret"), "lk_cs_") {
				t.Fatalf("public to confidential: %d %s", conf.status, conf.raw)
			}
			if a := e.postToken(url.Values{"grant_type": {"client_credentials"}}, &testClient{id: e.native.id, secret: conf.str("client_secret")}, true); a.status != 200 {
				t.Errorf("the secret of the client made confidential: %d %v", a.status, a.body)
			}
			wantProblem(t, "rotate unknown", e.call("POST", "/clients/nope/secret", tok, nil), 404)

			wantProblem(t, "delete itself", e.call("DELETE", "/clients/"+e.admin.id, tok, nil), 409)
			wantStatus(t, "delete", e.call("DELETE", "/clients/reports", tok, nil), 204)
			wantProblem(t, "get deleted", e.call("GET", "/clients/reports", tok, nil), 404)
			wantProblem(t, "delete unknown", e.call("DELETE", "/clients/reports", tok, nil), 404)

			logs := e.logs.String()
			for _, d := range []string{"created", "updated", `"secret rotated"`, "deleted"} {
				if !strings.Contains(logs, "msg=audit event=client.changed actor=admin:admin-cli client_id=reports address=127.0.0.1 detail="+d) {
					t.Errorf("no audit event for %s with the admin client as actor and the request's address", d)
				}
			}
		})
	}
}

func strs(list []any) []string {
	out := make([]string, 0, len(list))
	for _, v := range list {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

func clientIDs(list []store.Client) []string {
	out := make([]string, 0, len(list))
	for _, c := range list {
		out = append(out, c.ID)
	}
	return out
}

// TestRFC9457_AdminAPIBadRequestsAreProblems: malformed JSON, unknown
// fields, trailing data, a wrong media type, an oversized body, a wrong
// method and an unknown route each answer a problem, never a 500.
func TestRFC9457_AdminAPIBadRequestsAreProblems(t *testing.T) {
	e := newAdminEnv(t, "sqlite")
	tok := e.adminTok
	wantProblem(t, "malformed JSON", e.call("POST", "/clients", tok, `{"client_name": `), 400)
	wantProblem(t, "not an object", e.call("POST", "/clients", tok, `[1,2]`), 400)
	wantProblem(t, "unknown field", e.call("POST", "/clients", tok, `{"client_name":"x","client_secret_hash":"sha256:00"}`), 400)
	wantProblem(t, "trailing data", e.call("POST", "/clients", tok, `{"client_name":"x"} {}`), 400)
	wantProblem(t, "wrong type", e.call("POST", "/users", tok, `{"username": 7}`), 400)
	wantProblem(t, "oversized", e.call("POST", "/clients", tok, `{"client_name":"`+strings.Repeat("a", 300<<10)+`"}`), 413)
	req, _ := http.NewRequest("POST", e.issuer+"/admin/v1/clients", strings.NewReader("client_name=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tok)
	wantProblem(t, "form body", doAdmin(t, req), 415)
	wrong := e.call("PATCH", "/clients", tok, nil)
	wantProblem(t, "wrong method", wrong, 405)
	if allow := wrong.header.Get("Allow"); allow != "GET, POST" {
		t.Errorf("Allow %q", allow)
	}
	wantProblem(t, "unknown route", e.call("GET", "/nothing", tok, nil), 404)
}

// TestAdminAPI_Users: create, get, list, change, reset the password (the
// new one signs in, the old one no longer, sessions end), delete.
func TestAdminAPI_Users(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newAdminEnv(t, backend)
			tok := e.adminTok
			u := e.call("POST", "/users", tok, map[string]any{"username": "bob", "password": "a long first password", "email": "bob@example.com", "name": "Bob"})
			wantStatus(t, "create", u, 201)
			id := u.str("id")
			if id == "" || strings.Contains(u.raw, "password") {
				t.Fatalf("created: %s", u.raw)
			}
			wantProblem(t, "duplicate", e.call("POST", "/users", tok, map[string]any{"username": "bob", "password": "another password"}), 409)
			bad := e.call("POST", "/users", tok, map[string]any{"username": "", "password": "short", "email": "not an address"})
			wantProblem(t, "invalid", bad, 422)
			if errs, _ := bad.body["errors"].([]any); len(errs) != 3 {
				t.Errorf("want the 3 problems listed: %s", bad.raw)
			}
			if g := e.call("GET", "/users/"+id, e.readTok, nil); g.status != 200 || g.str("username") != "bob" {
				t.Fatalf("get: %d %s", g.status, g.raw)
			}
			wantProblem(t, "get unknown", e.call("GET", "/users/nope", tok, nil), 404)
			wantProblem(t, "list with a bad limit", e.call("GET", "/users?limit=x", tok, nil), 400)
			list := e.call("GET", "/users?limit=1", e.readTok, nil)
			if list.status != 200 || len(list.items()) != 1 || list.str("next_cursor") == "" {
				t.Fatalf("list: %d %s", list.status, list.raw)
			}
			p := e.call("PATCH", "/users/"+id, tok, map[string]any{"name": "Robert", "email_verified": true})
			if p.status != 200 || p.str("name") != "Robert" || p.body["email_verified"] != true {
				t.Fatalf("patch: %d %s", p.status, p.raw)
			}
			wantProblem(t, "patch invalid", e.call("PATCH", "/users/"+id, tok, map[string]any{"email": "x"}), 422)

			signIn := func(pw string) int {
				form := url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {pw}, "scope": {"notes.read"}}
				return e.postToken(form, &e.app, true).status
			}
			if s := signIn("a long first password"); s != 200 {
				t.Fatalf("sign-in with the first password: %d", s)
			}
			ctx := context.Background()
			if err := e.store.CreateSession(ctx, store.Session{Hash: "h-bob", ID: "sid-bob", UserID: id, AuthTime: e.clock.Now(), CreatedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(time.Hour), LastSeenAt: e.clock.Now()}); err != nil {
				t.Fatal(err)
			}
			wantProblem(t, "short password", e.call("POST", "/users/"+id+"/password", tok, map[string]any{"password": "x"}), 422)
			// Characters are counted, as the command line and the account page count them.
			wantProblem(t, "seven characters in fourteen bytes", e.call("POST", "/users/"+id+"/password", tok, map[string]any{"password": "ééééééé"}), 422)
			reset := e.call("POST", "/users/"+id+"/password", tok, map[string]any{"password": "a new long password"})
			if reset.status != 200 || reset.body["sessions_ended"] != float64(1) {
				t.Fatalf("reset: %d %s", reset.status, reset.raw)
			}
			if acts, _ := e.store.ListActivity(ctx, id, 50); !slices.ContainsFunc(acts, func(a store.Activity) bool { return a.Kind == store.ActivityPassword }) {
				t.Errorf("the reset is not on the user's account page: %+v", acts)
			}
			if s := signIn("a long first password"); s != 400 {
				t.Errorf("the old password after a reset: %d", s)
			}
			if s := signIn("a new long password"); s != 200 {
				t.Errorf("the new password: %d", s)
			}
			wantProblem(t, "reset unknown", e.call("POST", "/users/nope/password", tok, map[string]any{"password": "a new long password"}), 404)

			// Disabled: no sign-in, and what the user held ends; enabled
			// again: sign-in works, nothing revoked comes back.
			held := e.postToken(url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"a new long password"},
				"scope": {"notes.read offline_access"}}, &e.app, true)
			if held.str("refresh_token") == "" {
				t.Fatalf("no refresh token: %v", held.body)
			}
			d := e.call("PATCH", "/users/"+id, tok, map[string]any{"disabled": true})
			if d.status != 200 || d.body["disabled"] != true || d.str("disabled_at") == "" {
				t.Fatalf("disable: %d %s", d.status, d.raw)
			}
			if s := signIn("a new long password"); s != 400 {
				t.Errorf("a disabled user signs in: %d", s)
			}
			refresh := e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {held.str("refresh_token")}}, &e.app, true)
			if refresh.status != 400 {
				t.Errorf("a disabled user's refresh token: %d %v", refresh.status, refresh.body)
			}
			if got, _ := e.store.GetUser(ctx, id); got.DisabledAt.IsZero() {
				t.Error("disabled_at is not stored")
			}
			en := e.call("PATCH", "/users/"+id, tok, map[string]any{"disabled": false})
			if en.status != 200 || en.body["disabled"] != false {
				t.Fatalf("enable: %d %s", en.status, en.raw)
			}
			if s := signIn("a new long password"); s != 200 {
				t.Errorf("an enabled user cannot sign in: %d", s)
			}
			if !strings.Contains(e.logs.String(), `event=user.changed actor=admin:admin-cli user_id=`+id+` address=127.0.0.1 detail=disabled`) {
				t.Error("no audit event for disabling")
			}
			wantStatus(t, "delete", e.call("DELETE", "/users/"+id, tok, nil), 204)
			wantProblem(t, "delete again", e.call("DELETE", "/users/"+id, tok, nil), 404)
			logs := e.logs.String()
			for _, ev := range []string{"event=user.changed actor=admin:admin-cli user_id=" + id, "event=user.password_changed actor=admin:admin-cli user_id=" + id} {
				if !strings.Contains(logs, ev) {
					t.Errorf("no audit event %q", ev)
				}
			}
		})
	}
}

// TestAdminAPI_ResourcesAndScopes: a resource is created with its
// introspection credentials (which work at /introspect), read by its
// escaped URI, listed, deleted; scopes list the registry and the
// built-in admin scopes.
func TestAdminAPI_ResourcesAndScopes(t *testing.T) {
	e := newAdminEnv(t, "sqlite")
	tok := e.adminTok
	r := e.call("POST", "/resources", tok, map[string]any{"uri": "https://photos.example/api", "name": "Photos", "scopes": []string{"photos.read"}})
	wantStatus(t, "create", r, 201)
	creds := testClient{id: r.str("client_id"), secret: r.str("client_secret")}
	if a := e.introspect(&creds, "lk_at_unknown"); a.status != 200 {
		t.Fatalf("the resource's credentials at /introspect: %d %v", a.status, a.body)
	}
	esc := "/resources/" + url.PathEscape("https://photos.example/api")
	if g := e.call("GET", esc, e.readTok, nil); g.status != 200 || g.str("name") != "Photos" || g.str("client_secret") != "" {
		t.Fatalf("get: %d %s", g.status, g.raw)
	}
	wantProblem(t, "invalid", e.call("POST", "/resources", tok, map[string]any{"uri": "not a uri#x", "name": "", "scopes": []string{"nope"}}), 422)
	wantProblem(t, "duplicate", e.call("POST", "/resources", tok, map[string]any{"uri": "https://photos.example/api", "name": "x", "scopes": []string{"photos.read"}}), 409)
	wantProblem(t, "list with a bad cursor", e.call("GET", "/resources?cursor=!", tok, nil), 400)
	if l := e.call("GET", "/resources", e.readTok, nil); l.status != 200 || len(l.items()) != 1 {
		t.Fatalf("list: %s", l.raw)
	}
	up := e.call("PUT", esc, tok, map[string]any{"name": "Photo album", "scopes": []string{"photos.read", "notes.read"}})
	if up.status != 200 || up.str("name") != "Photo album" || up.str("client_id") != creds.id {
		t.Fatalf("update: %d %s", up.status, up.raw)
	}
	wantProblem(t, "update invalid", e.call("PUT", esc, tok, map[string]any{"name": "", "scopes": []string{"nope"}}), 422)
	wantProblem(t, "update unknown", e.call("PUT", "/resources/"+url.PathEscape("https://none.example"), tok, map[string]any{"name": "x", "scopes": []string{"notes.read"}}), 404)
	wantStatus(t, "delete", e.call("DELETE", esc, tok, nil), 204)
	wantProblem(t, "get deleted", e.call("GET", esc, tok, nil), 404)
	wantProblem(t, "delete deleted", e.call("DELETE", esc, tok, nil), 404)

	s := e.call("GET", "/scopes", e.readTok, nil)
	var names []string
	for _, it := range s.items() {
		names = append(names, it["name"].(string))
	}
	joined := " " + strings.Join(names, " ") + " "
	for _, want := range []string{"openid", "notes.read", oauth.ScopeAdmin, oauth.ScopeAdminRead} {
		if !strings.Contains(joined, " "+want+" ") {
			t.Errorf("scopes %v lack %s", names, want)
		}
	}
	if !strings.Contains(e.logs.String(), "event=resource.changed actor=admin:admin-cli") {
		t.Error("no audit event for the resource")
	}
}

// TestAdminAPI_GrantsAndActivity: a user's grant is listed by user and by
// client; revoking it ends its refresh token; the activity log pages by
// user and by client.
func TestAdminAPI_GrantsAndActivity(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newAdminEnv(t, backend)
			tok := e.adminTok
			form := url.Values{"grant_type": {"password"}, "username": {e.user}, "password": {e.pass}, "scope": {"notes.read offline_access"}}
			issued := e.postToken(form, &e.app, true)
			if issued.status != 200 || issued.str("refresh_token") == "" {
				t.Fatalf("password grant: %d %v", issued.status, issued.body)
			}
			byUser := e.call("GET", "/grants?user_id=u1", e.readTok, nil)
			if byUser.status != 200 || len(byUser.items()) != 1 || byUser.items()[0]["client_id"] != e.app.id {
				t.Fatalf("by user: %s", byUser.raw)
			}
			gid := byUser.items()[0]["id"].(string)
			byClient := e.call("GET", "/grants?client_id="+e.app.id, e.readTok, nil)
			if len(byClient.items()) != 1 || byClient.items()[0]["id"] != gid {
				t.Fatalf("by client: %s", byClient.raw)
			}
			if both := e.call("GET", "/grants?user_id=u1&client_id="+e.web.id, e.readTok, nil); len(both.items()) != 0 {
				t.Fatalf("user u1 with another client: %s", both.raw)
			}
			wantProblem(t, "no filter", e.call("GET", "/grants", tok, nil), 400)
			wantStatus(t, "revoke", e.call("DELETE", "/grants/"+gid, tok, nil), 204)
			refresh := e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {issued.str("refresh_token")}}, &e.app, true)
			if refresh.status != 400 || refresh.str("error") != "invalid_grant" {
				t.Errorf("refresh after the grant was revoked: %d %v", refresh.status, refresh.body)
			}
			if g := e.call("GET", "/grants?user_id=u1", tok, nil); g.items()[0]["active"] != false {
				t.Errorf("the revoked grant is listed as active: %s", g.raw)
			}
			wantProblem(t, "revoke unknown", e.call("DELETE", "/grants/nope", tok, nil), 404)
			if !strings.Contains(e.logs.String(), "event=token.revoked actor=admin:admin-cli client_id="+e.app.id+" user_id=u1") {
				t.Error("no audit event for the revocation")
			}

			// Two more sign-ins, then the log pages by one.
			for range 2 {
				e.postToken(form, &e.app, true)
			}
			if err := e.server.FlushActivity(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{"user_id=u1", "client_id=" + e.app.id} {
				var kinds []string
				cursor := ""
				for range 20 {
					p := e.call("GET", "/activity?limit=1&"+q+"&cursor="+cursor, e.readTok, nil)
					wantStatus(t, "activity "+q, p, 200)
					for _, it := range p.items() {
						kinds = append(kinds, it["kind"].(string))
					}
					if cursor = p.str("next_cursor"); cursor == "" {
						break
					}
				}
				// Newest first: two issued, and before them the revocation's
				// own entries and the first issue.
				if len(kinds) < 3 || kinds[0] != store.ActivityIssued || kinds[len(kinds)-1] != store.ActivityIssued {
					t.Errorf("activity %s: %v", q, kinds)
				}
			}
			wantProblem(t, "activity without a filter", e.call("GET", "/activity", tok, nil), 400)
			wantProblem(t, "activity with a bad cursor", e.call("GET", "/activity?user_id=u1&cursor=eA", tok, nil), 400)
		})
	}
}

// TestAdminAPI_Keys: rotation publishes a new key at once; the key that
// signs cannot be retired; another can, and leaves the JWKS.
func TestAdminAPI_Keys(t *testing.T) {
	e := newAdminEnv(t, "sqlite")
	tok := e.adminTok
	before := e.call("GET", "/keys", e.readTok, nil)
	var active string
	for _, k := range before.items() {
		if k["state"] == "active" && k["alg"] == "ES256" {
			active = k["kid"].(string)
		}
	}
	if active == "" {
		t.Fatalf("no active ES256 key: %s", before.raw)
	}
	wantProblem(t, "retire the signing key", e.call("POST", "/keys/"+active+"/retire", tok, nil), 409)
	wantProblem(t, "retire unknown", e.call("POST", "/keys/nope/retire", tok, nil), 404)
	wantProblem(t, "rotate an unknown algorithm", e.call("POST", "/keys/rotate", tok, map[string]any{"algorithm": "HS256"}), 422)
	rot := e.call("POST", "/keys/rotate", tok, map[string]any{"algorithm": "ES256", "publish_delay": "10m"})
	if rot.status != 201 || rot.str("state") != "next" {
		t.Fatalf("rotate: %d %s", rot.status, rot.raw)
	}
	kid := rot.str("kid")
	if jwks := readURL(t, e.issuer+"/jwks.json"); !strings.Contains(jwks, kid) {
		t.Fatalf("the new key is not published: %s", jwks)
	}
	wantStatus(t, "retire the next key", e.call("POST", "/keys/"+kid+"/retire", tok, nil), 204)
	if jwks := readURL(t, e.issuer+"/jwks.json"); strings.Contains(jwks, kid) {
		t.Errorf("a retired key is still published: %s", jwks)
	}
	wantProblem(t, "retire again", e.call("POST", "/keys/"+kid+"/retire", tok, nil), 409)
	logs := e.logs.String()
	if !strings.Contains(logs, "event=key.changed actor=admin:admin-cli") || !strings.Contains(logs, "retired ES256 key "+kid) {
		t.Error("no audit events for the key changes")
	}
}

// TestAdminAPI_OnTheAdminListener: with server.admin_listen set, the admin
// API is served there and not on the main listener.
func TestAdminAPI_OnTheAdminListener(t *testing.T) {
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) { c.Server.AdminListen = "127.0.0.1:0" })
	admin := e.adminClient("admin-cli", oauth.ScopeAdmin)
	tok := e.scopedToken(admin, oauth.ScopeAdmin)
	if a := e.call("GET", "/clients", tok, nil); a.status != 404 {
		t.Errorf("the main listener serves the admin API: %d", a.status)
	}
	side := httptest.NewServer(e.server.AdminHandler())
	t.Cleanup(side.Close)
	req, _ := http.NewRequest("GET", side.URL+"/admin/v1/clients", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if a := doAdmin(t, req); a.status != 200 {
		t.Errorf("the admin listener: %d %s", a.status, a.raw)
	}
}

// TestAdminAPI_ServesItsOpenAPIDocument: the document is public (it holds
// no data) and is an OpenAPI 3.1 JSON document.
func TestAdminAPI_ServesItsOpenAPIDocument(t *testing.T) {
	e := newEnv(t, "sqlite")
	a := e.call("GET", "/openapi.json", "", nil)
	if a.status != 200 || a.header.Get("Content-Type") != "application/json" || a.str("openapi") != "3.1.0" {
		t.Fatalf("openapi.json: %d %q %.200s", a.status, a.header.Get("Content-Type"), a.raw)
	}
}

// TestAdminAPI_EveryRouteIsGuarded runs every operation of the OpenAPI
// document without a token (401 with a challenge), with a token without
// an admin scope (403), and, for every change, with a read-only token
// (403); nothing is changed by any of them.
func TestAdminAPI_EveryRouteIsGuarded(t *testing.T) {
	e := newAdminEnv(t, "sqlite")
	doc, err := openapi3.NewLoader().LoadFromData([]byte(readURL(t, e.issuer+"/admin/v1/openapi.json")))
	if err != nil {
		t.Fatal(err)
	}
	plain := e.scopedToken(e.svc, "notes.read")
	before, _ := e.store.ListClients(context.Background())
	n := 0
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			n++
			p := strings.NewReplacer("{id}", e.web.id, "{uri}", "x", "{kid}", "x").Replace(path)
			var body any
			if method != "GET" && method != "DELETE" {
				body = map[string]any{}
			}
			if a := e.call(method, p, "", body); a.status != 401 || a.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s without a token: %d %q", method, path, a.status, a.header.Get("WWW-Authenticate"))
			}
			wantProblem(t, method+" "+path+" without an admin scope", e.call(method, p, plain, body), 403)
			if method != "GET" {
				wantProblem(t, method+" "+path+" with a read-only token", e.call(method, p, e.readTok, body), 403)
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d operations documented", n)
	}
	after, _ := e.store.ListClients(context.Background())
	if len(after) != len(before) {
		t.Errorf("refused requests changed the clients: %d, then %d", len(before), len(after))
	}
	if strings.Contains(e.logs.String(), "actor=admin:") {
		t.Error("a refused request was audited as a change")
	}
}

// TestAdminAPI_RegistrationTokens: the admin API issues the initial access
// tokens that gated registration asks for (RFC 7591 §3), lists them without
// their values, and deletes them; each change is audited.
func TestAdminAPI_RegistrationTokens(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := &adminEnv{env: newEnvConfig(t, backend, dbtest.Open(t, backend), func(c *config.Config) { c.Registration.Enabled = true })}
			e.admin = e.adminClient("admin-cli", oauth.ScopeAdmin)
			e.adminTok = e.scopedToken(e.admin, oauth.ScopeAdmin)
			wantProblem(t, "a negative ttl", e.call("POST", "/registration-tokens", e.adminTok, map[string]any{"ttl": "-1h"}), 422)
			wantProblem(t, "negative uses", e.call("POST", "/registration-tokens", e.adminTok, map[string]any{"max_uses": -1}), 422)
			wantProblem(t, "an unknown field", e.call("POST", "/registration-tokens", e.adminTok, map[string]any{"uses": 1}), 400)
			wantProblem(t, "a control character in the description", e.call("POST", "/registration-tokens", e.adminTok, map[string]any{"description": "a\nb"}), 422)

			issued := e.call("POST", "/registration-tokens", e.adminTok, map[string]any{"description": "for the notes agent"})
			if issued.status != 201 || issued.str("token") == "" || issued.str("expires_at") == "" || issued.body["max_uses"] != 1.0 {
				t.Fatalf("issue: %d %s", issued.status, issued.raw)
			}
			meta := map[string]any{"redirect_uris": []string{"http://127.0.0.1/cb"}, "token_endpoint_auth_method": "none"}
			if resp, reg := e.registrationCall("POST", e.issuer+"/register", issued.str("token"), meta); resp.StatusCode != 201 || reg.ClientID == "" {
				t.Fatalf("registration with the issued token: %d %+v", resp.StatusCode, reg)
			}
			if resp, _ := e.registrationCall("POST", e.issuer+"/register", issued.str("token"), meta); resp.StatusCode != 401 {
				t.Errorf("a second registration with a single-use token: %d, want 401", resp.StatusCode)
			}

			list := e.call("GET", "/registration-tokens", e.adminTok, nil)
			items := list.items()
			if len(items) != 1 || items[0]["id"] != issued.str("id") || items[0]["uses"] != 1.0 || items[0]["token"] != nil {
				t.Fatalf("list: %s", list.raw)
			}
			wantStatus(t, "delete", e.call("DELETE", "/registration-tokens/"+issued.str("id"), e.adminTok, nil), 204)
			wantProblem(t, "delete again", e.call("DELETE", "/registration-tokens/"+issued.str("id"), e.adminTok, nil), 404)
			if n := strings.Count(e.logs.String(), "event=registration_token.changed actor=admin:admin-cli"); n != 2 {
				t.Errorf("%d audit events for the issue and the delete, want 2", n)
			}
		})
	}
}

// TestAdminAPI_StoreOutageIs503: with the database gone, the admin API
// answers 503 with Retry-After and a problem, never a 500 or the cause.
func TestAdminAPI_StoreOutageIs503(t *testing.T) {
	e := newAdminEnv(t, "sqlite")
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/clients", "/users", "/registration-tokens"} {
		a := e.call("GET", path, e.adminTok, nil)
		if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" || strings.Contains(a.raw, "sql") {
			t.Errorf("GET %s with the database closed: %d %v %s", path, a.status, a.header.Get("Retry-After"), a.raw)
		}
	}
}
