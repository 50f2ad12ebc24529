package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// newPushed returns an unused pushed request of client, valid for a minute
// from t0 (not stored).
func newPushed(hash, clientID string) store.PushedRequest {
	return store.PushedRequest{Hash: hash, ClientID: clientID,
		Params:    "client_id=" + clientID + "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&state=" + "%C3%A9%00%FF",
		CreatedAt: t0(), ExpiresAt: at(time.Minute)}
}

func testPushedRequests(t *testing.T, open Opener) {
	run(t, "PushedRequests/consumed_once_with_every_field", open, func(t *testing.T, w *world) {
		c := w.client("c")
		r := newPushed("ru-1", c.ID)
		r.Params += "&claims=" + unicode
		wantErr(t, "CreatePushedRequest", w.s.CreatePushedRequest(w.ctx, r), nil)
		got, err := w.s.ConsumePushedRequest(w.ctx, r.Hash, c.ID, at(30*time.Second))
		wantErr(t, "ConsumePushedRequest", err, nil)
		want := r
		want.UsedAt = at(30 * time.Second)
		same(t, "consumed request", got, want)
		_, err = w.s.ConsumePushedRequest(w.ctx, r.Hash, c.ID, at(31*time.Second))
		wantErr(t, "ConsumePushedRequest(again)", err, store.ErrAlreadyUsed)
	})

	run(t, "PushedRequests/expired_is_ErrAlreadyUsed_and_unknown_ErrNotFound", open, func(t *testing.T, w *world) {
		c := w.client("c")
		wantErr(t, "CreatePushedRequest", w.s.CreatePushedRequest(w.ctx, newPushed("ru-1", c.ID)), nil)
		// Expired at exactly ExpiresAt.
		_, err := w.s.ConsumePushedRequest(w.ctx, "ru-1", c.ID, at(time.Minute))
		wantErr(t, "ConsumePushedRequest(at expiry)", err, store.ErrAlreadyUsed)
		_, err = w.s.ConsumePushedRequest(w.ctx, "ru-2", c.ID, t0())
		wantErr(t, "ConsumePushedRequest(unknown)", err, store.ErrNotFound)
		_, err = w.s.ConsumePushedRequest(w.ctx, "ru-1\x00", c.ID, t0())
		wantErr(t, "ConsumePushedRequest(NUL)", err, store.ErrNotFound)
	})

	run(t, "PushedRequests/another_client_finds_nothing_and_uses_nothing", open, func(t *testing.T, w *world) {
		c, other := w.client("c"), w.client("other")
		wantErr(t, "CreatePushedRequest", w.s.CreatePushedRequest(w.ctx, newPushed("ru-1", c.ID)), nil)
		_, err := w.s.ConsumePushedRequest(w.ctx, "ru-1", other.ID, t0())
		wantErr(t, "ConsumePushedRequest(other client)", err, store.ErrNotFound)
		_, err = w.s.ConsumePushedRequest(w.ctx, "ru-1", c.ID, t0())
		wantErr(t, "ConsumePushedRequest(its client, after)", err, nil)
	})

	run(t, "PushedRequests/create_refuses_duplicates_unknown_clients_and_bad_values", open, func(t *testing.T, w *world) {
		c := w.client("c")
		wantErr(t, "CreatePushedRequest", w.s.CreatePushedRequest(w.ctx, newPushed("ru-1", c.ID)), nil)
		wantErr(t, "CreatePushedRequest(same hash)", w.s.CreatePushedRequest(w.ctx, newPushed("ru-1", c.ID)), store.ErrConflict)
		wantErr(t, "CreatePushedRequest(unknown client)", w.s.CreatePushedRequest(w.ctx, newPushed("ru-2", "nobody")), store.ErrNotFound)
		bad := newPushed("ru-3", c.ID)
		bad.Params = "state=\x00"
		wantErr(t, "CreatePushedRequest(NUL)", w.s.CreatePushedRequest(w.ctx, bad), store.ErrInvalid)
		bad = newPushed("ru-4", c.ID)
		bad.ExpiresAt = time.Time{}
		wantErr(t, "CreatePushedRequest(no expiry)", w.s.CreatePushedRequest(w.ctx, bad), store.ErrInvalid)
	})

	run(t, "PushedRequests/deleted_with_their_client", open, func(t *testing.T, w *world) {
		c := w.client("c")
		wantErr(t, "CreatePushedRequest", w.s.CreatePushedRequest(w.ctx, newPushed("ru-1", c.ID)), nil)
		wantErr(t, "DeleteClient", w.s.DeleteClient(w.ctx, c.ID), nil)
		w.client("c")
		_, err := w.s.ConsumePushedRequest(w.ctx, "ru-1", c.ID, t0())
		wantErr(t, "ConsumePushedRequest(after the client was deleted and made again)", err, store.ErrNotFound)
	})

	run(t, "PushedRequests/concurrent_consumers_have_one_winner", open, func(t *testing.T, w *world) {
		c := w.client("c")
		for i := range 5 {
			hash := fmt.Sprintf("ru-race-%d", i)
			wantErr(t, "CreatePushedRequest", w.s.CreatePushedRequest(w.ctx, newPushed(hash, c.ID)), nil)
			errs := race(8, func(int) error {
				_, err := w.s.ConsumePushedRequest(w.ctx, hash, c.ID, at(time.Second))
				return err
			})
			oneWinner(t, "ConsumePushedRequest "+hash, errs)
		}
	})
}
