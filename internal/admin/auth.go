package admin

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/dpop"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/oauth"
)

// caller is the admin client a request's token was issued to.
type caller struct{ clientID string }

// actor names the caller in audit events.
func (c caller) actor() string { return "admin:" + c.clientID }

// guard authenticates the request's access token (401 with a challenge
// when missing or invalid) and checks its scope: latchkey:admin for a
// change, latchkey:admin or latchkey:admin:read for a read (403 with
// insufficient_scope, RFC 6750 §3.1).
func (a *API) guard(rt route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		in, denied := a.o.OAuth.AuthenticateAccess(w, r)
		if denied != nil {
			// The challenge is set; the body is a problem like any other.
			title := "Unauthorized"
			switch {
			case denied.Status >= 500:
				a.serverError(w, r, "verify access token", errors.New(denied.Description))
				return
			case denied.Status == http.StatusBadRequest:
				title = "Bad request"
			}
			writeProblem(w, &problem{Type: problemBase + strings.ReplaceAll(denied.Code, "_", "-"), Status: denied.Status,
				Title: title, Detail: denied.Description})
			return
		}
		scopes := strings.Fields(in.Scope)
		allowed := slices.Contains(scopes, oauth.ScopeAdmin) || !rt.write && slices.Contains(scopes, oauth.ScopeAdminRead)
		if !allowed || in.Sub != in.ClientID {
			need := oauth.ScopeAdmin
			if !rt.write {
				need = oauth.ScopeAdmin + " " + oauth.ScopeAdminRead
			}
			// A token bound to a key is challenged with the DPoP scheme
			// (RFC 9449 §7.1), as its other refusals are.
			challenge := `Bearer realm="latchkey"`
			if in.Cnf != nil && in.Cnf.JKT != "" {
				challenge = `DPoP algs="` + strings.Join(dpop.Algs, " ") + `"`
			}
			w.Header().Set("WWW-Authenticate", challenge+`, error="insufficient_scope", scope="`+need+`"`)
			writeProblem(w, &problem{Type: problemBase + "insufficient-scope", Status: http.StatusForbidden,
				Title: "Insufficient scope", Detail: "this operation needs a client token with the scope " + strings.ReplaceAll(need, " ", " or ")})
			return
		}
		rt.h(a, w, r, caller{clientID: in.ClientID})
	}
}

// audit writes a change as an audit event with the admin client as actor
// and the request's client address.
func (a *API) audit(ctx context.Context, c caller, ev audit.Event) {
	ev.Actor, ev.Address = c.actor(), clientip.FromContext(ctx)
	a.o.Audit.Emit(ctx, ev)
}
