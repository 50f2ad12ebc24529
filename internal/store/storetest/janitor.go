package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// purge runs PurgeExpired with rows expired at expired and activity older
// than activity, a batch of batch rows per statement, and returns the
// rows it deleted per table.
func (w *world) purge(expired, activity time.Time, batch int) map[string]int64 {
	w.t.Helper()
	p, err := w.s.PurgeExpired(w.ctx, store.Purge{Expired: expired, Activity: activity, Batch: batch})
	if err != nil {
		w.t.Fatalf("PurgeExpired: %v", err)
	}
	if p.Skipped {
		w.t.Fatalf("PurgeExpired skipped its run: no other janitor runs on this database")
	}
	return p.Rows
}

// gone fails the test unless get reports ErrNotFound.
func gone(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s = %v after the purge, want ErrNotFound (deleted)", what, err)
	}
}

// kept fails the test unless get found the row.
func kept(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s = %v after the purge, want the row kept", what, err)
	}
}

func testJanitor(t *testing.T, open Opener) {
	run(t, "Janitor/expired_rows_of_every_table_go_and_unexpired_ones_stay", open, func(t *testing.T, w *world) {
		c, u, g := w.base()
		later := at(72 * time.Hour) // after the purge's cutoff, at(48h)

		// Tokens: expired ones without a live family go, unexpired stay,
		// revoked or not.
		expiredAT := newToken("at-expired", store.KindAccess, "", g)
		expiredRT := newToken("rt-expired", store.KindRefresh, "fam-dead", g)
		ccToken := store.Token{Hash: "cc-expired", Kind: store.KindAccess, ClientID: c.ID, CreatedAt: t0(), ExpiresAt: at(time.Hour)}
		deniedJTI := store.Token{Hash: "jti-denied", Kind: store.KindAccess, ClientID: c.ID, CreatedAt: t0(), ExpiresAt: later, RevokedAt: t0()}
		liveRT := newToken("rt-live", store.KindRefresh, "fam-live", g)
		liveRT.ExpiresAt = later
		w.tokens(expiredAT, expiredRT, ccToken, deniedJTI, liveRT)

		// Codes: an expired unused one goes, an unexpired one stays.
		w.code(newCode("code-expired", g))
		liveCode := newCode("code-live", g)
		liveCode.ExpiresAt = later
		w.code(liveCode)

		// Device codes: kept a day past their expiry.
		w.deviceCode(newDeviceCode("dc-old", c.ID)) // expired at t0+10m
		recent := newDeviceCode("dc-recent", c.ID)
		recent.CreatedAt, recent.ExpiresAt = at(40*time.Hour), at(40*time.Hour+10*time.Minute)
		w.deviceCode(recent)

		// Authorization requests (w.base made some, expiring at t0+10m).
		old := w.authRequest(c.ID)
		liveReq := richAuthRequest("ar-live", c.ID, "")
		liveReq.ExpiresAt = later
		if err := w.s.CreateAuthRequest(w.ctx, liveReq); err != nil {
			t.Fatalf("CreateAuthRequest: %v", err)
		}

		// Pushed requests: expired ones go, used or not.
		wantErr(t, "CreatePushedRequest", w.s.CreatePushedRequest(w.ctx, newPushed("ru-old", c.ID)), nil)
		wantErr(t, "CreatePushedRequest", w.s.CreatePushedRequest(w.ctx, newPushed("ru-used", c.ID)), nil)
		if _, err := w.s.ConsumePushedRequest(w.ctx, "ru-used", c.ID, t0()); err != nil {
			t.Fatalf("ConsumePushedRequest: %v", err)
		}
		livePushed := newPushed("ru-live", c.ID)
		livePushed.ExpiresAt = later
		wantErr(t, "CreatePushedRequest", w.s.CreatePushedRequest(w.ctx, livePushed), nil)

		// Sessions, with a client signed in to.
		w.session("sess-old", u.ID) // expires at t0+8h
		if err := w.s.AddSessionClient(w.ctx, "sess-old", c.ID, t0()); err != nil {
			t.Fatalf("AddSessionClient: %v", err)
		}
		liveSess := store.Session{Hash: "sess-live", ID: "sid-live", UserID: u.ID, CreatedAt: t0(), ExpiresAt: later, LastSeenAt: t0()}
		if err := w.s.CreateSession(w.ctx, liveSess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}

		// Replay records.
		wantErr(t, "UseOnce", w.s.UseOnce(w.ctx, "s", "old", at(time.Hour), t0()), nil)
		wantErr(t, "UseOnce", w.s.UseOnce(w.ctx, "s", "live", later, t0()), nil)

		// Activity: older than the retention cutoff (at(24h)) goes.
		wantErr(t, "AddActivity", w.s.AddActivity(w.ctx, []store.Activity{
			{UserID: u.ID, ClientID: c.ID, Kind: store.ActivityIssued, At: t0()},
			{UserID: u.ID, ClientID: c.ID, Kind: store.ActivityRefreshed, At: at(47 * time.Hour)},
		}), nil)

		rows := w.purge(at(48*time.Hour), at(24*time.Hour), 0)
		for table, least := range map[string]int64{"tokens": 3, "codes": 1, "device_codes": 1, "auth_requests": 2,
			"pushed_requests": 2, "sessions": 1, "replay": 1, "activity": 1} {
			if rows[table] < least {
				t.Errorf("purge deleted %d rows of %s, want at least %d (all: %v)", rows[table], table, least, rows)
			}
		}
		for _, h := range []string{"at-expired", "rt-expired", "cc-expired"} {
			_, err := w.s.GetToken(w.ctx, h)
			gone(t, "GetToken("+h+")", err)
		}
		for _, h := range []string{"jti-denied", "rt-live"} {
			_, err := w.s.GetToken(w.ctx, h)
			kept(t, "GetToken("+h+")", err)
		}
		_, err := w.s.GetCode(w.ctx, "code-expired")
		gone(t, "GetCode(code-expired)", err)
		_, err = w.s.GetCode(w.ctx, "code-live")
		kept(t, "GetCode(code-live)", err)
		_, err = w.s.GetDeviceCode(w.ctx, "dc-old")
		gone(t, "GetDeviceCode(dc-old)", err)
		_, err = w.s.GetDeviceCode(w.ctx, "dc-recent")
		kept(t, "GetDeviceCode(dc-recent), expired less than a day ago", err)
		_, err = w.s.GetAuthRequest(w.ctx, old.ID)
		gone(t, "GetAuthRequest(old)", err)
		_, err = w.s.GetAuthRequest(w.ctx, liveReq.ID)
		kept(t, "GetAuthRequest(live)", err)
		for _, h := range []string{"ru-old", "ru-used"} {
			_, err = w.s.ConsumePushedRequest(w.ctx, h, c.ID, at(48*time.Hour))
			gone(t, "ConsumePushedRequest("+h+")", err)
		}
		_, err = w.s.ConsumePushedRequest(w.ctx, "ru-live", c.ID, at(48*time.Hour))
		kept(t, "ConsumePushedRequest(ru-live)", err)
		_, err = w.s.GetSession(w.ctx, "sess-live", at(48*time.Hour))
		kept(t, "GetSession(sess-live)", err)
		// An expired session is gone, not merely expired: a new one with
		// its hash and sid can be created.
		again := store.Session{Hash: "sess-old", ID: "sid-sess-old", UserID: u.ID, CreatedAt: t0(), ExpiresAt: later}
		wantErr(t, "CreateSession(the purged session's hash and sid)", w.s.CreateSession(w.ctx, again), nil)
		// The replay record of "old" is gone (and could be used again
		// anyway); "live" is still remembered.
		wantErr(t, "UseOnce(live) again", w.s.UseOnce(w.ctx, "s", "live", later, at(48*time.Hour)), store.ErrAlreadyUsed)
		acts, err := w.s.ListActivity(w.ctx, u.ID, 10)
		wantErr(t, "ListActivity", err, nil)
		if len(acts) != 1 || acts[0].Kind != store.ActivityRefreshed {
			t.Fatalf("activity after the purge = %+v, want only the entry younger than the retention", acts)
		}
		// Grants are never purged (remembered consent), nor users, clients.
		_, err = w.s.GetGrant(w.ctx, g.ID)
		kept(t, "GetGrant", err)

		// A second run finds nothing more.
		if again := w.purge(at(48*time.Hour), at(24*time.Hour), 0); total(again) != 0 {
			t.Fatalf("a second purge deleted %v, want nothing", again)
		}
	})

	run(t, "Janitor/zero_cutoff_is_refused_and_zero_activity_cutoff_keeps_activity", open, func(t *testing.T, w *world) {
		_, err := w.s.PurgeExpired(w.ctx, store.Purge{})
		wantErr(t, "PurgeExpired(zero time)", err, store.ErrInvalid)
		_, u, _ := w.base()
		wantErr(t, "AddActivity", w.s.AddActivity(w.ctx, []store.Activity{{UserID: u.ID, Kind: store.ActivitySignedIn, At: t0()}}), nil)
		w.purge(at(1000*time.Hour), time.Time{}, 0)
		if acts, _ := w.s.ListActivity(w.ctx, u.ID, 10); len(acts) != 1 {
			t.Fatalf("activity = %+v after a purge without an activity cutoff, want it kept", acts)
		}
	})

	run(t, "Janitor/RFC9700_4.14.2/rotated_refresh_token_of_a_live_family_stays_and_its_reuse_still_revokes_the_family", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		rt1 := newToken("rt-1", store.KindRefresh, "fam", g) // expires at t0+1h
		at1 := newToken("at-1", store.KindAccess, "fam", g)
		at1.ExpiresAt = at(10 * time.Minute)
		w.tokens(rt1, at1)
		rt2 := newToken("rt-2", store.KindRefresh, "fam", g)
		rt2.CreatedAt, rt2.ExpiresAt = at(30*time.Minute), at(100*time.Hour)
		wantErr(t, "RotateRefreshToken", w.s.RotateRefreshToken(w.ctx, "rt-1", at(30*time.Minute), []store.Token{rt2}), nil)

		// rt-1 expired at t0+1h, but its family lives until t0+100h.
		w.purge(at(2*time.Hour), time.Time{}, 0)
		old := w.token("rt-1")
		if old.RotatedAt.IsZero() {
			t.Fatalf("rt-1 kept without its rotation: %+v", old)
		}
		_, err := w.s.GetToken(w.ctx, "at-1")
		gone(t, "GetToken(at-1), an expired access token", err)

		// Reuse detection still works: presenting rt-1 again is refused
		// as used, and revoking its family reaches rt-2.
		wantErr(t, "RotateRefreshToken(rt-1) again", w.s.RotateRefreshToken(w.ctx, "rt-1", at(3*time.Hour), nil), store.ErrAlreadyUsed)
		n, err := w.s.RevokeFamily(w.ctx, old.FamilyID, at(3*time.Hour))
		wantErr(t, "RevokeFamily", err, nil)
		if n != 2 || w.token("rt-2").RevokedAt.IsZero() {
			t.Fatalf("RevokeFamily after the purge revoked %d tokens, want rt-1 and rt-2", n)
		}
		// Revoked but unexpired: still kept.
		w.purge(at(4*time.Hour), time.Time{}, 0)
		w.token("rt-1")
		w.token("rt-2")

		// Once the family's newest token expired, the whole family goes.
		w.purge(at(101*time.Hour), time.Time{}, 0)
		for _, h := range []string{"rt-1", "rt-2"} {
			_, err := w.s.GetToken(w.ctx, h)
			gone(t, "GetToken("+h+") after its family expired", err)
		}
	})

	run(t, "Janitor/RFC6749_4.1.2/redeemed_code_stays_while_its_family_has_unexpired_tokens", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		w.code(newCode("code-used", g)) // expires at t0+5m
		rt := newToken("rt-of-code", store.KindRefresh, "code-used", g)
		rt.ExpiresAt = at(100 * time.Hour)
		at1 := newToken("at-of-code", store.KindAccess, "code-used", g) // expires at t0+1h
		wantErr(t, "RedeemCode", w.s.RedeemCode(w.ctx, "code-used", at(time.Minute), []store.Token{at1, rt}), nil)
		w.code(newCode("code-unused", g))

		// A device code redeemed, its family alive: kept past its day too.
		w.approved("dc-used", g)
		dcRT := newToken("rt-of-device", store.KindRefresh, "dc-used", g)
		dcRT.ExpiresAt = at(100 * time.Hour)
		wantErr(t, "RedeemDeviceCode", w.s.RedeemDeviceCode(w.ctx, "dc-used", at(2*time.Minute), []store.Token{dcRT}), nil)

		w.purge(at(50*time.Hour), time.Time{}, 0)
		c, err := w.s.GetCode(w.ctx, "code-used")
		kept(t, "GetCode(code-used) while its refresh token lives", err)
		if c.UsedAt.IsZero() {
			t.Fatalf("code-used kept without its redemption: %+v", c)
		}
		_, err = w.s.GetCode(w.ctx, "code-unused")
		gone(t, "GetCode(code-unused), expired unredeemed", err)
		_, err = w.s.GetDeviceCode(w.ctx, "dc-used")
		kept(t, "GetDeviceCode(dc-used) while its refresh token lives", err)
		// Replay still finds what the code issued.
		wantErr(t, "RedeemCode(code-used) again", w.s.RedeemCode(w.ctx, "code-used", at(50*time.Hour), nil), store.ErrAlreadyUsed)
		if n, err := w.s.RevokeFamily(w.ctx, c.Hash, at(50*time.Hour)); err != nil || n != 1 {
			t.Fatalf("RevokeFamily(code's family) = %d, %v, want its refresh token revoked", n, err)
		}

		w.purge(at(101*time.Hour), time.Time{}, 0)
		_, err = w.s.GetCode(w.ctx, "code-used")
		gone(t, "GetCode(code-used) once its family expired", err)
		_, err = w.s.GetDeviceCode(w.ctx, "dc-used")
		gone(t, "GetDeviceCode(dc-used) once its family expired", err)
	})

	run(t, "Janitor/each_statement_deletes_at_most_a_batch_and_the_run_deletes_every_eligible_row", open, func(t *testing.T, w *world) {
		_, u, g := w.base()
		// 25 expired access tokens interleaved with 25 expired rotated
		// refresh tokens of a live family, which stay; a batch of 10 walks
		// past the kept rows.
		var ts []store.Token
		for i := range 25 {
			a := newToken(fmt.Sprintf("at-%02d", i), store.KindAccess, "", g)
			a.ExpiresAt = at(time.Duration(2*i) * time.Minute)
			r := newToken(fmt.Sprintf("rt-%02d", i), store.KindRefresh, "fam", g)
			r.ExpiresAt, r.RotatedAt = at(time.Duration(2*i+1)*time.Minute), at(time.Duration(2*i)*time.Minute)
			ts = append(ts, a, r)
		}
		head := newToken("rt-head", store.KindRefresh, "fam", g)
		head.ExpiresAt = at(100 * time.Hour)
		w.tokens(append(ts, head)...)
		// 25 expired sessions sharing one expiry.
		for i := range 25 {
			s := store.Session{Hash: fmt.Sprintf("s-%02d", i), ID: fmt.Sprintf("sid-%02d", i), UserID: u.ID, CreatedAt: t0(), ExpiresAt: at(time.Hour)}
			wantErr(t, "CreateSession", w.s.CreateSession(w.ctx, s), nil)
		}
		rows := w.purge(at(2*time.Hour), time.Time{}, 10)
		if rows["tokens"] != 25 || rows["sessions"] != 25 {
			t.Fatalf("purge with batch 10 deleted %v, want 25 tokens and 25 sessions", rows)
		}
		for i := range 25 {
			_, err := w.s.GetToken(w.ctx, fmt.Sprintf("at-%02d", i))
			gone(t, fmt.Sprintf("GetToken(at-%02d)", i), err)
			w.token(fmt.Sprintf("rt-%02d", i))
		}
		// Tokens sharing one expiry, more than a batch of them.
		var same []store.Token
		for i := range 25 {
			a := newToken(fmt.Sprintf("same-%02d", i), store.KindAccess, "", g)
			a.ExpiresAt = at(3 * time.Hour)
			same = append(same, a)
		}
		w.tokens(same...)
		if rows := w.purge(at(4*time.Hour), time.Time{}, 10); rows["tokens"] != 25 {
			t.Fatalf("purge with batch 10 of 25 tokens expiring together deleted %v, want 25 tokens", rows)
		}
	})
}

func total(rows map[string]int64) int64 {
	var n int64
	for _, v := range rows {
		n += v
	}
	return n
}
