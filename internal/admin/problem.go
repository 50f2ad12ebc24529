package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/latchkey/latchkey/internal/store"
)

// problemBase prefixes the type URIs of the admin API's problems: the
// operator documentation, where each has an anchor (RFC 9457 §3.1.1: a
// type URI should lead to human-readable documentation).
const problemBase = "https://github.com/latchkey/latchkey/blob/main/docs/admin-api.md#"

// problem is an RFC 9457 problem details object. Errors lists every
// problem of an invalid request at once.
type problem struct {
	Type   string   `json:"type"`
	Title  string   `json:"title"`
	Status int      `json:"status"`
	Detail string   `json:"detail,omitempty"`
	Errors []string `json:"errors,omitempty"`
}

func writeProblem(w http.ResponseWriter, p *problem) {
	if p.Type == "" {
		// RFC 9457 §4.2.1: "about:blank" when the status says it all.
		p.Type = "about:blank"
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

func notFound(detail string) *problem {
	return &problem{Status: http.StatusNotFound, Title: "Not found", Detail: detail}
}

func badRequest(detail string) *problem {
	return &problem{Type: problemBase + "bad-request", Status: http.StatusBadRequest, Title: "Bad request", Detail: detail}
}

func conflict(detail string) *problem {
	return &problem{Type: problemBase + "conflict", Status: http.StatusConflict, Title: "Conflict", Detail: detail}
}

// invalid lists every problem of err (an errors.Join) at once.
func invalid(what string, err error) *problem {
	var list []string
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			list = append(list, e.Error())
		}
	} else {
		list = []string{err.Error()}
	}
	return &problem{Type: problemBase + "validation", Status: http.StatusUnprocessableEntity, Title: "Invalid " + what,
		Detail: fmt.Sprintf("%d problem(s) with the %s", len(list), what), Errors: list}
}

// lookup gets the item id names; when there is none it answers 404 with
// missing, when the store fails 503, and reports false.
func lookup[T any](a *API, w http.ResponseWriter, r *http.Request, what, missing string,
	get func(context.Context, string) (T, error), id string) (T, bool) {
	v, err := get(r.Context(), id)
	return v, a.storeOK(w, r, "get "+what, missing, err)
}

// storeOK reports whether the store call that returned err succeeded;
// otherwise it answers 404 with missing when the item is not there, 503
// when the store failed (what names the call in the log).
func (a *API) storeOK(w http.ResponseWriter, r *http.Request, what, missing string, err error) bool {
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, notFound(missing))
		return false
	}
	if err != nil {
		a.serverError(w, r, what, err)
		return false
	}
	return true
}

// serverError logs err and answers a fixed problem: the cause is never sent.
func (a *API) serverError(w http.ResponseWriter, r *http.Request, what string, err error) {
	a.o.Logger.ErrorContext(r.Context(), "admin api: "+what, "err", err)
	// What fails here is the store (or, rarely, key generation):
	// unreachable or overloaded, which passes; a client should retry.
	w.Header().Set("Retry-After", "1")
	writeProblem(w, &problem{Status: http.StatusServiceUnavailable, Title: "Service unavailable",
		Detail: "the database could not complete this request; try again (the server's log says why)"})
}

// maxBody bounds a request body: 64 KiB, the bound of a client's metadata
// (SECURITY.md F11), inline keys included.
const maxBody = 64 << 10

// readJSON decodes the one JSON object of r's body into v: unknown fields,
// trailing data, a wrong Content-Type or a body over maxBody are problems.
func readJSON(w http.ResponseWriter, r *http.Request, v any) *problem {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return &problem{Type: problemBase + "unsupported-media-type", Status: http.StatusUnsupportedMediaType,
			Title: "Unsupported media type", Detail: "send application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &problem{Type: problemBase + "too-large", Status: http.StatusRequestEntityTooLarge,
				Title: "Request body too large", Detail: fmt.Sprintf("at most %d bytes", maxBody)}
		}
		return badRequest("malformed JSON: " + jsonError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("malformed JSON: data after the object")
	}
	return nil
}

// jsonError describes a decoding error without echoing the input.
func jsonError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q has the wrong type", typ.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the body is empty or cut short"
	}
	return "not a JSON object"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
