package admin

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/store"
)

// grantView is a user's grant to a client.
type grantView struct {
	ID        string     `json:"id"`
	UserID    string     `json:"user_id"`
	ClientID  string     `json:"client_id"`
	Scopes    []string   `json:"scopes"`
	Active    bool       `json:"active"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

func (a *API) newGrantView(g store.Grant) grantView {
	v := grantView{ID: g.ID, UserID: g.UserID, ClientID: g.ClientID, Scopes: g.Scopes, Active: g.Active(a.o.Now()), CreatedAt: g.CreatedAt}
	if !g.ExpiresAt.IsZero() {
		v.ExpiresAt = &g.ExpiresAt
	}
	if !g.RevokedAt.IsZero() {
		v.RevokedAt = &g.RevokedAt
	}
	return v
}

// listGrants lists a user's grants (user_id), or a client's (client_id),
// or one user's grants to one client (both), paged by grant id.
func (a *API) listGrants(w http.ResponseWriter, r *http.Request, _ caller) {
	limit, after, p := pageParams(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	q := r.URL.Query()
	userID, clientID := q.Get("user_id"), q.Get("client_id")
	var list []store.Grant
	var err error
	switch {
	case userID != "":
		list, err = a.o.Store.ListGrantsByUser(r.Context(), userID)
	case clientID != "":
		list, err = a.o.Store.ListGrantsByClient(r.Context(), clientID)
	default:
		writeProblem(w, badRequest("filter by user_id or client_id (a query parameter)"))
		return
	}
	if err != nil {
		a.serverError(w, r, "list grants", err)
		return
	}
	if userID != "" && clientID != "" {
		kept := list[:0]
		for _, g := range list {
			if g.ClientID == clientID {
				kept = append(kept, g)
			}
		}
		list = kept
	}
	// Newest first, as the store lists them: the key orders the same way.
	writeJSON(w, http.StatusOK, keyset(list, grantKey, a.newGrantView, limit, after))
}

// grantKey orders grants newest first (later creation, then greater id,
// first), as the store does, as an ascending string.
func grantKey(g store.Grant) string {
	return fmt.Sprintf("%020d|%s", math.MaxInt64-g.CreatedAt.UnixNano(), invert(g.ID))
}

// invert maps s to a string whose byte order is the reverse of s's among
// strings of its length, so that "newest first" sorts ascending.
func invert(s string) string {
	b := []byte(s)
	for i := range b {
		b[i] = 0xff - b[i]
	}
	return string(b)
}

// revokeGrant revokes a grant and with it every code and token it issued.
func (a *API) revokeGrant(w http.ResponseWriter, r *http.Request, who caller) {
	g, ok := lookup(a, w, r, "grant", "no grant with this id", a.o.Store.GetGrant, r.PathValue("id"))
	if !ok {
		return
	}
	if err := a.o.Store.RevokeGrant(r.Context(), g.ID, a.o.Now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		a.serverError(w, r, "revoke grant", err)
		return
	}
	a.audit(r.Context(), who, audit.Event{Name: audit.EventTokenRevoked, UserID: g.UserID, ClientID: g.ClientID,
		Reason: "admin", Detail: "grant " + g.ID + " revoked"})
	w.WriteHeader(http.StatusNoContent)
}
