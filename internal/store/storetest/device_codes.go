package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// newDeviceCode returns a pending device code of client, valid for ten
// minutes from t0 with a five-second interval (not stored).
func newDeviceCode(hash, clientID string) store.DeviceCode {
	return store.DeviceCode{
		Hash: hash, UserCodeHash: "user-" + hash, ClientID: clientID,
		Scopes: []string{"openid", "profile"}, Resources: []string{"https://notes.example/"},
		Device: "a TV", Address: "192.0.2.7", CreatedAt: t0(), ExpiresAt: at(10 * time.Minute),
		Interval: 5 * time.Second, Status: store.DeviceCodePending,
	}
}

// deviceCode stores d and returns it.
func (w *world) deviceCode(d store.DeviceCode) store.DeviceCode {
	w.t.Helper()
	if err := w.s.CreateDeviceCode(w.ctx, d); err != nil {
		w.t.Fatalf("CreateDeviceCode(%q): %v", d.Hash, err)
	}
	return d
}

// getDeviceCode returns the stored code, failing the test if it is absent.
func (w *world) getDeviceCode(hash string) store.DeviceCode {
	w.t.Helper()
	d, err := w.s.GetDeviceCode(w.ctx, hash)
	if err != nil {
		w.t.Fatalf("GetDeviceCode(%q): %v", hash, err)
	}
	return d
}

// approval returns the approval of a device code by g's user under g.
func approval(g store.Grant) store.DeviceApproval {
	return store.DeviceApproval{UserID: g.UserID, SessionID: "sid-1", AuthTime: at(-time.Minute), Scopes: g.Scopes, Grant: g}
}

// approved stores an approved device code of grant g and returns it as stored.
func (w *world) approved(hash string, g store.Grant) store.DeviceCode {
	w.t.Helper()
	w.deviceCode(newDeviceCode(hash, g.ClientID))
	if err := w.s.ApproveDeviceCode(w.ctx, hash, at(time.Minute), approval(g)); err != nil {
		w.t.Fatalf("ApproveDeviceCode(%q): %v", hash, err)
	}
	return w.getDeviceCode(hash)
}

func testDeviceCodes(t *testing.T, open Opener) {
	run(t, "DeviceCode/round_trip_keeps_every_field", open, func(t *testing.T, w *world) {
		c, u, g := w.base()
		rich := store.DeviceCode{
			Hash: "hash-" + unicode, UserCodeHash: "user-" + unicode, ClientID: c.ID,
			Scopes: []string{"openid", "名前", big()}, Resources: []string{"https://notes.example/api?x=" + unicode, big()},
			Device: "TV " + unicode, Address: "2001:db8::1", CreatedAt: t0(), ExpiresAt: at(10*time.Minute + 7*time.Microsecond),
			Interval: 7*time.Second + time.Nanosecond, LastPollAt: at(time.Second), Status: store.DeviceCodeApproved,
			UserID: u.ID, GrantID: g.ID, SessionID: "sid-" + unicode, AuthTime: at(-time.Hour), UsedAt: at(2 * time.Minute),
		}
		bare := store.DeviceCode{Hash: "bare", UserCodeHash: "bare-user", ClientID: c.ID, ExpiresAt: at(time.Minute), Status: store.DeviceCodePending}
		for _, want := range []store.DeviceCode{rich, bare} {
			w.deviceCode(want)
			same(t, "device code", w.getDeviceCode(want.Hash), want)
		}
		// An empty status is pending.
		w.deviceCode(store.DeviceCode{Hash: "no-status", UserCodeHash: "u3", ClientID: c.ID, ExpiresAt: at(time.Minute)})
		if got := w.getDeviceCode("no-status"); got.Status != store.DeviceCodePending {
			t.Fatalf("Status = %q, want pending", got.Status)
		}
	})

	run(t, "DeviceCode/duplicate_hash_or_user_code_is_ErrConflict", open, func(t *testing.T, w *world) {
		c := w.client("c")
		first := w.deviceCode(newDeviceCode("dc", c.ID))
		sameHash := newDeviceCode("dc", c.ID)
		sameHash.UserCodeHash = "another"
		wantErr(t, "CreateDeviceCode(same hash)", w.s.CreateDeviceCode(w.ctx, sameHash), store.ErrConflict)
		sameUserCode := newDeviceCode("dc2", c.ID)
		sameUserCode.UserCodeHash = first.UserCodeHash
		wantErr(t, "CreateDeviceCode(same user code)", w.s.CreateDeviceCode(w.ctx, sameUserCode), store.ErrConflict)
		_, err := w.s.GetDeviceCode(w.ctx, "dc2")
		wantErr(t, "GetDeviceCode(refused)", err, store.ErrNotFound)
		same(t, "first code", w.getDeviceCode("dc"), first)
	})

	run(t, "DeviceCode/bad_values_are_ErrInvalid_and_nothing_stored", open, func(t *testing.T, w *world) {
		c := w.client("c")
		for name, mod := range map[string]func(d *store.DeviceCode){
			"NUL in hash":           func(d *store.DeviceCode) { d.Hash = "d\x00" },
			"NUL in user code":      func(d *store.DeviceCode) { d.UserCodeHash = "\x00" },
			"NUL in scope":          func(d *store.DeviceCode) { d.Scopes = []string{"openid", "\x00"} },
			"NUL in resource":       func(d *store.DeviceCode) { d.Resources = []string{"https://a.example/\x00"} },
			"invalid UTF-8 device":  func(d *store.DeviceCode) { d.Device = "\xed\xa0\x80" },
			"NUL in address":        func(d *store.DeviceCode) { d.Address = "\x00" },
			"64 KiB user code hash": func(d *store.DeviceCode) { d.UserCodeHash = big() },
			"no expiry":             func(d *store.DeviceCode) { d.ExpiresAt = time.Time{} },
			"unknown status":        func(d *store.DeviceCode) { d.Status = "maybe" },
		} {
			d := newDeviceCode("dc", c.ID)
			mod(&d)
			wantErr(t, "CreateDeviceCode("+name+")", w.s.CreateDeviceCode(w.ctx, d), store.ErrInvalid)
			_, err := w.s.GetDeviceCode(w.ctx, "dc")
			wantErr(t, name+": GetDeviceCode", err, store.ErrNotFound)
		}
		wantErr(t, "CreateDeviceCode(unknown client)", w.s.CreateDeviceCode(w.ctx, newDeviceCode("dc", "nope")), store.ErrNotFound)
	})

	run(t, "DeviceCode/unknown_is_ErrNotFound", open, func(t *testing.T, w *world) {
		c, _, g := w.base()
		w.deviceCode(newDeviceCode("dc", c.ID))
		for _, h := range []string{"DC", "", "nope", "dc\x00", big()} {
			_, err := w.s.GetDeviceCode(w.ctx, h)
			wantErr(t, "GetDeviceCode", err, store.ErrNotFound)
			_, err = w.s.GetDeviceCodeByUserCode(w.ctx, h, t0())
			wantErr(t, "GetDeviceCodeByUserCode", err, store.ErrNotFound)
			wantErr(t, "ApproveDeviceCode", w.s.ApproveDeviceCode(w.ctx, h, t0(), approval(g)), store.ErrNotFound)
			wantErr(t, "DenyDeviceCode", w.s.DenyDeviceCode(w.ctx, h, t0()), store.ErrNotFound)
			_, _, err = w.s.PollDeviceCode(w.ctx, h, c.ID, t0(), 0, 5*time.Second)
			wantErr(t, "PollDeviceCode", err, store.ErrNotFound)
			wantErr(t, "RedeemDeviceCode", w.s.RedeemDeviceCode(w.ctx, h, t0(), issued(g, "f", 0, 0)), store.ErrNotFound)
		}
		w.absentToken("at-0-0")
	})

	run(t, "DeviceCode/user_code_finds_only_a_pending_unexpired_code", open, func(t *testing.T, w *world) {
		c, _, g := w.base()
		pending := w.deviceCode(newDeviceCode("pending", c.ID))
		got, err := w.s.GetDeviceCodeByUserCode(w.ctx, pending.UserCodeHash, at(time.Minute))
		wantErr(t, "GetDeviceCodeByUserCode(pending)", err, nil)
		same(t, "device code", got, pending)
		_, err = w.s.GetDeviceCodeByUserCode(w.ctx, pending.UserCodeHash, pending.ExpiresAt)
		wantErr(t, "GetDeviceCodeByUserCode(at ExpiresAt)", err, store.ErrNotFound)
		approved := w.approved("approved", g)
		w.deviceCode(newDeviceCode("denied", c.ID))
		wantErr(t, "DenyDeviceCode", w.s.DenyDeviceCode(w.ctx, "denied", t0()), nil)
		for _, h := range []string{approved.UserCodeHash, "user-denied"} {
			_, err := w.s.GetDeviceCodeByUserCode(w.ctx, h, at(time.Minute))
			wantErr(t, "GetDeviceCodeByUserCode(decided)", err, store.ErrNotFound)
		}
	})

	run(t, "DeviceCode/approve_records_the_user_and_saves_the_grant", open, func(t *testing.T, w *world) {
		c := w.client("c")
		u := w.user("u")
		d := w.deviceCode(newDeviceCode("dc", c.ID))
		g := newGrant("g", u.ID, c.ID)
		g.ExpiresAt = at(24 * time.Hour)
		a := approval(g)
		a.Scopes = []string{"openid"}
		a.SessionID, a.AuthTime = "sid-"+unicode, at(-time.Hour)
		wantErr(t, "ApproveDeviceCode", w.s.ApproveDeviceCode(w.ctx, d.Hash, at(time.Minute), a), nil)
		d.Status, d.UserID, d.GrantID, d.SessionID, d.AuthTime, d.Scopes = store.DeviceCodeApproved, u.ID, g.ID, a.SessionID, a.AuthTime, a.Scopes
		same(t, "approved code", w.getDeviceCode(d.Hash), d)
		gotG, err := w.s.GetGrant(w.ctx, g.ID)
		wantErr(t, "GetGrant", err, nil)
		same(t, "grant", gotG, g)

		// A second code of the same user and app extends that grant.
		w.deviceCode(newDeviceCode("dc2", c.ID))
		wider := g
		wider.Scopes, wider.ExpiresAt = []string{"openid", "profile", "notes.read"}, time.Time{}
		wantErr(t, "ApproveDeviceCode(extend)", w.s.ApproveDeviceCode(w.ctx, "dc2", at(time.Minute), approval(wider)), nil)
		gotG, _ = w.s.GetGrant(w.ctx, g.ID)
		same(t, "extended grant", gotG, wider)
		// Another grant of the same user and app is refused.
		w.deviceCode(newDeviceCode("dc3", c.ID))
		wantErr(t, "ApproveDeviceCode(another grant)", w.s.ApproveDeviceCode(w.ctx, "dc3", at(time.Minute), approval(newGrant("other", u.ID, c.ID))), store.ErrConflict)
		if got := w.getDeviceCode("dc3"); got.Status != store.DeviceCodePending || got.UserID != "" {
			t.Fatalf("a refused approval changed the code: %+v", got)
		}
		if list, _ := w.s.ListGrantsByUser(w.ctx, u.ID); len(list) != 1 {
			t.Fatalf("user has %d grants, want 1", len(list))
		}
	})

	run(t, "DeviceCode/approve_that_fails_writes_nothing_and_leaves_the_code_pending", open, func(t *testing.T, w *world) {
		c, u, g := w.base()
		other := w.client("other")
		w.deviceCode(newDeviceCode("dc", c.ID))
		revoked := w.grant(newGrant("revoked", u.ID, w.client("c-revoked").ID))
		wantErr(t, "RevokeGrant", w.s.RevokeGrant(w.ctx, revoked.ID, t0()), nil)
		w.deviceCode(newDeviceCode("dc-revoked", revoked.ClientID))
		foreign := newGrant("g-foreign", u.ID, other.ID)
		stranger := newGrant("g-stranger", "u2", c.ID)
		mismatch := approval(newGrant("g-x", u.ID, c.ID))
		mismatch.UserID = "somebody"
		for name, tc := range map[string]struct {
			hash string
			a    store.DeviceApproval
			want error
		}{
			"revoked grant":          {"dc-revoked", approval(revoked), store.ErrAlreadyUsed},
			"grant of another app":   {"dc", approval(foreign), store.ErrInvalid},
			"grant of unknown user":  {"dc", approval(stranger), store.ErrNotFound},
			"grant of another user":  {"dc", mismatch, store.ErrInvalid},
			"NUL in scope":           {"dc", store.DeviceApproval{UserID: u.ID, Scopes: []string{"\x00"}, Grant: g}, store.ErrInvalid},
			"NUL in session id":      {"dc", store.DeviceApproval{UserID: u.ID, SessionID: "\x00", Grant: g}, store.ErrInvalid},
			"invalid UTF-8 in grant": {"dc", approval(newGrant("\xff", u.ID, c.ID)), store.ErrInvalid},
		} {
			before := w.getDeviceCode(tc.hash)
			wantErr(t, "ApproveDeviceCode("+name+")", w.s.ApproveDeviceCode(w.ctx, tc.hash, at(time.Minute), tc.a), tc.want)
			same(t, name+": code after the refused approval", w.getDeviceCode(tc.hash), before)
			if tc.a.Grant.ID != g.ID && tc.a.Grant.ID != revoked.ID {
				_, err := w.s.GetGrant(w.ctx, tc.a.Grant.ID)
				wantErr(t, name+": GetGrant(not written)", err, store.ErrNotFound)
			}
		}
		gotRevoked, _ := w.s.GetGrant(w.ctx, revoked.ID)
		if gotRevoked.RevokedAt.IsZero() {
			t.Fatal("an approval revived a revoked grant")
		}
		wantErr(t, "ApproveDeviceCode(valid, after the failures)", w.s.ApproveDeviceCode(w.ctx, "dc", at(time.Minute), approval(g)), nil)
	})

	run(t, "DeviceCode/a_decided_or_expired_code_cannot_be_decided_again", open, func(t *testing.T, w *world) {
		c, _, g := w.base()
		w.approved("approved", g)
		w.deviceCode(newDeviceCode("denied", c.ID))
		wantErr(t, "DenyDeviceCode", w.s.DenyDeviceCode(w.ctx, "denied", at(time.Minute)), nil)
		if got := w.getDeviceCode("denied"); got.Status != store.DeviceCodeDenied {
			t.Fatalf("Status = %q, want denied", got.Status)
		}
		expiring := w.deviceCode(newDeviceCode("expiring", c.ID))
		for _, tc := range []struct {
			hash string
			now  time.Time
		}{{"approved", at(time.Minute)}, {"denied", at(time.Minute)}, {"expiring", expiring.ExpiresAt}} {
			before := w.getDeviceCode(tc.hash)
			wantErr(t, "ApproveDeviceCode("+tc.hash+")", w.s.ApproveDeviceCode(w.ctx, tc.hash, tc.now, approval(g)), store.ErrAlreadyUsed)
			wantErr(t, "DenyDeviceCode("+tc.hash+")", w.s.DenyDeviceCode(w.ctx, tc.hash, tc.now), store.ErrAlreadyUsed)
			same(t, tc.hash+" after refused decisions", w.getDeviceCode(tc.hash), before)
		}
		wantErr(t, "DenyDeviceCode(just before ExpiresAt)", w.s.DenyDeviceCode(w.ctx, "expiring", expiring.ExpiresAt.Add(-time.Microsecond)), nil)
	})

	run(t, "DeviceCode/poll_records_the_time_and_slows_down_a_device_that_polls_too_soon", open, func(t *testing.T, w *world) {
		c, _, g := w.base()
		d := w.deviceCode(newDeviceCode("dc", c.ID))
		const slack, step = time.Second, 5 * time.Second
		s := func(d time.Duration) time.Time { return at(d * time.Second) }
		for i, tc := range []struct {
			now          time.Time
			tooSoon      bool
			wantInterval time.Duration
		}{
			{s(1), false, 5 * time.Second},                        // the first poll
			{s(6), false, 5 * time.Second},                        // after the interval
			{s(10), false, 5 * time.Second},                       // early, within the slack
			{s(13), true, 10 * time.Second},                       // too soon: +5 s
			{s(21), true, 15 * time.Second},                       // too soon for the new interval
			{s(35), false, 15 * time.Second},                      // waited it (less the slack)
			{s(49), false, 15 * time.Second},                      // and again
			{s(49).Add(time.Microsecond), true, 20 * time.Second}, // hammering
		} {
			got, tooSoon, err := w.s.PollDeviceCode(w.ctx, d.Hash, c.ID, tc.now, slack, step)
			wantErr(t, fmt.Sprintf("poll %d", i), err, nil)
			if tooSoon != tc.tooSoon || got.Interval != tc.wantInterval || !got.LastPollAt.Equal(tc.now) {
				t.Fatalf("poll %d at %v: too soon %v, interval %v, last poll %v; want %v, %v, %v",
					i, tc.now, tooSoon, got.Interval, got.LastPollAt, tc.tooSoon, tc.wantInterval, tc.now)
			}
			same(t, fmt.Sprintf("poll %d: stored code", i), w.getDeviceCode(d.Hash), got)
		}
		// Another client's poll is ErrNotFound and changes nothing.
		other := w.client("other")
		before := w.getDeviceCode(d.Hash)
		_, _, err := w.s.PollDeviceCode(w.ctx, d.Hash, other.ID, at(time.Minute), slack, step)
		wantErr(t, "PollDeviceCode(another client)", err, store.ErrNotFound)
		same(t, "code after another client's poll", w.getDeviceCode(d.Hash), before)

		// A decided code is never too soon: the device learns the answer.
		a := w.approved("approved", g)
		for i := range 3 {
			got, tooSoon, err := w.s.PollDeviceCode(w.ctx, a.Hash, c.ID, at(time.Minute), slack, step)
			wantErr(t, "PollDeviceCode(approved)", err, nil)
			if tooSoon || got.Interval != a.Interval || got.Status != store.DeviceCodeApproved {
				t.Fatalf("poll %d of an approved code: too soon %v, %+v", i, tooSoon, got)
			}
		}
	})

	run(t, "DeviceCode/concurrent_polls_are_judged_one_after_another", open, func(t *testing.T, w *world) {
		c := w.client("c")
		d := w.deviceCode(newDeviceCode("dc", c.ID))
		const goroutines = 16
		soon := make([]bool, goroutines)
		errs := race(goroutines, func(i int) error {
			var err error
			_, soon[i], err = w.s.PollDeviceCode(w.ctx, d.Hash, c.ID, at(time.Second), 0, 5*time.Second)
			return err
		})
		n := 0
		for i, err := range errs {
			wantErr(t, fmt.Sprintf("poll %d", i), err, nil)
			if soon[i] {
				n++
			}
		}
		// The first poll is on time; each other one came at once after it.
		if n != goroutines-1 {
			t.Fatalf("%d of %d simultaneous polls too soon, want %d", n, goroutines, goroutines-1)
		}
		if got := w.getDeviceCode(d.Hash); got.Interval != d.Interval+(goroutines-1)*5*time.Second {
			t.Fatalf("interval %v after %d polls too soon, want %v", got.Interval, n, d.Interval+(goroutines-1)*5*time.Second)
		}
	})

	run(t, "DeviceCode/redeem_marks_it_used_keeps_the_row_and_stores_the_tokens", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		d := w.approved("dc", g)
		now := at(2 * time.Minute)
		toks := issued(g, "family", 0, 0)
		wantErr(t, "RedeemDeviceCode", w.s.RedeemDeviceCode(w.ctx, d.Hash, now, toks), nil)
		d.UsedAt = now
		same(t, "redeemed code", w.getDeviceCode(d.Hash), d)
		for _, want := range toks {
			same(t, "issued token", w.token(want.Hash), want)
		}
		wantErr(t, "RedeemDeviceCode(again)", w.s.RedeemDeviceCode(w.ctx, d.Hash, now, issued(g, "f", 1, 0)), store.ErrAlreadyUsed)
		w.absentToken("at-1-0")
	})

	run(t, "DeviceCode/redeem_of_an_undecided_denied_expired_or_revoked_code_is_ErrAlreadyUsed_and_writes_nothing", open, func(t *testing.T, w *world) {
		c, u, g := w.base()
		w.deviceCode(newDeviceCode("pending", c.ID))
		w.deviceCode(newDeviceCode("denied", c.ID))
		wantErr(t, "DenyDeviceCode", w.s.DenyDeviceCode(w.ctx, "denied", t0()), nil)
		expired := w.approved("expired", g)
		revokedGrant := w.grant(newGrant("revoked", u.ID, w.client("c-revoked").ID))
		w.approved("of-revoked", revokedGrant)
		wantErr(t, "RevokeGrant", w.s.RevokeGrant(w.ctx, revokedGrant.ID, at(time.Minute)), nil)
		expiringGrant := newGrant("expiring", u.ID, w.client("c-expiring").ID)
		expiringGrant.ExpiresAt = at(2 * time.Minute)
		w.grant(expiringGrant)
		w.approved("of-expired", expiringGrant)
		for i, tc := range []struct {
			hash string
			now  time.Time
		}{
			{"pending", at(time.Minute)},
			{"denied", at(time.Minute)},
			{"expired", expired.ExpiresAt},
			{"of-revoked", at(2 * time.Minute)},
			{"of-expired", at(2 * time.Minute)},
		} {
			before := w.getDeviceCode(tc.hash)
			wantErr(t, "RedeemDeviceCode("+tc.hash+")", w.s.RedeemDeviceCode(w.ctx, tc.hash, tc.now, issued(g, "f", 1, i)), store.ErrAlreadyUsed)
			w.absentToken(fmt.Sprintf("at-1-%d", i))
			w.absentToken(fmt.Sprintf("rt-1-%d", i))
			same(t, tc.hash+": code after the refused redemption", w.getDeviceCode(tc.hash), before)
		}
	})

	run(t, "DeviceCode/redeem_that_fails_writes_nothing_and_leaves_the_code_unused", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		w.approved("dc", g)
		w.tokens(newToken("taken", store.KindAccess, "other", g))
		for name, tc := range map[string]struct {
			toks []store.Token
			want error
		}{
			"duplicate token hash": {[]store.Token{newToken("fresh", store.KindRefresh, "f", g), newToken("taken", store.KindAccess, "f", g)}, store.ErrConflict},
			"NUL in token":         {[]store.Token{newToken("fresh", store.KindRefresh, "f\x00", g)}, store.ErrInvalid},
		} {
			wantErr(t, "RedeemDeviceCode("+name+")", w.s.RedeemDeviceCode(w.ctx, "dc", at(2*time.Minute), tc.toks), tc.want)
			w.absentToken("fresh")
			if got := w.getDeviceCode("dc"); !got.UsedAt.IsZero() {
				t.Fatalf("%s: the code was used up by a failed redemption", name)
			}
		}
		wantErr(t, "RedeemDeviceCode(valid, after the failures)", w.s.RedeemDeviceCode(w.ctx, "dc", at(2*time.Minute), issued(g, "f", 0, 0)), nil)
	})

	run(t, "DeviceCode/concurrent_redemptions_have_exactly_one_winner", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		const goroutines, iterations = 32, 10
		for it := range iterations {
			d := w.approved(fmt.Sprintf("dc-%d", it), g)
			errs := race(goroutines, func(i int) error {
				return w.s.RedeemDeviceCode(w.ctx, d.Hash, at(2*time.Minute), issued(g, fmt.Sprintf("f-%d-%d", it, i), it, i))
			})
			winner := oneWinner(t, fmt.Sprintf("iteration %d", it), errs)
			for i := range goroutines {
				for _, tok := range issued(g, "", it, i) {
					_, err := w.s.GetToken(w.ctx, tok.Hash)
					if i == winner {
						wantErr(t, "GetToken(winner's)", err, nil)
					} else {
						wantErr(t, "GetToken(loser's)", err, store.ErrNotFound)
					}
				}
			}
			if got := w.getDeviceCode(d.Hash); !got.UsedAt.Equal(at(2 * time.Minute)) {
				t.Fatalf("iteration %d: UsedAt = %v", it, got.UsedAt)
			}
		}
	})

	run(t, "DeviceCode/approve_and_deny_race_has_exactly_one_winner", open, func(t *testing.T, w *world) {
		c := w.client("c")
		const goroutines, iterations = 16, 10
		for it := range iterations {
			// One user per iteration: a user has one grant per app.
			u := w.user(fmt.Sprintf("u%d", it))
			d := w.deviceCode(newDeviceCode(fmt.Sprintf("dc-%d", it), c.ID))
			grants := make([]store.Grant, goroutines)
			for i := range grants {
				grants[i] = newGrant(fmt.Sprintf("g-%d-%d", it, i), u.ID, c.ID)
			}
			errs := race(goroutines, func(i int) error {
				if i%2 == 1 {
					return w.s.DenyDeviceCode(w.ctx, d.Hash, at(time.Minute))
				}
				return w.s.ApproveDeviceCode(w.ctx, d.Hash, at(time.Minute), approval(grants[i]))
			})
			winner := oneWinner(t, fmt.Sprintf("iteration %d", it), errs)
			got := w.getDeviceCode(d.Hash)
			wantStatus := store.DeviceCodeDenied
			if winner%2 == 0 {
				wantStatus = store.DeviceCodeApproved
			}
			if got.Status != wantStatus {
				t.Fatalf("iteration %d: goroutine %d won, Status = %q, want %q", it, winner, got.Status, wantStatus)
			}
			for i, g := range grants {
				_, err := w.s.GetGrant(w.ctx, g.ID)
				if i == winner && wantStatus == store.DeviceCodeApproved {
					wantErr(t, "GetGrant(winner's)", err, nil)
					if got.GrantID != g.ID {
						t.Fatalf("iteration %d: GrantID = %q, want %q", it, got.GrantID, g.ID)
					}
				} else {
					wantErr(t, "GetGrant(loser's)", err, store.ErrNotFound)
				}
			}
		}
	})

	run(t, "DeviceCode/long_expired_codes_are_purged_as_new_ones_are_written", open, func(t *testing.T, w *world) {
		c := w.client("c")
		for i := range 100 {
			w.deviceCode(newDeviceCode(fmt.Sprintf("old-%d", i), c.ID)) // expire at t0+10m
		}
		// Within a day of its expiry a code is kept (a late poll learns
		// expired_token); past that, new codes push the old ones out.
		for i := range 64 {
			d := newDeviceCode(fmt.Sprintf("recent-%d", i), c.ID)
			d.CreatedAt, d.ExpiresAt = at(12*time.Hour), at(12*time.Hour+10*time.Minute)
			w.deviceCode(d)
		}
		w.getDeviceCode("old-0")
		for i := range 128 {
			d := newDeviceCode(fmt.Sprintf("new-%d", i), c.ID)
			d.CreatedAt, d.ExpiresAt = at(25*time.Hour), at(25*time.Hour+10*time.Minute)
			w.deviceCode(d)
		}
		for i := range 100 {
			if _, err := w.s.GetDeviceCode(w.ctx, fmt.Sprintf("old-%d", i)); err == nil {
				t.Fatalf("old-%d, expired over a day ago, was not purged", i)
			}
		}
		w.getDeviceCode("recent-0")
		w.getDeviceCode("new-0")
	})

	run(t, "DeviceCode/deleting_the_client_or_user_removes_its_codes", open, func(t *testing.T, w *world) {
		_, u, g := w.base()
		w.approved("of-user", g)
		other := w.client("other")
		w.deviceCode(newDeviceCode("of-client", other.ID))
		wantErr(t, "DeleteUser", w.s.DeleteUser(w.ctx, u.ID), nil)
		wantErr(t, "DeleteClient", w.s.DeleteClient(w.ctx, other.ID), nil)
		for _, h := range []string{"of-user", "of-client"} {
			_, err := w.s.GetDeviceCode(w.ctx, h)
			wantErr(t, "GetDeviceCode("+h+")", err, store.ErrNotFound)
		}
	})
}
