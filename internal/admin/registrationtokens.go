package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// RegistrationTokenView is an initial access token (RFC 7591 §3), as the
// admin API answers it and the command line prints it: the token itself
// only once, when issued; no expires_at when it never expires.
type RegistrationTokenView struct {
	ID          string    `json:"id"`
	Token       string    `json:"token,omitempty"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	MaxUses     int       `json:"max_uses"`
	Uses        int       `json:"uses"`
}

// NewRegistrationTokenView shows t, with plain when it was just issued.
func NewRegistrationTokenView(t store.RegistrationToken, plain string) RegistrationTokenView {
	return RegistrationTokenView{ID: t.ID, Token: plain, Description: t.Description, CreatedAt: t.CreatedAt,
		ExpiresAt: t.ExpiresAt, MaxUses: t.MaxUses, Uses: t.Uses}
}

// defaultRegistrationTokenTTL and the single use are the command line's
// defaults: a token handed to one developer or agent, for a day.
const defaultRegistrationTokenTTL = 24 * time.Hour

func (a *API) listRegistrationTokens(w http.ResponseWriter, r *http.Request, _ caller) {
	listPage(a, w, r, "registration tokens", a.o.Store.ListRegistrationTokens, func(x store.RegistrationToken) string { return x.ID },
		func(x store.RegistrationToken) RegistrationTokenView { return NewRegistrationTokenView(x, "") })
}

// createRegistrationToken issues an initial access token for gated
// registration: ttl "0" never expires, max_uses 0 allows any number.
func (a *API) createRegistrationToken(w http.ResponseWriter, r *http.Request, who caller) {
	in := struct {
		TTL         string `json:"ttl"`
		MaxUses     *int   `json:"max_uses"`
		Description string `json:"description"`
	}{}
	if r.ContentLength != 0 {
		if p := readJSON(w, r, &in); p != nil {
			writeProblem(w, p)
			return
		}
	}
	var errs []error
	ttl := defaultRegistrationTokenTTL
	if in.TTL != "" {
		d, err := time.ParseDuration(in.TTL)
		if err != nil || d < 0 {
			errs = append(errs, errors.New("ttl must be a duration such as 24h (0: never expires), not negative"))
		}
		ttl = d
	}
	uses := 1
	if in.MaxUses != nil {
		if uses = *in.MaxUses; uses < 0 {
			errs = append(errs, errors.New("max_uses must be 0 (any number) or more"))
		}
	}
	if err := oauth.ValidateDescription(in.Description); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		writeProblem(w, invalid("registration token", errors.Join(errs...)))
		return
	}
	v, t, err := oauth.IssueInitialAccessToken(r.Context(), a.o.Store, a.o.Now(), ttl, uses, in.Description)
	if err != nil {
		a.serverError(w, r, "create registration token", err)
		return
	}
	a.audit(r.Context(), who, audit.Event{Name: audit.EventRegistrationTokenChanged, Detail: "issued " + t.ID})
	writeJSON(w, http.StatusCreated, NewRegistrationTokenView(t, v.String()))
}

func (a *API) deleteRegistrationToken(w http.ResponseWriter, r *http.Request, who caller) {
	id := r.PathValue("id")
	if !a.storeOK(w, r, "delete registration token", "no registration token with this id", a.o.Store.DeleteRegistrationToken(r.Context(), id)) {
		return
	}
	a.audit(r.Context(), who, audit.Event{Name: audit.EventRegistrationTokenChanged, Detail: "deleted " + id})
	w.WriteHeader(http.StatusNoContent)
}
