// Package notes is the seeds' cloud-notes API: a resource server that
// keeps each user's notes and lets an app read them with notes.read and
// change them with notes.write. Every route is protected by rs.
package notes

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/rs"
)

// Scopes this API serves.
const (
	ScopeRead  = "notes.read"
	ScopeWrite = "notes.write"
)

// Note is one note of a user.
type Note struct {
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Body    string    `json:"body"`
	Created time.Time `json:"created"`
}

// Bounds of what one user may store.
const (
	maxNoteBytes    = 16 << 10 // one request body
	maxNotesPerUser = 1000
)

// API keeps notes in memory, per user (the token's subject).
type API struct {
	guard *rs.Guard
	now   func() time.Time
	mu    sync.Mutex
	notes map[string][]Note // subject -> notes, oldest first
	next  int
}

// New returns the API behind guard. Seed gives each listed subject its
// first notes (the demo user's).
func New(guard *rs.Guard, seed map[string][]Note) *API {
	a := &API{guard: guard, now: time.Now, notes: make(map[string][]Note)}
	for sub, ns := range seed {
		for _, n := range ns {
			a.add(sub, n)
		}
	}
	return a
}

// DemoNotes are the notes the demo user starts with.
func DemoNotes(now time.Time) []Note {
	return []Note{
		{Title: "Shopping", Body: "Milk, bread, a new ink cartridge for the printer.", Created: now.Add(-72 * time.Hour)},
		{Title: "Holiday ideas", Body: "Lisbon in May; print the beach photos for grandma.", Created: now.Add(-26 * time.Hour)},
		{Title: "Watch list", Body: "Three documentaries to see on the TV this weekend.", Created: now.Add(-3 * time.Hour)},
	}
}

func (a *API) add(sub string, n Note) Note {
	a.next++
	n.ID = strconv.Itoa(a.next)
	if n.Created.IsZero() {
		n.Created = a.now().UTC()
	}
	a.notes[sub] = append(a.notes[sub], n)
	return n
}

// Handler serves the API and its protected resource metadata (RFC 9728).
func (a *API) Handler() http.Handler {
	read, write := a.guard.Require(ScopeRead), a.guard.Require(ScopeWrite)
	mux := http.NewServeMux()
	mux.Handle("GET /notes", read(http.HandlerFunc(a.list)))
	mux.Handle("POST /notes", write(http.HandlerFunc(a.create)))
	mux.Handle("GET /notes/{id}", read(http.HandlerFunc(a.get)))
	mux.Handle("DELETE /notes/{id}", write(http.HandlerFunc(a.delete)))
	mux.Handle("GET "+metadataPath(a.guard), a.guard.MetadataHandler())
	return mux
}

// metadataPath is where RFC 9728 §3.1 puts the API's metadata.
func metadataPath(g *rs.Guard) string {
	u, err := url.Parse(g.MetadataURL())
	if err != nil || u.Path == "" {
		return "/.well-known/oauth-protected-resource"
	}
	return u.Path
}

func subject(r *http.Request) string {
	t, _ := rs.FromContext(r.Context())
	return t.Subject
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	ns := slices.Clone(a.notes[subject(r)])
	a.mu.Unlock()
	if ns == nil {
		ns = []Note{}
	}
	writeJSON(w, http.StatusOK, ns)
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ns := a.notes[subject(r)]
	if i := slices.IndexFunc(ns, func(n Note) bool { return n.ID == r.PathValue("id") }); i >= 0 {
		writeJSON(w, http.StatusOK, ns[i])
		return
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such note"})
}

func (a *API) create(w http.ResponseWriter, r *http.Request) {
	var in struct{ Title, Body string }
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxNoteBytes)).Decode(&in); err != nil || strings.TrimSpace(in.Title) == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "send JSON with a title and a body, at most 16 KiB"})
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.notes[subject(r)]) >= maxNotesPerUser {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "too many notes; delete some first"})
		return
	}
	writeJSON(w, http.StatusCreated, a.add(subject(r), Note{Title: in.Title, Body: in.Body}))
}

func (a *API) delete(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	sub := subject(r)
	ns := a.notes[sub]
	i := slices.IndexFunc(ns, func(n Note) bool { return n.ID == r.PathValue("id") })
	if i < 0 {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such note"})
		return
	}
	a.notes[sub] = slices.Delete(ns, i, i+1)
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
