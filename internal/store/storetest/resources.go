package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// credentials is the client of a resource: confidential, no grant types.
func credentials(id string) store.Client {
	return store.Client{ID: id, SecretHash: "sha256:" + strings.Repeat("cd", 32), Name: "API " + id, CreatedAt: t0(), UpdatedAt: t0()}
}

func testResources(t *testing.T, open Opener) {
	run(t, "Resource/round_trip_keeps_every_field", open, func(t *testing.T, w *world) {
		want := store.Resource{URI: "https://notes.example/api?" + unicode, Name: unicode + big(),
			Scopes: []string{"notes.read", "名前", big()}, ClientID: "rs-" + unicode, CreatedAt: t0(), UpdatedAt: at(time.Microsecond)}
		wantErr(t, "CreateResource", w.s.CreateResource(w.ctx, want, credentials(want.ClientID)), nil)
		got, err := w.s.GetResource(w.ctx, want.URI)
		wantErr(t, "GetResource", err, nil)
		same(t, "resource", got, want)
		c, err := w.s.GetClient(w.ctx, want.ClientID)
		wantErr(t, "GetClient(credentials)", err, nil)
		same(t, "credentials", c, credentials(want.ClientID))
	})
	run(t, "Resource/list_is_ordered_by_uri", open, func(t *testing.T, w *world) {
		for i, uri := range []string{"urn:b", "https://photos.example/", "https://notes.example/"} {
			r := store.Resource{URI: uri, Name: uri, ClientID: w.id("rs"), CreatedAt: at(time.Duration(i))}
			wantErr(t, "CreateResource", w.s.CreateResource(w.ctx, r, credentials(r.ClientID)), nil)
		}
		list, err := w.s.ListResources(w.ctx)
		wantErr(t, "ListResources", err, nil)
		var uris []string
		for _, r := range list {
			uris = append(uris, r.URI)
		}
		same(t, "order", uris, []string{"https://notes.example/", "https://photos.example/", "urn:b"})
	})
	run(t, "Resource/conflict_writes_nothing", open, func(t *testing.T, w *world) {
		w.client("taken")
		r := store.Resource{URI: "https://notes.example/", Name: "Notes", ClientID: "rs-notes"}
		wantErr(t, "CreateResource", w.s.CreateResource(w.ctx, r, credentials(r.ClientID)), nil)
		// The same URI with a new client: the client must not be left behind.
		again := store.Resource{URI: r.URI, Name: "Again", ClientID: "rs-again"}
		wantErr(t, "CreateResource(same uri)", w.s.CreateResource(w.ctx, again, credentials(again.ClientID)), store.ErrConflict)
		_, err := w.s.GetClient(w.ctx, again.ClientID)
		wantErr(t, "GetClient(rs-again)", err, store.ErrNotFound)
		// A client id that exists already.
		other := store.Resource{URI: "https://photos.example/", Name: "Photos", ClientID: "taken"}
		wantErr(t, "CreateResource(taken client)", w.s.CreateResource(w.ctx, other, credentials(other.ClientID)), store.ErrConflict)
		_, err = w.s.GetResource(w.ctx, other.URI)
		wantErr(t, "GetResource(photos)", err, store.ErrNotFound)
	})
	run(t, "Resource/invalid_values_are_refused", open, func(t *testing.T, w *world) {
		for name, r := range map[string]store.Resource{
			"NUL in uri":    {URI: "https://a.example/\x00", ClientID: "rs-1"},
			"NUL in scope":  {URI: "https://a.example/", ClientID: "rs-1", Scopes: []string{"a\x00"}},
			"invalid UTF-8": {URI: "https://a.example/", ClientID: "rs-1", Name: "\xff"},
		} {
			wantErr(t, "CreateResource("+name+")", w.s.CreateResource(w.ctx, r, credentials(r.ClientID)), store.ErrInvalid)
		}
		r := store.Resource{URI: "https://a.example/", ClientID: "rs-1"}
		wantErr(t, "CreateResource(other credentials)", w.s.CreateResource(w.ctx, r, credentials("rs-2")), store.ErrInvalid)
		if _, err := w.s.GetClient(w.ctx, "rs-1"); err == nil {
			t.Fatal("a refused resource left its client behind")
		}
	})
	run(t, "Resource/update_sets_name_and_scopes_only", open, func(t *testing.T, w *world) {
		r := store.Resource{URI: "https://notes.example/", Name: "Notes", Scopes: []string{"notes.read"}, ClientID: "rs-notes", CreatedAt: t0(), UpdatedAt: t0()}
		wantErr(t, "CreateResource", w.s.CreateResource(w.ctx, r, credentials(r.ClientID)), nil)
		upd := store.Resource{URI: r.URI, Name: "Cloud notes", Scopes: []string{"notes.read", "notes.write"}, ClientID: "ignored", CreatedAt: at(time.Hour), UpdatedAt: at(time.Minute)}
		wantErr(t, "UpdateResource", w.s.UpdateResource(w.ctx, upd), nil)
		got, err := w.s.GetResource(w.ctx, r.URI)
		wantErr(t, "GetResource", err, nil)
		r.Name, r.Scopes, r.UpdatedAt = upd.Name, upd.Scopes, upd.UpdatedAt
		same(t, "resource", got, r)
		wantErr(t, "UpdateResource(absent)", w.s.UpdateResource(w.ctx, store.Resource{URI: "urn:absent"}), store.ErrNotFound)
	})
	run(t, "Resource/delete_removes_its_client_and_what_it_holds", open, func(t *testing.T, w *world) {
		r := store.Resource{URI: "https://notes.example/", Name: "Notes", ClientID: "rs-notes"}
		wantErr(t, "CreateResource", w.s.CreateResource(w.ctx, r, credentials(r.ClientID)), nil)
		cc := store.Token{Hash: "cc", Kind: store.KindAccess, ClientID: r.ClientID, ExpiresAt: at(time.Hour)}
		wantErr(t, "CreateTokens", w.s.CreateTokens(w.ctx, []store.Token{cc}), nil)
		wantErr(t, "DeleteResource", w.s.DeleteResource(w.ctx, r.URI), nil)
		_, err := w.s.GetResource(w.ctx, r.URI)
		wantErr(t, "GetResource", err, store.ErrNotFound)
		_, err = w.s.GetClient(w.ctx, r.ClientID)
		wantErr(t, "GetClient", err, store.ErrNotFound)
		w.absentToken(cc.Hash)
		wantErr(t, "DeleteResource(again)", w.s.DeleteResource(w.ctx, r.URI), store.ErrNotFound)
		wantErr(t, "DeleteResource(NUL)", w.s.DeleteResource(w.ctx, "a\x00"), store.ErrNotFound)
		_, err = w.s.GetResource(w.ctx, "a\x00")
		wantErr(t, "GetResource(NUL)", err, store.ErrNotFound)
	})
	run(t, "Resource/deleting_its_client_deletes_it", open, func(t *testing.T, w *world) {
		r := store.Resource{URI: "https://notes.example/", Name: "Notes", ClientID: "rs-notes"}
		wantErr(t, "CreateResource", w.s.CreateResource(w.ctx, r, credentials(r.ClientID)), nil)
		wantErr(t, "DeleteClient", w.s.DeleteClient(w.ctx, r.ClientID), nil)
		_, err := w.s.GetResource(w.ctx, r.URI)
		wantErr(t, "GetResource", err, store.ErrNotFound)
	})
}
