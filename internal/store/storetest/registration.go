package storetest

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func testRegistration(t *testing.T, open Opener) {
	run(t, "RegistrationToken/round_trip_list_and_delete", open, func(t *testing.T, w *world) {
		a := store.RegistrationToken{ID: "a", Hash: "hash-a", Description: unicode, CreatedAt: t0(), ExpiresAt: at(time.Hour), MaxUses: 3}
		b := store.RegistrationToken{ID: "b", Hash: "hash-b", CreatedAt: t0()}
		wantErr(t, "CreateRegistrationToken(b)", w.s.CreateRegistrationToken(w.ctx, b), nil)
		wantErr(t, "CreateRegistrationToken(a)", w.s.CreateRegistrationToken(w.ctx, a), nil)
		wantErr(t, "CreateRegistrationToken(same id)", w.s.CreateRegistrationToken(w.ctx, store.RegistrationToken{ID: "a", Hash: "other"}), store.ErrConflict)
		wantErr(t, "CreateRegistrationToken(same hash)", w.s.CreateRegistrationToken(w.ctx, store.RegistrationToken{ID: "c", Hash: "hash-a"}), store.ErrConflict)
		list, err := w.s.ListRegistrationTokens(w.ctx)
		wantErr(t, "ListRegistrationTokens", err, nil)
		same(t, "tokens", list, []store.RegistrationToken{a, b})
		wantErr(t, "DeleteRegistrationToken", w.s.DeleteRegistrationToken(w.ctx, "a"), nil)
		wantErr(t, "DeleteRegistrationToken(again)", w.s.DeleteRegistrationToken(w.ctx, "a"), store.ErrNotFound)
		wantErr(t, "UseRegistrationToken(deleted)", w.s.UseRegistrationToken(w.ctx, "hash-a", t0()), store.ErrNotFound)
	})

	run(t, "RegistrationToken/expired_unknown_or_used_up_is_ErrNotFound", open, func(t *testing.T, w *world) {
		tok := store.RegistrationToken{ID: "a", Hash: "h", CreatedAt: t0(), ExpiresAt: at(time.Hour), MaxUses: 2}
		wantErr(t, "CreateRegistrationToken", w.s.CreateRegistrationToken(w.ctx, tok), nil)
		wantErr(t, "Use(unknown)", w.s.UseRegistrationToken(w.ctx, "nope", t0()), store.ErrNotFound)
		wantErr(t, "Use(at expiry)", w.s.UseRegistrationToken(w.ctx, "h", at(time.Hour)), store.ErrNotFound)
		wantErr(t, "Use(1)", w.s.UseRegistrationToken(w.ctx, "h", t0()), nil)
		wantErr(t, "Use(2)", w.s.UseRegistrationToken(w.ctx, "h", t0()), nil)
		wantErr(t, "Use(3)", w.s.UseRegistrationToken(w.ctx, "h", t0()), store.ErrNotFound)
		list, err := w.s.ListRegistrationTokens(w.ctx)
		wantErr(t, "ListRegistrationTokens", err, nil)
		if len(list) != 1 || list[0].Uses != 2 {
			t.Fatalf("after two uses: %+v", list)
		}
	})

	run(t, "RegistrationToken/racing_uses_never_exceed_max_uses", open, func(t *testing.T, w *world) {
		const max, racers = 3, 12
		wantErr(t, "CreateRegistrationToken", w.s.CreateRegistrationToken(w.ctx, store.RegistrationToken{ID: "a", Hash: "h", MaxUses: max}), nil)
		var ok atomic.Int32
		var wg sync.WaitGroup
		for range racers {
			wg.Go(func() {
				err := w.s.UseRegistrationToken(w.ctx, "h", t0())
				switch {
				case err == nil:
					ok.Add(1)
				case !errors.Is(err, store.ErrNotFound):
					t.Errorf("UseRegistrationToken: %v", err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != max {
			t.Fatalf("%d racing uses succeeded, want %d", ok.Load(), max)
		}
	})

	run(t, "Client/TouchClient_only_moves_UsedAt_forward", open, func(t *testing.T, w *world) {
		w.client("c")
		wantErr(t, "TouchClient", w.s.TouchClient(w.ctx, "c", at(2*time.Hour)), nil)
		wantErr(t, "TouchClient(earlier)", w.s.TouchClient(w.ctx, "c", at(time.Hour)), nil)
		got, err := w.s.GetClient(w.ctx, "c")
		wantErr(t, "GetClient", err, nil)
		if !got.UsedAt.Equal(at(2 * time.Hour)) {
			t.Fatalf("UsedAt = %v, want %v", got.UsedAt, at(2*time.Hour))
		}
		wantErr(t, "TouchClient(unknown)", w.s.TouchClient(w.ctx, "nope", at(time.Hour)), store.ErrNotFound)
	})

	run(t, "Client/DeleteUnusedClients_removes_only_unused_self_registered_clients_and_what_they_hold", open, func(t *testing.T, w *world) {
		mk := func(id string, self bool, created, used time.Time) {
			c := store.Client{ID: id, Name: id, SelfRegistered: self, CreatedAt: created, UpdatedAt: created, UsedAt: used,
				RedirectURIs: []string{"https://app.example/cb"}, GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid"}}
			wantErr(t, "CreateClient("+id+")", w.s.CreateClient(w.ctx, c), nil)
		}
		mk("never-used", true, t0(), time.Time{})
		mk("used-long-ago", true, t0(), at(time.Hour))
		mk("used-recently", true, t0(), at(30*24*time.Hour))
		mk("created-recently", true, at(30*24*time.Hour), time.Time{})
		mk("operator", false, t0(), time.Time{})
		u := w.user("u")
		g := w.grant(newGrant("g", u.ID, "never-used"))
		ids, err := w.s.DeleteUnusedClients(w.ctx, at(24*time.Hour))
		wantErr(t, "DeleteUnusedClients", err, nil)
		slices.Sort(ids)
		same(t, "deleted", ids, []string{"never-used", "used-long-ago"})
		for _, id := range []string{"never-used", "used-long-ago"} {
			_, err := w.s.GetClient(w.ctx, id)
			wantErr(t, "GetClient("+id+")", err, store.ErrNotFound)
		}
		for _, id := range []string{"used-recently", "created-recently", "operator"} {
			_, err := w.s.GetClient(w.ctx, id)
			wantErr(t, "GetClient("+id+")", err, nil)
		}
		_, err = w.s.GetGrant(w.ctx, g.ID)
		wantErr(t, "GetGrant(of a deleted client)", err, store.ErrNotFound)
	})
}
