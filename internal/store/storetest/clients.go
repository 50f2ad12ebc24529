package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// richClient has every field set, with unicode, 64 KiB and awkward values.
func richClient(id string) store.Client {
	return store.Client{
		ID:         id,
		SecretHash: "$argon2id$v=19$m=65536,t=3,p=4$" + unicode,
		Name:       unicode + big(),
		Public:     true,
		RedirectURIs: []string{
			"https://app.example/cb?x=1&y=%20#frag",
			"http://127.0.0.1:0/callback",
			"uri with spaces\nnewlines\r\n\t\"quotes\", [brackets] and \\ backslash",
			"",
			"ü://" + big(),
		},
		GrantTypes:      []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"},
		Scopes:          []string{"openid", "profile", "notes:read", "名前"},
		CodeTTL:         5 * time.Minute,
		AccessTokenTTL:  time.Hour + time.Nanosecond,
		RefreshTokenTTL: 30 * 24 * time.Hour,
		CreatedAt:       t0(),
		UpdatedAt:       at(time.Second + time.Microsecond),

		AccessTokenFormat:       "opaque",
		TokenEndpointAuthMethod: "private_key_jwt",
		JWKS:                    `{"keys":[{"kty":"EC","crv":"P-256","kid":"` + unicode + `","x":"` + big() + `"}]}`,
		JWKSURI:                 "https://app.example/jwks?q=" + unicode,

		PostLogoutRedirectURIs: []string{
			"https://app.example/signed-out?x=1&y=%20",
			"uri with spaces\nnewlines\r\n\t\"quotes\", [brackets] and \\ backslash",
			"",
			"ü://" + unicode,
		},
		BackchannelLogoutURI:               "https://app.example/backchannel?q=" + unicode,
		FrontchannelLogoutURI:              "https://app.example/frontchannel?q=" + big(),
		InitiateLoginURI:                   "https://app.example/login?" + unicode,
		LogoURI:                            "https://cdn.example/logo.png?" + unicode,
		ClientURI:                          "https://app.example/" + unicode,
		Description:                        unicode + big(),
		FirstParty:                         true,
		RequirePushedAuthorizationRequests: true, DPoPBoundAccessTokens: true,
		RequireSignedRequestObject: true, Profile: "fapi2",
		IDTokenAlg:     "EdDSA",
		RequiredScopes: []string{"openid", "名前"},
		Resources:      []string{"https://notes.example/api", "urn:例え:" + unicode},

		SelfRegistered:        true,
		RegistrationTokenHash: strings.Repeat("cd", 32),
		RegistrationMetadata:  `{"contacts":["` + unicode + `"],"tos_uri":"` + big() + `"}`,
		UsedAt:                at(time.Hour + time.Microsecond),
	}
}

func testClients(t *testing.T, open Opener) {
	run(t, "Client/round_trip_keeps_every_field", open, func(t *testing.T, w *world) {
		want := richClient("client-" + unicode)
		wantErr(t, "CreateClient", w.s.CreateClient(w.ctx, want), nil)
		got, err := w.s.GetClient(w.ctx, want.ID)
		wantErr(t, "GetClient", err, nil)
		same(t, "client", got, want)
	})

	run(t, "Client/empty_lists_zero_times_and_zero_durations_round_trip", open, func(t *testing.T, w *world) {
		want := store.Client{ID: "c"}
		for _, in := range []store.Client{
			{ID: "c"},
			{ID: "c", RedirectURIs: []string{}, GrantTypes: []string{}, Scopes: []string{}, PostLogoutRedirectURIs: []string{}},
		} {
			wantErr(t, "CreateClient", w.s.CreateClient(w.ctx, in), nil)
			got, err := w.s.GetClient(w.ctx, "c")
			wantErr(t, "GetClient", err, nil)
			same(t, "client", got, want)
			if got.RedirectURIs != nil || got.GrantTypes != nil || got.Scopes != nil || got.PostLogoutRedirectURIs != nil {
				t.Fatalf("empty lists must come back nil, got %#v %#v %#v %#v",
					got.RedirectURIs, got.GrantTypes, got.Scopes, got.PostLogoutRedirectURIs)
			}
			wantErr(t, "DeleteClient", w.s.DeleteClient(w.ctx, "c"), nil)
		}
	})

	run(t, "Client/times_come_back_in_UTC_truncated_to_microseconds", open, func(t *testing.T, w *world) {
		zone := time.FixedZone("UTC+5:30", 5*3600+1800)
		in := store.Client{ID: "c", CreatedAt: time.Date(2026, 1, 2, 8, 34, 5, 123456789, zone)}
		wantErr(t, "CreateClient", w.s.CreateClient(w.ctx, in), nil)
		got, err := w.s.GetClient(w.ctx, "c")
		wantErr(t, "GetClient", err, nil)
		want := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
		if !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC {
			t.Fatalf("CreatedAt = %v (%v), want %v", got.CreatedAt, got.CreatedAt.Location(), want)
		}
	})

	run(t, "Client/duplicate_id_is_ErrConflict", open, func(t *testing.T, w *world) {
		first := w.client("c")
		second := richClient("c")
		wantErr(t, "CreateClient(duplicate)", w.s.CreateClient(w.ctx, second), store.ErrConflict)
		got, err := w.s.GetClient(w.ctx, "c")
		wantErr(t, "GetClient", err, nil)
		same(t, "client after the refused duplicate", got, first)
	})

	run(t, "Client/NUL_byte_or_invalid_UTF8_is_ErrInvalid_and_nothing_stored", open, func(t *testing.T, w *world) {
		for name, c := range map[string]store.Client{
			"id":            {ID: "c\x00"},
			"name":          {ID: "c", Name: "a\x00b"},
			"secret hash":   {ID: "c", SecretHash: "\x00"},
			"redirect URI":  {ID: "c", RedirectURIs: []string{"https://ok.example/", "https://x.example/\x00"}},
			"grant type":    {ID: "c", GrantTypes: []string{"\x00"}},
			"token format":  {ID: "c", AccessTokenFormat: "jwt\x00"},
			"auth method":   {ID: "c", TokenEndpointAuthMethod: "\xff"},
			"JWKS":          {ID: "c", JWKS: "{\"keys\":[\"\x00\"]}"},
			"JWKS URI":      {ID: "c", JWKSURI: "https://x.example/\x00"},
			"scope":         {ID: "c", Scopes: []string{"openid\x00"}},
			"invalid UTF-8": {ID: "c", Name: "\xff\xfe"},
			"64 KiB id":     {ID: big()},

			"post-logout redirect URI": {ID: "c", PostLogoutRedirectURIs: []string{"https://ok.example/", "https://x.example/\x00"}},
			"backchannel logout URI":   {ID: "c", BackchannelLogoutURI: "https://x.example/\x00"},
			"frontchannel logout URI":  {ID: "c", FrontchannelLogoutURI: "\xc3"},
			"initiate login URI":       {ID: "c", InitiateLoginURI: "https://x.example/\x00"},
			"logo URI":                 {ID: "c", LogoURI: "\x00"},
			"client URI":               {ID: "c", ClientURI: "https://x.example/\xff"},
			"description":              {ID: "c", Description: unicode + "\x00"},
			"required scope":           {ID: "c", RequiredScopes: []string{"a\x00"}},
			"ID token alg":             {ID: "c", IDTokenAlg: "RS256\x00"},
			"registration token hash":  {ID: "c", RegistrationTokenHash: "\x00"},
			"registration metadata":    {ID: "c", RegistrationMetadata: "{\"a\":\"\xff\"}"},
		} {
			wantErr(t, "CreateClient("+name+")", w.s.CreateClient(w.ctx, c), store.ErrInvalid)
		}
		list, err := w.s.ListClients(w.ctx)
		wantErr(t, "ListClients", err, nil)
		if len(list) != 0 {
			t.Fatalf("refused clients were stored: %d", len(list))
		}
	})

	run(t, "Client/long_id_round_trips", open, func(t *testing.T, w *world) {
		id := strings.Repeat("k", 256)
		want := w.client(id)
		got, err := w.s.GetClient(w.ctx, id)
		wantErr(t, "GetClient", err, nil)
		same(t, "client", got, want)
	})

	run(t, "Client/unknown_id_is_ErrNotFound", open, func(t *testing.T, w *world) {
		w.client("c")
		for _, id := range []string{"C", "c ", "", "nope", "c\x00", "\xff", big()} {
			_, err := w.s.GetClient(w.ctx, id)
			wantErr(t, "GetClient", err, store.ErrNotFound)
			wantErr(t, "DeleteClient", w.s.DeleteClient(w.ctx, id), store.ErrNotFound)
		}
		for _, id := range []string{"C", "c ", "", "nope"} {
			wantErr(t, "UpdateClient", w.s.UpdateClient(w.ctx, store.Client{ID: id}), store.ErrNotFound)
		}
		got, err := w.s.ListClients(w.ctx)
		wantErr(t, "ListClients", err, nil)
		if len(got) != 1 {
			t.Fatalf("ListClients returned %d clients, want 1", len(got))
		}
	})

	run(t, "Client/list_is_ordered_by_id_bytewise", open, func(t *testing.T, w *world) {
		list, err := w.s.ListClients(w.ctx)
		wantErr(t, "ListClients(empty)", err, nil)
		if len(list) != 0 {
			t.Fatalf("empty store lists %d clients", len(list))
		}
		for _, id := range []string{"b", "é", "a2", "B", "a", "_", "Z9"} {
			w.client(id)
		}
		list, err = w.s.ListClients(w.ctx)
		wantErr(t, "ListClients", err, nil)
		var ids []string
		for _, c := range list {
			ids = append(ids, c.ID)
		}
		if got, want := strings.Join(ids, " "), "B Z9 _ a a2 b é"; got != want {
			t.Fatalf("ListClients order = %q, want %q", got, want)
		}
	})

	run(t, "Client/update_replaces_every_field", open, func(t *testing.T, w *world) {
		w.client("c")
		want := richClient("c")
		wantErr(t, "UpdateClient", w.s.UpdateClient(w.ctx, want), nil)
		got, err := w.s.GetClient(w.ctx, "c")
		wantErr(t, "GetClient", err, nil)
		same(t, "updated client", got, want)

		want = store.Client{ID: "c"}
		wantErr(t, "UpdateClient(zero)", w.s.UpdateClient(w.ctx, want), nil)
		got, err = w.s.GetClient(w.ctx, "c")
		wantErr(t, "GetClient", err, nil)
		same(t, "client updated to zero values", got, want)
	})

	run(t, "Client/update_with_NUL_byte_is_ErrInvalid_and_keeps_the_row", open, func(t *testing.T, w *world) {
		want := w.client("c")
		bad := want
		bad.Name = "x\x00"
		wantErr(t, "UpdateClient", w.s.UpdateClient(w.ctx, bad), store.ErrInvalid)
		got, err := w.s.GetClient(w.ctx, "c")
		wantErr(t, "GetClient", err, nil)
		same(t, "client", got, want)
	})

	run(t, "Client/delete_removes_everything_issued_to_it", open, func(t *testing.T, w *world) {
		c, u, g := w.base()
		other := w.client("other")
		og := w.grant(newGrant("og", u.ID, other.ID))
		ar := w.authRequest(c.ID)
		oar := w.authRequest(other.ID)
		code := w.code(newCode("code", g))
		ocode := w.code(newCode("ocode", og))
		w.tokens(newToken("at", store.KindAccess, "f", g), newToken("rt", store.KindRefresh, "f", g),
			store.Token{Hash: "cc", Kind: store.KindAccess, ClientID: c.ID, ExpiresAt: at(time.Hour)},
			newToken("oat", store.KindAccess, "of", og),
			store.Token{Hash: "occ", Kind: store.KindAccess, ClientID: other.ID, ExpiresAt: at(time.Hour)})
		sess := w.session("s", u.ID)
		wantErr(t, "AddSessionClient", w.s.AddSessionClient(w.ctx, sess.Hash, c.ID, t0()), nil)
		wantErr(t, "AddSessionClient(other)", w.s.AddSessionClient(w.ctx, sess.Hash, other.ID, at(time.Second)), nil)

		wantErr(t, "DeleteClient", w.s.DeleteClient(w.ctx, c.ID), nil)

		_, err := w.s.GetClient(w.ctx, c.ID)
		wantErr(t, "GetClient(deleted)", err, store.ErrNotFound)
		_, err = w.s.GetAuthRequest(w.ctx, ar.ID)
		wantErr(t, "GetAuthRequest(of deleted client)", err, store.ErrNotFound)
		_, err = w.s.GetGrant(w.ctx, g.ID)
		wantErr(t, "GetGrant(of deleted client)", err, store.ErrNotFound)
		_, err = w.s.GetCode(w.ctx, code.Hash)
		wantErr(t, "GetCode(of deleted client)", err, store.ErrNotFound)
		for _, h := range []string{"at", "rt", "cc"} {
			w.absentToken(h)
		}

		_, err = w.s.GetClient(w.ctx, other.ID)
		wantErr(t, "GetClient(other)", err, nil)
		_, err = w.s.GetUser(w.ctx, u.ID)
		wantErr(t, "GetUser", err, nil)
		_, err = w.s.GetAuthRequest(w.ctx, oar.ID)
		wantErr(t, "GetAuthRequest(other)", err, nil)
		_, err = w.s.GetGrant(w.ctx, og.ID)
		wantErr(t, "GetGrant(other)", err, nil)
		_, err = w.s.GetCode(w.ctx, ocode.Hash)
		wantErr(t, "GetCode(other)", err, nil)
		w.token("oat")
		w.token("occ")
		got, err := w.s.GetSession(w.ctx, sess.Hash, t0())
		wantErr(t, "GetSession", err, nil)
		sess.Clients = []string{other.ID}
		same(t, "session after its client was deleted", got, sess)
	})
}
