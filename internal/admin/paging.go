package admin

import (
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Limits of a page.
const (
	defaultLimit = 50
	maxLimit     = 200
)

// page is one page of a list; NextCursor is empty on the last.
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// pageParams reads limit (1..200, default 50) and cursor (opaque: the
// base64url of the key of the last item of the page before).
func pageParams(r *http.Request) (limit int, after string, p *problem) {
	q := r.URL.Query()
	limit = defaultLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return 0, "", badRequest("limit must be a whole number from 1 to 200")
		}
		limit = n
	}
	if c := q.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(b) == 0 {
			return 0, "", badRequest("cursor is not one this API gave")
		}
		after = string(b)
	}
	return limit, after, nil
}

// listPage answers the page the request asks for of every item list
// returns, keyed by key and shown as view; what names the list in the log.
func listPage[S, T any](a *API, w http.ResponseWriter, r *http.Request, what string,
	list func(context.Context) ([]S, error), key func(S) string, view func(S) T) {
	limit, after, p := pageParams(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	items, err := list(r.Context())
	if err != nil {
		a.serverError(w, r, "list "+what, err)
		return
	}
	writeJSON(w, http.StatusOK, keyset(items, key, view, limit, after))
}

// keyset pages items in the ascending order of key: those after the cursor's
// key, at most limit, and the cursor of the next page when more remain.
// Keyset paging, not offsets: an item created or deleted between two
// requests neither repeats nor hides another.
func keyset[S any, T any](items []S, key func(S) string, view func(S) T, limit int, after string) page[T] {
	items = slices.Clone(items)
	slices.SortStableFunc(items, func(x, y S) int { return strings.Compare(key(x), key(y)) })
	out := page[T]{Items: []T{}}
	last := ""
	for _, it := range items {
		k := key(it)
		if after != "" && k <= after {
			continue
		}
		if len(out.Items) == limit {
			out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(last))
			break
		}
		out.Items = append(out.Items, view(it))
		last = k
	}
	return out
}
