package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func testDevices(t *testing.T, open Opener) {
	run(t, "Device/each_family_with_an_active_token_is_a_device_newest_use_first", open, func(t *testing.T, w *world) {
		c, u, g := w.base()
		other := w.user("other")
		og := w.grant(newGrant("og", other.ID, c.ID))
		tok := func(hash, kind, family string, g store.Grant, created time.Time, mod func(*store.Token)) store.Token {
			t := newToken(hash, kind, family, g)
			t.CreatedAt, t.ExpiresAt = created, created.Add(24*time.Hour)
			if mod != nil {
				mod(&t)
			}
			return t
		}
		rotated := func(t *store.Token) { t.RotatedAt = t.CreatedAt.Add(time.Hour) }
		w.tokens(
			// The phone: began at t0, refreshed an hour later from elsewhere.
			tok("rt-phone-1", store.KindRefresh, "phone", g, t0(), func(t *store.Token) {
				rotated(t)
				t.Device, t.Address = "Notes on Android", "198.51.100.1"
			}),
			tok("rt-phone-2", store.KindRefresh, "phone", g, at(time.Hour), func(t *store.Token) { t.Device, t.Address = "Notes on Android", "198.51.100.2" }),
			tok("at-phone-2", store.KindAccess, "phone", g, at(time.Hour), func(t *store.Token) { t.Device, t.Address = "Notes on Android", "198.51.100.2" }),
			// The TV: began half an hour in.
			tok("rt-tv", store.KindRefresh, "tv", g, at(30*time.Minute), func(t *store.Token) { t.Device = "TV" }),
			// Signed out, expired, only rotated: not devices.
			tok("rt-out", store.KindRefresh, "signed-out", g, at(2*time.Hour), func(t *store.Token) { t.RevokedAt = at(3 * time.Hour) }),
			tok("rt-old", store.KindRefresh, "expired", g, at(-48*time.Hour), nil),
			tok("rt-spent", store.KindRefresh, "spent", g, at(time.Hour), rotated),
			// Another user's, and a client's own token.
			tok("rt-theirs", store.KindRefresh, "theirs", og, at(time.Hour), nil),
			store.Token{Hash: "cc", Kind: store.KindAccess, ClientID: c.ID, CreatedAt: at(time.Hour), ExpiresAt: at(25 * time.Hour)},
		)
		got, err := w.s.ListDevices(w.ctx, u.ID, at(4*time.Hour))
		wantErr(t, "ListDevices", err, nil)
		want := []store.Device{
			{FamilyID: "phone", GrantID: g.ID, ClientID: c.ID, Description: "Notes on Android", Address: "198.51.100.2", StartedAt: t0(), LastUsedAt: at(time.Hour)},
			{FamilyID: "tv", GrantID: g.ID, ClientID: c.ID, Description: "TV", StartedAt: at(30 * time.Minute), LastUsedAt: at(30 * time.Minute)},
		}
		same(t, "devices", got, want)

		// Signing the TV out leaves the phone.
		if _, err := w.s.RevokeFamily(w.ctx, "tv", at(4*time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, err = w.s.ListDevices(w.ctx, u.ID, at(4*time.Hour))
		wantErr(t, "ListDevices", err, nil)
		same(t, "devices after signing the TV out", got, want[:1])
		// Revoking the app leaves none.
		wantErr(t, "RevokeGrant", w.s.RevokeGrant(w.ctx, g.ID, at(4*time.Hour)), nil)
		got, err = w.s.ListDevices(w.ctx, u.ID, at(4*time.Hour))
		wantErr(t, "ListDevices", err, nil)
		if len(got) != 0 {
			t.Fatalf("devices after revoking the app: %+v", got)
		}
		got, err = w.s.ListDevices(w.ctx, "nobody", t0())
		if err != nil || len(got) != 0 {
			t.Fatalf("an unknown user's devices: %+v, %v", got, err)
		}
	})
}
