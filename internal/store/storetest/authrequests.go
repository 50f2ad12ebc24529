package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func richAuthRequest(id, clientID, userID string) store.AuthRequest {
	return store.AuthRequest{
		ID:                  id,
		BrowserHash:         "sha256:" + unicode,
		ClientID:            clientID,
		RedirectURI:         "https://app.example/cb?q=" + big(),
		RedirectURIGiven:    true,
		ResponseType:        "code id_token",
		Scopes:              []string{"openid", "profile", "名前"},
		State:               unicode + big(),
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		Nonce:               "n-" + unicode,
		Device:              "Safari on iPhone " + unicode,
		ResponseMode:        "form_post",
		Prompt:              "login consent",
		MaxAge:              1 << 40,
		LoginHint:           "名前@例え.jp " + unicode,
		ACRValues:           "urn:mace:incommon:iap:silver " + unicode,
		UILocales:           "fr-CA fr en 名前",
		DPoPJKT:             "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
		Claims:              `{"id_token":{"email":{"essential":true},"acr":{"values":["` + unicode + `"]}},"x":"` + big() + `"}`,
		Resources:           []string{"https://photos.example/", "https://notes.example/?" + unicode},
		UserID:              userID,
		SessionID:           "sid-" + unicode,
		AuthTime:            at(-time.Minute),
		CreatedAt:           t0(),
		ExpiresAt:           at(10 * time.Minute),
		ConsumedAt:          at(time.Minute + 999*time.Microsecond),
	}
}

func testAuthRequests(t *testing.T, open Opener) {
	run(t, "AuthRequest/a_challenge_is_in_use_while_another_browsers_request_lives", open, func(t *testing.T, w *world) {
		c := w.client("c")
		r := w.authRequest(c.ID) // browser "browser", challenge "challenge", expires t0+10m
		for _, tc := range []struct {
			challenge, browser string
			now                time.Time
			want               bool
		}{
			{"challenge", "another browser", at(time.Minute), true},
			{"challenge", r.BrowserHash, at(time.Minute), false},
			{"challenge", "another browser", at(10 * time.Minute), false},
			{"another challenge", "another browser", at(time.Minute), false},
			{"", "another browser", at(time.Minute), false},
		} {
			got, err := w.s.ChallengeInUse(w.ctx, tc.challenge, tc.browser, tc.now)
			wantErr(t, "ChallengeInUse", err, nil)
			if got != tc.want {
				t.Errorf("ChallengeInUse(%q, %q, %v) = %v, want %v", tc.challenge, tc.browser, tc.now, got, tc.want)
			}
		}
	})
	run(t, "AuthRequest/expired_requests_are_purged_as_new_ones_are_written", open, func(t *testing.T, w *world) {
		c := w.client("c")
		var expired []store.AuthRequest
		for range 300 {
			expired = append(expired, w.authRequest(c.ID)) // expire at t0+10m
		}
		// An hour later, new requests are written; abandoned ones must not
		// pile up (issue: 2,000 anonymous GET /authorize, 2,000 rows kept).
		var live []store.AuthRequest
		for range 256 {
			r := expired[0]
			r.ID = w.id("live")
			r.CreatedAt, r.ExpiresAt = at(time.Hour), at(time.Hour+10*time.Minute)
			if err := w.s.CreateAuthRequest(w.ctx, r); err != nil {
				t.Fatal(err)
			}
			live = append(live, r)
		}
		gone := 0
		for _, r := range expired {
			if _, err := w.s.GetAuthRequest(w.ctx, r.ID); errors.Is(err, store.ErrNotFound) {
				gone++
			}
		}
		if gone != len(expired) {
			t.Fatalf("%d of %d expired requests purged while 256 new ones were written, want all", gone, len(expired))
		}
		for _, r := range live {
			if _, err := w.s.GetAuthRequest(w.ctx, r.ID); err != nil {
				t.Fatalf("an unexpired request was purged: %v", err)
			}
		}
	})
	run(t, "AuthRequest/round_trip_keeps_every_field", open, func(t *testing.T, w *world) {
		c := w.client("c")
		u := w.user("u")
		for _, want := range []store.AuthRequest{
			richAuthRequest("ar-"+unicode, c.ID, u.ID),
			{ID: "empty", ClientID: c.ID},
			{ID: "max_age absent", ClientID: c.ID, MaxAge: -1},
			{ID: "max_age zero", ClientID: c.ID, MaxAge: 0, Prompt: "none"},
		} {
			wantErr(t, "CreateAuthRequest", w.s.CreateAuthRequest(w.ctx, want), nil)
			got, err := w.s.GetAuthRequest(w.ctx, want.ID)
			wantErr(t, "GetAuthRequest", err, nil)
			same(t, "auth request", got, want)
		}
	})

	run(t, "AuthRequest/duplicate_id_is_ErrConflict", open, func(t *testing.T, w *world) {
		c := w.client("c")
		first := w.authRequest(c.ID)
		second := first
		second.State = "other"
		wantErr(t, "CreateAuthRequest(duplicate)", w.s.CreateAuthRequest(w.ctx, second), store.ErrConflict)
		got, err := w.s.GetAuthRequest(w.ctx, first.ID)
		wantErr(t, "GetAuthRequest", err, nil)
		same(t, "auth request", got, first)
	})

	run(t, "AuthRequest/NUL_byte_or_invalid_UTF8_is_ErrInvalid_and_nothing_stored", open, func(t *testing.T, w *world) {
		c := w.client("c")
		for name, mod := range map[string]func(r *store.AuthRequest){
			"id":            func(r *store.AuthRequest) { r.ID = "a\x00" },
			"browser hash":  func(r *store.AuthRequest) { r.BrowserHash = "\x00" },
			"redirect URI":  func(r *store.AuthRequest) { r.RedirectURI = "https://a.example/\x00" },
			"state":         func(r *store.AuthRequest) { r.State = "s\x00" },
			"nonce":         func(r *store.AuthRequest) { r.Nonce = "\x00" },
			"challenge":     func(r *store.AuthRequest) { r.CodeChallenge = "\x00" },
			"scope":         func(r *store.AuthRequest) { r.Scopes = []string{"openid", "\x00"} },
			"invalid UTF-8": func(r *store.AuthRequest) { r.State = "\xed\xa0\x80" },
			"response mode": func(r *store.AuthRequest) { r.ResponseMode = "query\x00" },
			"prompt":        func(r *store.AuthRequest) { r.Prompt = "login\x00" },
			"login hint":    func(r *store.AuthRequest) { r.LoginHint = "\x00" },
			"ACR values":    func(r *store.AuthRequest) { r.ACRValues = "\xff" },
			"UI locales":    func(r *store.AuthRequest) { r.UILocales = "fr\x00" },
			"claims":        func(r *store.AuthRequest) { r.Claims = `{"userinfo":"` + "\x00" + `"}` },
			"session id":    func(r *store.AuthRequest) { r.SessionID = "sid\x00" },
		} {
			r := store.AuthRequest{ID: "ar", ClientID: c.ID, ExpiresAt: at(time.Hour)}
			mod(&r)
			wantErr(t, "CreateAuthRequest("+name+")", w.s.CreateAuthRequest(w.ctx, r), store.ErrInvalid)
			_, err := w.s.GetAuthRequest(w.ctx, "ar")
			wantErr(t, "GetAuthRequest(refused)", err, store.ErrNotFound)
		}
	})

	run(t, "AuthRequest/unknown_is_ErrNotFound", open, func(t *testing.T, w *world) {
		c, u, _ := w.base()
		w.authRequest(c.ID)
		for _, id := range []string{"nope", "", "ar\x00", big()} {
			_, err := w.s.GetAuthRequest(w.ctx, id)
			wantErr(t, "GetAuthRequest", err, store.ErrNotFound)
			wantErr(t, "SetAuthRequestUser", w.s.SetAuthRequestUser(w.ctx, id, u.ID, "sid", t0()), store.ErrNotFound)
			wantErr(t, "ConsumeAuthRequest", w.s.ConsumeAuthRequest(w.ctx, id, t0()), store.ErrNotFound)
			g := newGrant("new", u.ID, c.ID)
			wantErr(t, "CompleteAuthRequest", w.s.CompleteAuthRequest(w.ctx, id, t0(), &g, nil), store.ErrNotFound)
			_, err = w.s.GetGrant(w.ctx, "new")
			wantErr(t, "GetGrant(not written)", err, store.ErrNotFound)
		}
	})

	run(t, "AuthRequest/set_user_records_who_signed_in", open, func(t *testing.T, w *world) {
		c := w.client("c")
		u := w.user("u")
		r := w.authRequest(c.ID)
		when := at(time.Minute + 7*time.Microsecond)
		wantErr(t, "SetAuthRequestUser", w.s.SetAuthRequestUser(w.ctx, r.ID, u.ID, "sid-"+unicode, when), nil)
		got, err := w.s.GetAuthRequest(w.ctx, r.ID)
		wantErr(t, "GetAuthRequest", err, nil)
		r.UserID, r.SessionID, r.AuthTime = u.ID, "sid-"+unicode, when
		same(t, "auth request", got, r)

		// Signing in again (another account, another session) replaces
		// the user and the sid.
		u2 := w.user("u2")
		wantErr(t, "SetAuthRequestUser(again)", w.s.SetAuthRequestUser(w.ctx, r.ID, u2.ID, "sid-2", at(2*time.Minute)), nil)
		got, _ = w.s.GetAuthRequest(w.ctx, r.ID)
		if got.UserID != u2.ID || got.SessionID != "sid-2" || !got.AuthTime.Equal(at(2*time.Minute)) {
			t.Fatalf("after second sign-in: UserID %q SessionID %q AuthTime %v", got.UserID, got.SessionID, got.AuthTime)
		}
	})

	run(t, "AuthRequest/set_user_with_NUL_in_the_session_id_is_ErrInvalid_and_records_nothing", open, func(t *testing.T, w *world) {
		c := w.client("c")
		u := w.user("u")
		r := w.authRequest(c.ID)
		for _, sid := range []string{"sid\x00", "\xff"} {
			wantErr(t, "SetAuthRequestUser", w.s.SetAuthRequestUser(w.ctx, r.ID, u.ID, sid, t0()), store.ErrInvalid)
		}
		got, err := w.s.GetAuthRequest(w.ctx, r.ID)
		wantErr(t, "GetAuthRequest", err, nil)
		same(t, "auth request", got, r)
	})

	run(t, "AuthRequest/set_user_on_a_consumed_or_expired_request_is_ErrAlreadyUsed", open, func(t *testing.T, w *world) {
		c := w.client("c")
		u := w.user("u")
		consumed := w.authRequest(c.ID)
		wantErr(t, "ConsumeAuthRequest", w.s.ConsumeAuthRequest(w.ctx, consumed.ID, t0()), nil)
		wantErr(t, "SetAuthRequestUser(consumed)", w.s.SetAuthRequestUser(w.ctx, consumed.ID, u.ID, "sid", t0()), store.ErrAlreadyUsed)
		expiring := w.authRequest(c.ID)
		wantErr(t, "SetAuthRequestUser(at ExpiresAt)", w.s.SetAuthRequestUser(w.ctx, expiring.ID, u.ID, "sid", expiring.ExpiresAt), store.ErrAlreadyUsed)
		got, _ := w.s.GetAuthRequest(w.ctx, expiring.ID)
		if got.UserID != "" || got.SessionID != "" || !got.AuthTime.IsZero() {
			t.Fatalf("refused sign-in was recorded: %q %q %v", got.UserID, got.SessionID, got.AuthTime)
		}
		wantErr(t, "SetAuthRequestUser(just before ExpiresAt)",
			w.s.SetAuthRequestUser(w.ctx, expiring.ID, u.ID, "sid", expiring.ExpiresAt.Add(-time.Microsecond)), nil)
	})

	run(t, "AuthRequest/consume_is_single_use", open, func(t *testing.T, w *world) {
		c := w.client("c")
		r := w.authRequest(c.ID)
		now := at(time.Minute)
		wantErr(t, "ConsumeAuthRequest", w.s.ConsumeAuthRequest(w.ctx, r.ID, now), nil)
		got, _ := w.s.GetAuthRequest(w.ctx, r.ID)
		if !got.ConsumedAt.Equal(now) {
			t.Fatalf("ConsumedAt = %v, want %v", got.ConsumedAt, now)
		}
		wantErr(t, "ConsumeAuthRequest(again)", w.s.ConsumeAuthRequest(w.ctx, r.ID, now), store.ErrAlreadyUsed)
		wantErr(t, "CompleteAuthRequest(after consume)", w.s.CompleteAuthRequest(w.ctx, r.ID, now, nil, nil), store.ErrAlreadyUsed)

		expired := w.authRequest(c.ID)
		wantErr(t, "ConsumeAuthRequest(at ExpiresAt)", w.s.ConsumeAuthRequest(w.ctx, expired.ID, expired.ExpiresAt), store.ErrAlreadyUsed)
		got, _ = w.s.GetAuthRequest(w.ctx, expired.ID)
		if !got.ConsumedAt.IsZero() {
			t.Fatalf("expired request was consumed")
		}
	})

	run(t, "AuthRequest/complete_consumes_and_stores_grant_and_code", open, func(t *testing.T, w *world) {
		c := w.client("c")
		u := w.user("u")
		r := w.authRequest(c.ID)
		g := newGrant("g", u.ID, c.ID)
		g.ExpiresAt = at(30 * 24 * time.Hour)
		code := newCode("code-"+unicode, g)
		code.Scopes = []string{"openid", big()}
		code.Nonce = unicode
		code.SessionID, code.ACR, code.Claims = "sid-"+unicode, "urn:latchkey:acr:pwd", `{"userinfo":{"name":null}}`
		now := at(time.Minute)
		wantErr(t, "CompleteAuthRequest", w.s.CompleteAuthRequest(w.ctx, r.ID, now, &g, &code), nil)

		gotR, _ := w.s.GetAuthRequest(w.ctx, r.ID)
		if !gotR.ConsumedAt.Equal(now) {
			t.Fatalf("ConsumedAt = %v, want %v", gotR.ConsumedAt, now)
		}
		gotG, err := w.s.GetGrant(w.ctx, g.ID)
		wantErr(t, "GetGrant", err, nil)
		same(t, "grant", gotG, g)
		gotC, err := w.s.GetCode(w.ctx, code.Hash)
		wantErr(t, "GetCode", err, nil)
		same(t, "code", gotC, code)

		g2 := newGrant("g2", u.ID, c.ID)
		code2 := newCode("code2", g2)
		wantErr(t, "CompleteAuthRequest(again)", w.s.CompleteAuthRequest(w.ctx, r.ID, now, &g2, &code2), store.ErrAlreadyUsed)
		_, err = w.s.GetGrant(w.ctx, "g2")
		wantErr(t, "GetGrant(of the refused completion)", err, store.ErrNotFound)
		_, err = w.s.GetCode(w.ctx, "code2")
		wantErr(t, "GetCode(of the refused completion)", err, store.ErrNotFound)
	})

	run(t, "AuthRequest/create_completed_stores_the_consumed_request_grant_and_code_at_once", open, func(t *testing.T, w *world) {
		c := w.client("c")
		u := w.user("u")
		r := richAuthRequest("r-"+unicode, c.ID, u.ID)
		g := newGrant("g", u.ID, c.ID)
		code := newCode("code", g)
		wantErr(t, "CreateCompletedAuthRequest", w.s.CreateCompletedAuthRequest(w.ctx, r, &g, &code), nil)
		got, err := w.s.GetAuthRequest(w.ctx, r.ID)
		wantErr(t, "GetAuthRequest", err, nil)
		same(t, "request", got, r)
		gotG, err := w.s.GetGrant(w.ctx, g.ID)
		wantErr(t, "GetGrant", err, nil)
		same(t, "grant", gotG, g)
		gotC, err := w.s.GetCode(w.ctx, code.Hash)
		wantErr(t, "GetCode", err, nil)
		same(t, "code", gotC, code)
		// The request is finished: nothing can complete it again.
		wantErr(t, "CompleteAuthRequest(again)", w.s.CompleteAuthRequest(w.ctx, r.ID, at(2*time.Minute), nil, nil), store.ErrAlreadyUsed)
		// With the app's grant as it is (nil): only the request and the code.
		r2 := richAuthRequest("r2", c.ID, u.ID)
		code2 := newCode("code2", g)
		wantErr(t, "CreateCompletedAuthRequest(no grant)", w.s.CreateCompletedAuthRequest(w.ctx, r2, nil, &code2), nil)
		gotC, err = w.s.GetCode(w.ctx, code2.Hash)
		wantErr(t, "GetCode(2)", err, nil)
		same(t, "second code", gotC, code2)
	})

	run(t, "AuthRequest/create_completed_that_fails_writes_nothing", open, func(t *testing.T, w *world) {
		c, u, g := w.base()
		pending := richAuthRequest("pending", c.ID, u.ID)
		pending.ConsumedAt = time.Time{}
		wantErr(t, "CreateCompletedAuthRequest(unconsumed)", w.s.CreateCompletedAuthRequest(w.ctx, pending, nil, nil), store.ErrInvalid)
		// A second grant of the same user and app (one per app), then a
		// code that exists: each undoes the whole transaction.
		other := newGrant("other", u.ID, c.ID)
		wantErr(t, "CreateCompletedAuthRequest(second grant)",
			w.s.CreateCompletedAuthRequest(w.ctx, richAuthRequest("r1", c.ID, u.ID), &other, nil), store.ErrConflict)
		w.code(newCode("taken", g))
		wantErr(t, "CreateCompletedAuthRequest(code exists)",
			w.s.CreateCompletedAuthRequest(w.ctx, richAuthRequest("r2", c.ID, u.ID), nil, ptr(newCode("taken", g))), store.ErrConflict)
		for _, id := range []string{"pending", "r1", "r2"} {
			_, err := w.s.GetAuthRequest(w.ctx, id)
			wantErr(t, "GetAuthRequest("+id+")", err, store.ErrNotFound)
		}
		_, err := w.s.GetGrant(w.ctx, "other")
		wantErr(t, "GetGrant(other)", err, store.ErrNotFound)
	})

	run(t, "AuthRequest/complete_extends_the_apps_grant", open, func(t *testing.T, w *world) {
		c, u, g := w.base()
		changed := g
		changed.Scopes = []string{"openid", "profile", "notes:read"}
		changed.ExpiresAt = at(time.Hour)
		r := w.authRequest(c.ID)
		wantErr(t, "CompleteAuthRequest", w.s.CompleteAuthRequest(w.ctx, r.ID, t0(), &changed, nil), nil)
		got, err := w.s.GetGrant(w.ctx, g.ID)
		wantErr(t, "GetGrant", err, nil)
		same(t, "extended grant", got, changed)
		// Another grant of the same user and app is refused.
		other := newGrant("another", u.ID, c.ID)
		r2 := w.authRequest(c.ID)
		wantErr(t, "CompleteAuthRequest(another grant)", w.s.CompleteAuthRequest(w.ctx, r2.ID, t0(), &other, nil), store.ErrConflict)
		if r2, _ := w.s.GetAuthRequest(w.ctx, r2.ID); !r2.ConsumedAt.IsZero() {
			t.Fatal("the refused completion consumed its request")
		}
		list, _ := w.s.ListGrantsByUser(w.ctx, u.ID)
		if len(list) != 1 {
			t.Fatalf("user has %d grants, want 1", len(list))
		}
	})

	run(t, "AuthRequest/complete_never_revives_a_revoked_grant", open, func(t *testing.T, w *world) {
		c, _, g := w.base()
		wantErr(t, "RevokeGrant", w.s.RevokeGrant(w.ctx, g.ID, at(time.Second)), nil)
		revoked, _ := w.s.GetGrant(w.ctx, g.ID)
		r := w.authRequest(c.ID)
		active := g
		active.RevokedAt = time.Time{}
		code := newCode("code-of-revoked", g)
		wantErr(t, "CompleteAuthRequest", w.s.CompleteAuthRequest(w.ctx, r.ID, at(2*time.Second), &active, &code), store.ErrAlreadyUsed)
		got, err := w.s.GetGrant(w.ctx, g.ID)
		wantErr(t, "GetGrant", err, nil)
		same(t, "still revoked grant", got, revoked)
		_, err = w.s.GetCode(w.ctx, code.Hash)
		wantErr(t, "GetCode", err, store.ErrNotFound)
		pending, _ := w.s.GetAuthRequest(w.ctx, r.ID)
		if !pending.ConsumedAt.IsZero() {
			t.Fatal("a failed completion consumed the request")
		}
	})

	run(t, "AuthRequest/complete_without_grant_or_code_only_consumes", open, func(t *testing.T, w *world) {
		c := w.client("c")
		r := w.authRequest(c.ID)
		wantErr(t, "CompleteAuthRequest", w.s.CompleteAuthRequest(w.ctx, r.ID, t0(), nil, nil), nil)
		got, _ := w.s.GetAuthRequest(w.ctx, r.ID)
		if !got.ConsumedAt.Equal(t0()) {
			t.Fatalf("ConsumedAt = %v", got.ConsumedAt)
		}
	})

	run(t, "AuthRequest/complete_on_an_expired_request_is_ErrAlreadyUsed_and_writes_nothing", open, func(t *testing.T, w *world) {
		c := w.client("c")
		u := w.user("u")
		r := w.authRequest(c.ID)
		g := newGrant("g", u.ID, c.ID)
		code := newCode("code", g)
		wantErr(t, "CompleteAuthRequest(at ExpiresAt)", w.s.CompleteAuthRequest(w.ctx, r.ID, r.ExpiresAt, &g, &code), store.ErrAlreadyUsed)
		_, err := w.s.GetGrant(w.ctx, "g")
		wantErr(t, "GetGrant", err, store.ErrNotFound)
		_, err = w.s.GetCode(w.ctx, "code")
		wantErr(t, "GetCode", err, store.ErrNotFound)
		got, _ := w.s.GetAuthRequest(w.ctx, r.ID)
		if !got.ConsumedAt.IsZero() {
			t.Fatalf("expired request was consumed")
		}
	})

	run(t, "AuthRequest/complete_that_fails_writes_nothing_and_leaves_the_request_pending", open, func(t *testing.T, w *world) {
		c, u, g := w.base()
		w.code(newCode("taken", g))
		r := w.authRequest(c.ID)
		for name, tc := range map[string]struct {
			grant store.Grant
			code  store.AuthCode
			want  error
		}{
			"duplicate code hash": {newGrant("g-new", u.ID, c.ID), newCode("taken", newGrant("g-new", u.ID, c.ID)), store.ErrConflict},
			"NUL in code":         {newGrant("g-new", u.ID, c.ID), newCode("c\x00", newGrant("g-new", u.ID, c.ID)), store.ErrInvalid},
			"NUL in code claims":  {newGrant("g-new", u.ID, c.ID), codeWith(newCode("fresh", newGrant("g-new", u.ID, c.ID)), func(c *store.AuthCode) { c.Claims = "{\x00}" }), store.ErrInvalid},
			"NUL in code sid":     {newGrant("g-new", u.ID, c.ID), codeWith(newCode("fresh", newGrant("g-new", u.ID, c.ID)), func(c *store.AuthCode) { c.SessionID = "\x00" }), store.ErrInvalid},
			"bad UTF-8 in ACR":    {newGrant("g-new", u.ID, c.ID), codeWith(newCode("fresh", newGrant("g-new", u.ID, c.ID)), func(c *store.AuthCode) { c.ACR = "\xff" }), store.ErrInvalid},
			"NUL in grant":        {newGrant("g-new\x00", u.ID, c.ID), newCode("fresh", g), store.ErrInvalid},
			"unknown user":        {newGrant("g-new", "nobody", c.ID), newCode("fresh", g), store.ErrNotFound},
		} {
			err := w.s.CompleteAuthRequest(w.ctx, r.ID, t0(), &tc.grant, &tc.code)
			wantErr(t, "CompleteAuthRequest("+name+")", err, tc.want)
			got, _ := w.s.GetAuthRequest(w.ctx, r.ID)
			if !got.ConsumedAt.IsZero() {
				t.Fatalf("%s: the request was consumed by a failed completion", name)
			}
			_, err = w.s.GetGrant(w.ctx, "g-new")
			wantErr(t, name+": GetGrant(g-new)", err, store.ErrNotFound)
			_, err = w.s.GetCode(w.ctx, "fresh")
			wantErr(t, name+": GetCode(fresh)", err, store.ErrNotFound)
		}
		wantErr(t, "CompleteAuthRequest(valid, after the failures)", w.s.CompleteAuthRequest(w.ctx, r.ID, t0(), nil, nil), nil)
	})

	run(t, "AuthRequest/concurrent_completions_have_exactly_one_winner", open, func(t *testing.T, w *world) {
		c := w.client("c")
		u := w.user("u")
		const goroutines, iterations = 20, 5
		for it := range iterations {
			r := w.authRequest(c.ID)
			grants := make([]store.Grant, goroutines)
			codes := make([]store.AuthCode, goroutines)
			// One user per iteration: a user has one grant per app.
			ui := u
			if it > 0 {
				ui = w.user(fmt.Sprintf("u%d", it))
			}
			for i := range goroutines {
				grants[i] = newGrant(fmt.Sprintf("g-%d-%d", it, i), ui.ID, c.ID)
				codes[i] = newCode(fmt.Sprintf("code-%d-%d", it, i), grants[i])
			}
			errs := race(goroutines, func(i int) error {
				return w.s.CompleteAuthRequest(w.ctx, r.ID, t0(), &grants[i], &codes[i])
			})
			winner := oneWinner(t, fmt.Sprintf("iteration %d", it), errs)
			for i := range goroutines {
				_, gerr := w.s.GetGrant(w.ctx, grants[i].ID)
				_, cerr := w.s.GetCode(w.ctx, codes[i].Hash)
				if i == winner {
					wantErr(t, "GetGrant(winner)", gerr, nil)
					wantErr(t, "GetCode(winner)", cerr, nil)
				} else {
					wantErr(t, "GetGrant(loser)", gerr, store.ErrNotFound)
					wantErr(t, "GetCode(loser)", cerr, store.ErrNotFound)
				}
			}
		}
		if list, _ := w.s.ListGrantsByUser(w.ctx, u.ID); len(list) != 1 {
			t.Fatalf("the first user has %d grants, want 1", len(list))
		}
	})
}

func ptr[T any](v T) *T { return &v }
