package admin

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// activityView is one entry of the activity log.
type activityView struct {
	UserID   string    `json:"user_id"`
	ClientID string    `json:"client_id,omitempty"`
	Kind     string    `json:"kind"`
	Device   string    `json:"device,omitempty"`
	Address  string    `json:"address,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	At       time.Time `json:"at"`
}

// listActivity pages the activity log of a user (user_id), of a client
// (client_id), or of a user with one client (both), newest first. The
// cursor holds the time and id of the last entry answered (keyset paging
// in the store, store.ActivityQuery). Entries still queued for their
// batch write (up to a second) show up once written.
func (a *API) listActivity(w http.ResponseWriter, r *http.Request, _ caller) {
	limit, after, p := pageParams(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	q := store.ActivityQuery{UserID: r.URL.Query().Get("user_id"), ClientID: r.URL.Query().Get("client_id"), Limit: limit + 1}
	if q.UserID == "" && q.ClientID == "" {
		writeProblem(w, badRequest("filter by user_id or client_id (a query parameter): the whole log is not listed"))
		return
	}
	if after != "" {
		var nanos, id int64
		if _, err := fmt.Sscanf(after, "%d|%d", &nanos, &id); err != nil {
			writeProblem(w, badRequest("cursor is not one this API gave"))
			return
		}
		q.After = &store.Activity{At: time.Unix(0, nanos).UTC(), ID: id}
	}
	list, err := a.o.Store.QueryActivity(r.Context(), q)
	if err != nil {
		a.serverError(w, r, "query activity", err)
		return
	}
	out := page[activityView]{Items: []activityView{}}
	for i, e := range list {
		if i == limit {
			last := list[limit-1]
			out.NextCursor = base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d|%d", last.At.UnixNano(), last.ID))
			break
		}
		out.Items = append(out.Items, activityView{UserID: e.UserID, ClientID: e.ClientID, Kind: e.Kind, Device: e.Device,
			Address: e.Address, Detail: e.Detail, At: e.At})
	}
	writeJSON(w, http.StatusOK, out)
}
