package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/token"
)

// KeyView is a signing key, as the admin API answers it and the command
// line prints it: never its private half.
type KeyView struct {
	KID       string     `json:"kid"`
	Algorithm string     `json:"alg"`
	State     string     `json:"state"`
	CreatedAt time.Time  `json:"created_at"`
	ActiveAt  time.Time  `json:"active_at"`
	RetireAt  *time.Time `json:"retire_at,omitempty"`
}

// NewKeyView shows k.
func NewKeyView(k token.KeyInfo) KeyView {
	v := KeyView{KID: k.ID, Algorithm: k.Algorithm, State: k.State, CreatedAt: k.CreatedAt, ActiveAt: k.ActiveAt}
	if !k.RetireAt.IsZero() {
		v.RetireAt = &k.RetireAt
	}
	return v
}

// defaultPublishDelay is how long a rotated key is published before it
// signs, as for the command line's keys rotate.
const defaultPublishDelay = 5 * time.Minute

// listKeys answers every stored key with its state, in the order the
// server picks signing keys (by algorithm, newest first); few keys exist,
// so the list is one page.
func (a *API) listKeys(w http.ResponseWriter, r *http.Request, _ caller) {
	infos, err := token.List(r.Context(), a.o.Store, a.o.Now())
	if err != nil {
		a.serverError(w, r, "list keys", err)
		return
	}
	out := page[KeyView]{Items: make([]KeyView, 0, len(infos))}
	for _, k := range infos {
		out.Items = append(out.Items, NewKeyView(k))
	}
	writeJSON(w, http.StatusOK, out)
}

// rotateKey creates a new key of an algorithm, published at once and
// signing after publish_delay; the algorithm's older keys keep verifying
// until every token they signed has expired (token.Rotate).
func (a *API) rotateKey(w http.ResponseWriter, r *http.Request, who caller) {
	var in struct {
		Algorithm    string `json:"algorithm"`
		PublishDelay string `json:"publish_delay"`
	}
	if r.ContentLength != 0 {
		if p := readJSON(w, r, &in); p != nil {
			writeProblem(w, p)
			return
		}
	}
	if in.Algorithm == "" {
		in.Algorithm = a.o.Algorithm
	}
	var errs []error
	switch in.Algorithm {
	case token.ES256, token.RS256, token.EdDSA:
	default:
		errs = append(errs, errors.New("algorithm must be ES256, RS256 or EdDSA"))
	}
	delay := defaultPublishDelay
	if in.PublishDelay != "" {
		d, err := time.ParseDuration(in.PublishDelay)
		if err != nil || d < 0 {
			errs = append(errs, errors.New("publish_delay must be a duration such as 5m, not negative"))
		}
		delay = d
	}
	if len(errs) > 0 {
		writeProblem(w, invalid("rotation", errors.Join(errs...)))
		return
	}
	lifetime, err := a.maxTokenLifetime(r)
	if err != nil {
		a.serverError(w, r, "list clients", err)
		return
	}
	nk, err := token.Rotate(r.Context(), a.o.Store, a.o.SealKey, in.Algorithm, a.o.Now(), delay, lifetime)
	if err != nil {
		a.serverError(w, r, "rotate keys", err)
		return
	}
	a.audit(r.Context(), who, audit.Event{Name: audit.EventKeyChanged, Detail: "rotated " + in.Algorithm + ": new key " + nk.ID})
	a.reloadKeys(r)
	writeJSON(w, http.StatusCreated, KeyView{KID: nk.ID, Algorithm: nk.Algorithm, State: token.StateNext,
		CreatedAt: nk.CreatedAt, ActiveAt: nk.ActiveAt})
}

// maxTokenLifetime is the longest an access token can live now: the
// server's defaults and every client's own lifetime.
func (a *API) maxTokenLifetime(r *http.Request) (time.Duration, error) {
	longest := a.o.MaxTokenLifetime
	clients, err := a.o.Store.ListClients(r.Context())
	if err != nil {
		return 0, err
	}
	for _, c := range clients {
		longest = max(longest, c.AccessTokenTTL)
	}
	return max(longest, time.Hour), nil
}

// retireKey retires a key now: it leaves the JWKS and verifies nothing
// more. The key that signs its algorithm's tokens cannot be retired
// (rotate first); a key that is next may be, before it ever signs.
func (a *API) retireKey(w http.ResponseWriter, r *http.Request, who caller) {
	kid := r.PathValue("kid")
	infos, err := token.List(r.Context(), a.o.Store, a.o.Now())
	if err != nil {
		a.serverError(w, r, "list keys", err)
		return
	}
	var k *token.KeyInfo
	for i := range infos {
		if infos[i].ID == kid {
			k = &infos[i]
		}
	}
	switch {
	case k == nil:
		writeProblem(w, notFound("no key with this kid"))
		return
	case k.State == token.StateActive:
		writeProblem(w, conflict("this key signs its algorithm's tokens: rotate, then retire it once the new key signs"))
		return
	case k.State == token.StateRetired:
		writeProblem(w, conflict("this key is already retired"))
		return
	}
	if !a.storeOK(w, r, "retire key", "no key with this kid", a.o.Store.RetireSigningKey(r.Context(), kid, a.o.Now())) {
		return
	}
	a.audit(r.Context(), who, audit.Event{Name: audit.EventKeyChanged, Detail: "retired " + k.Algorithm + " key " + kid})
	a.reloadKeys(r)
	w.WriteHeader(http.StatusNoContent)
}

// reloadKeys makes a key change take effect on this node at once; other
// nodes see it at their next periodic reload.
func (a *API) reloadKeys(r *http.Request) {
	if a.o.Reload == nil {
		return
	}
	if err := a.o.Reload(r); err != nil {
		a.o.Logger.WarnContext(r.Context(), "admin api: reload keys", "err", err)
	}
}
