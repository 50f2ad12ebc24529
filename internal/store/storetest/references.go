package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// testReferences checks that rows referring to a client, user or grant
// that does not exist are refused with ErrNotFound, so nothing is left
// that a deletion would not remove.
func testReferences(t *testing.T, open Opener) {
	run(t, "Reference/to_a_missing_client_user_or_grant_is_ErrNotFound", open, func(t *testing.T, w *world) {
		c, u, _ := w.base()
		r := w.authRequest(c.ID)
		sess := w.session("s", u.ID)
		for name, err := range map[string]error{
			"auth request of unknown client": w.s.CreateAuthRequest(w.ctx, store.AuthRequest{ID: "x", ClientID: "nope"}),
			"auth request of unknown user":   w.s.CreateAuthRequest(w.ctx, store.AuthRequest{ID: "x", ClientID: c.ID, UserID: "nope"}),
			"sign-in of unknown user":        w.s.SetAuthRequestUser(w.ctx, r.ID, "nope", "sid", t0()),
			"grant of unknown client":        w.s.CompleteAuthRequest(w.ctx, r.ID, t0(), &store.Grant{ID: "x", UserID: u.ID, ClientID: "nope"}, nil),
			"code of unknown grant":          w.s.CompleteAuthRequest(w.ctx, r.ID, t0(), nil, &store.AuthCode{Hash: "x", GrantID: "nope"}),
			"token of unknown client":        w.s.CreateTokens(w.ctx, []store.Token{{Hash: "x", Kind: store.KindAccess, ClientID: "nope"}}),
			"token of unknown grant":         w.s.CreateTokens(w.ctx, []store.Token{{Hash: "x", Kind: store.KindAccess, ClientID: c.ID, GrantID: "nope"}}),
			"token of unknown user":          w.s.CreateTokens(w.ctx, []store.Token{{Hash: "x", Kind: store.KindAccess, ClientID: c.ID, UserID: "nope"}}),
			"session of unknown user":        w.s.CreateSession(w.ctx, store.Session{Hash: "x", ID: "x", UserID: "nope", ExpiresAt: at(time.Hour)}),
			"client of unknown session":      w.s.AddSessionClient(w.ctx, "x", c.ID, t0()),
			"unknown client of a session":    w.s.AddSessionClient(w.ctx, sess.Hash, "nope", t0()),
		} {
			wantErr(t, name, err, store.ErrNotFound)
		}
		_, err := w.s.GetAuthRequest(w.ctx, "x")
		wantErr(t, "GetAuthRequest", err, store.ErrNotFound)
		w.absentToken("x")
		_, err = w.s.GetGrant(w.ctx, "x")
		wantErr(t, "GetGrant", err, store.ErrNotFound)
		_, err = w.s.GetCode(w.ctx, "x")
		wantErr(t, "GetCode", err, store.ErrNotFound)
		got, _ := w.s.GetAuthRequest(w.ctx, r.ID)
		if !got.ConsumedAt.IsZero() || got.UserID != "" || got.SessionID != "" {
			t.Fatalf("refused operations changed the request: %+v", got)
		}
		_, err = w.s.GetSession(w.ctx, "x", t0())
		wantErr(t, "GetSession", err, store.ErrNotFound)
		gotSession, err := w.s.GetSession(w.ctx, sess.Hash, t0())
		wantErr(t, "GetSession", err, nil)
		same(t, "session after the refused client", gotSession, sess)
	})
}
