package server_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// The resources of the seeds' story, as registered in these tests.
const (
	notesURI  = "https://notes.example/api"
	photosURI = "https://photos.example/"
)

// resource registers a protected API and returns the credentials it
// introspects with.
func (e *env) resource(uri string, scopes ...string) testClient {
	e.t.Helper()
	sec, hash := oauth.NewClientSecret()
	now := e.clock.Now()
	r := store.Resource{URI: uri, Name: uri, Scopes: scopes, ClientID: "rs-" + strings.NewReplacer(":", "", "/", "-").Replace(uri), CreatedAt: now, UpdatedAt: now}
	if err := e.store.CreateResource(context.Background(), r, oauth.ResourceCredentials(r, hash)); err != nil {
		e.t.Fatal(err)
	}
	return testClient{id: r.ClientID, secret: sec.String()}
}

// storyResources registers the notes and photos APIs and lets the
// registry see them.
func (e *env) storyResources() (notes, photos testClient) {
	notes = e.resource(notesURI, "notes.read", "notes.write")
	photos = e.resource(photosURI, "photos.read", "photos.write")
	e.clock.Advance(6 * time.Second) // past the registry's cache
	return notes, photos
}

// ccToken asks a client-credentials token of c with extra parameters.
func (e *env) ccToken(c testClient, form url.Values) tokenAnswer {
	e.t.Helper()
	form.Set("grant_type", "client_credentials")
	return e.postToken(form, &c, true)
}

// audienceOf returns the aud of a JWT access token, or of an opaque one
// as its own client learns it at introspection.
func (e *env) audienceOf(c testClient, a tokenAnswer) []string {
	e.t.Helper()
	if a.status != 200 {
		e.t.Fatalf("token request failed: %d %v", a.status, a.body)
	}
	raw := a.str("access_token")
	if strings.Count(raw, ".") == 2 {
		return e.verifyJWTAnyAudience(raw).Audience
	}
	var aud []string
	for _, v := range e.introspect(&c, raw).body["aud"].([]any) {
		aud = append(aud, v.(string))
	}
	return aud
}

func TestRFC8707_2_TokenIsForTheNamedResource(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			notes, photos := e.storyResources()
			for _, c := range []testClient{e.svc, e.opaque} {
				a := e.ccToken(c, url.Values{"resource": {photosURI}, "scope": {"notes.read photos.read"}})
				if aud := e.audienceOf(c, a); !slices.Equal(aud, []string{photosURI}) {
					t.Fatalf("%s: aud %v, want [%s]", c.id, aud, photosURI)
				}
				// The token carries only the scopes its audience serves.
				if a.str("scope") != "photos.read" {
					t.Fatalf("%s: scope %q, want photos.read", c.id, a.str("scope"))
				}
				tok := a.str("access_token")
				if got := e.introspect(&photos, tok); !active(got) || got.str("scope") != "photos.read" {
					t.Fatalf("%s: the photos API must see its own token: %v", c.id, got.body)
				}
				// RFC 8707 §2 / RFC 7662 §4: a resource learns nothing of
				// another resource's token.
				if got := e.introspect(&notes, tok); active(got) || len(got.body) != 1 {
					t.Fatalf("%s: the notes API introspected a photos token: %v", c.id, got.body)
				}
				if !active(e.introspect(&c, tok)) {
					t.Fatalf("%s: a client may introspect its own token", c.id)
				}
			}
		})
	}
}

func TestRFC8707_2_SeveralResources(t *testing.T) {
	e := newEnv(t, "sqlite")
	notes, photos := e.storyResources()
	a := e.ccToken(e.opaque, url.Values{"resource": {photosURI, notesURI}})
	if aud := e.audienceOf(e.opaque, a); !slices.Equal(aud, []string{photosURI, notesURI}) {
		t.Fatalf("aud %v, want both resources in request order", aud)
	}
	for _, rs := range []testClient{notes, photos} {
		if !active(e.introspect(&rs, a.str("access_token"))) {
			t.Fatalf("%s must see a token meant for it and another", rs.id)
		}
	}
}

func TestRFC8707_AudienceFollowsTheScopesOwners(t *testing.T) {
	e := newEnv(t, "sqlite")
	e.storyResources()
	for _, tc := range []struct {
		scope string
		want  []string
	}{
		{"notes.read", []string{notesURI}},
		{"photos.read notes.read", []string{notesURI, photosURI}},
		// offline_access belongs to no resource: the default audience
		// (here the issuer and notes-api) joins.
		{"photos.read offline_access", []string{photosURI, e.issuer, "notes-api"}},
		{"offline_access", []string{e.issuer, "notes-api"}},
	} {
		a := e.ccToken(e.svc, url.Values{"scope": {tc.scope}})
		if aud := e.audienceOf(e.svc, a); !slices.Equal(aud, tc.want) {
			t.Errorf("scope %q: aud %v, want %v", tc.scope, aud, tc.want)
		}
		if a.str("scope") != tc.scope {
			t.Errorf("scope %q: token scope %q, want all of it", tc.scope, a.str("scope"))
		}
	}
}

func TestRFC8707_2_InvalidTarget(t *testing.T) {
	e := newEnv(t, "sqlite")
	e.storyResources()
	e.resource("https://calendar.example/", "profile") // a scope the client lacks
	e.clock.Advance(6 * time.Second)
	for name, form := range map[string]url.Values{
		"unregistered":            {"resource": {"https://unknown.example/"}},
		"relative":                {"resource": {"/photos"}},
		"with_fragment":           {"resource": {photosURI + "#x"}},
		"empty_fragment":          {"resource": {photosURI + "#"}},
		"serves_none_of_scopes":   {"resource": {photosURI}, "scope": {"notes.read"}},
		"client_may_not_reach_it": {"resource": {"https://calendar.example/"}},
		"one_bad_among_good":      {"resource": {photosURI, "https://unknown.example/"}},
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, e.ccToken(e.svc, form), 400, "invalid_target")
		})
	}
	t.Run("line_break_in_a_value", func(t *testing.T) {
		wantError(t, e.ccToken(e.svc, url.Values{"resource": {photosURI + "\n" + notesURI}}), 400, "invalid_request")
	})
}

func TestRFC8707_ClientResourceList(t *testing.T) {
	e := newEnv(t, "sqlite")
	e.storyResources()
	e.updateClient(e.svc.id, func(c *store.Client) { c.Resources = []string{notesURI} })
	e.clock.Advance(6 * time.Second) // past the client cache
	wantError(t, e.ccToken(e.svc, url.Values{"resource": {photosURI}}), 400, "invalid_target")
	// Without resource, a scope whose only owner is off the list is left out.
	a := e.ccToken(e.svc, url.Values{"scope": {"notes.read photos.read"}})
	if aud := e.audienceOf(e.svc, a); !slices.Equal(aud, []string{notesURI}) || a.str("scope") != "notes.read" {
		t.Fatalf("aud %v scope %q, want [%s] notes.read", aud, a.str("scope"), notesURI)
	}
	wantError(t, e.ccToken(e.svc, url.Values{"scope": {"photos.read"}}), 400, "invalid_target")
}

func TestRFC8707_ResourceCredentialsGetNoTokens(t *testing.T) {
	e := newEnv(t, "sqlite")
	notes, _ := e.storyResources()
	wantError(t, e.ccToken(notes, url.Values{}), 400, "unauthorized_client")
}

func TestRFC8707_RegistryChangesReachARunningServer(t *testing.T) {
	e := newEnv(t, "sqlite")
	// Before any resource: the default audience.
	if aud := e.audienceOf(e.svc, e.ccToken(e.svc, url.Values{"scope": {"photos.read"}})); !slices.Equal(aud, []string{e.issuer, "notes-api"}) {
		t.Fatalf("aud %v before registration", aud)
	}
	e.resource(photosURI, "photos.read")
	e.clock.Advance(6 * time.Second)
	if aud := e.audienceOf(e.svc, e.ccToken(e.svc, url.Values{"scope": {"photos.read"}})); !slices.Equal(aud, []string{photosURI}) {
		t.Fatalf("aud %v after registration, want [%s]", aud, photosURI)
	}
	if err := e.store.DeleteResource(context.Background(), photosURI); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(6 * time.Second)
	wantError(t, e.ccToken(e.svc, url.Values{"resource": {photosURI}}), 400, "invalid_target")
}

func TestRFC8707_2_2_CodeFlowNarrowsPerTokenRequest(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			notes, photos := e.storyResources()
			e.resource("https://calendar.example/", "profile")
			e.clock.Advance(6 * time.Second)
			ctx := context.Background()
			conf := e.oauth2Config(e.web, "notes.read", "photos.read", "offline_access")
			verifier := oauth2.GenerateVerifier()
			authURL := conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)) +
				"&resource=" + url.QueryEscape(notesURI) + "&resource=" + url.QueryEscape(photosURI)
			code := e.authorize(e.browser(), authURL).Query().Get("code")
			tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", photosURI))
			if err != nil {
				t.Fatal(err)
			}
			if c := e.verifyJWTAnyAudience(tok.AccessToken); !slices.Equal([]string(c.Audience), []string{photosURI}) || c.Scope != "photos.read" {
				t.Fatalf("code redeemed for photos: aud %v scope %q", c.Audience, c.Scope)
			}
			if active(e.introspect(&notes, tok.AccessToken)) || !active(e.introspect(&photos, tok.AccessToken)) {
				t.Fatal("introspection must follow the narrowed audience")
			}
			// The refresh token keeps the whole authorization: it can be
			// narrowed to the other resource, or used for both.
			a := e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "resource": {notesURI}}, &e.web, true)
			if c := e.verifyJWTAnyAudience(a.str("access_token")); !slices.Equal([]string(c.Audience), []string{notesURI}) || c.Scope != "notes.read" {
				t.Fatalf("refresh for notes: aud %v scope %q", c.Audience, c.Scope)
			}
			a = e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.str("refresh_token")}}, &e.web, true)
			if c := e.verifyJWTAnyAudience(a.str("access_token")); !slices.Equal([]string(c.Audience), []string{notesURI, photosURI}) {
				t.Fatalf("refresh without resource: aud %v, want the authorized pair", c.Audience)
			}
			// §2.2: never wider than the authorization, even for a resource
			// the client may reach.
			wantError(t, e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.str("refresh_token")},
				"resource": {"https://calendar.example/"}}, &e.web, true), 400, "invalid_target")
		})
	}
}

func TestRFC8707_2_AuthorizeRefusesWithRedirect(t *testing.T) {
	e := newEnv(t, "sqlite")
	e.storyResources()
	q := e.authorizeQuery()
	q.Set("scope", "photos.read")
	q.Set("resource", "https://unknown.example/")
	resp, body := e.get(q.Encode())
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("want a redirect with the error, got %d %s", resp.StatusCode, body)
	}
	if loc.Query().Get("error") != "invalid_target" || loc.Query().Get("state") != q.Get("state") ||
		!strings.HasPrefix(loc.String(), e.web.redirect) {
		t.Fatalf("redirect %s, want invalid_target to the registered URI with state", loc)
	}
}

func TestRFC8707_PasswordGrantAndRefreshKeepTheResource(t *testing.T) {
	e := newEnv(t, "sqlite")
	notes, _ := e.storyResources()
	a := e.postToken(url.Values{"grant_type": {"password"}, "username": {e.user}, "password": {e.pass},
		"scope": {"notes.read photos.read offline_access"}, "resource": {notesURI}}, &e.app, true)
	if c := e.verifyJWTAnyAudience(a.str("access_token")); !slices.Equal([]string(c.Audience), []string{notesURI}) || c.Scope != "notes.read" {
		t.Fatalf("password grant: aud %v scope %q", c.Audience, c.Scope)
	}
	// The refresh token itself is never shown to a resource.
	if active(e.introspect(&notes, a.str("refresh_token"))) {
		t.Fatal("a resource introspected a refresh token")
	}
	r := e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.str("refresh_token")}}, &e.app, true)
	if c := e.verifyJWTAnyAudience(r.str("access_token")); !slices.Equal([]string(c.Audience), []string{notesURI}) {
		t.Fatalf("refreshed: aud %v, want the resource of the authorization", c.Audience)
	}
}

// TestRFC8707_DeviceTokenIsForTheNamedResource: the TV names the notes
// API at /device_authorization; its token is for that API alone.
func TestRFC8707_DeviceTokenIsForTheNamedResource(t *testing.T) {
	d := newDeviceEnv(t, "sqlite")
	notes, photos := d.storyResources()
	a := d.authorizeDevice(d.tv, url.Values{"scope": {"notes.read"}, "resource": {notesURI}})
	if a.status != 200 {
		t.Fatalf("device authorization: %d %v", a.status, a.body)
	}
	d.signedInBrowser("203.0.113.9").approve(a.str("user_code"))
	tok := d.poll(d.tv, a.str("device_code"))
	if c := d.verifyJWTAnyAudience(tok.str("access_token")); !slices.Equal([]string(c.Audience), []string{notesURI}) {
		t.Fatalf("device token aud %v, want [%s]", c.Audience, notesURI)
	}
	if !active(d.introspect(&notes, tok.str("access_token"))) || active(d.introspect(&photos, tok.str("access_token"))) {
		t.Fatal("only the notes API may see the TV's token")
	}
	r := d.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}, "client_id": {d.tv.id}}, nil, false)
	if c := d.verifyJWTAnyAudience(r.str("access_token")); !slices.Equal([]string(c.Audience), []string{notesURI}) {
		t.Fatalf("refreshed device token aud %v", c.Audience)
	}
}
