package rs

import (
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
)

func TestMetadataURLs(t *testing.T) {
	for _, c := range []struct{ name, issuer, oauth, oidc string }{
		{"RFC8414_3.1/issuer_without_path", "https://login.example",
			"https://login.example/.well-known/oauth-authorization-server", "https://login.example/.well-known/openid-configuration"},
		{"RFC8414_3.1/issuer_with_path_inserts_the_well_known_path", "https://login.example/tenant1",
			"https://login.example/.well-known/oauth-authorization-server/tenant1", "https://login.example/tenant1/.well-known/openid-configuration"},
		{"RFC8414_3.1/terminating_slash_is_removed", "https://login.example/tenant1/",
			"https://login.example/.well-known/oauth-authorization-server/tenant1", "https://login.example/tenant1/.well-known/openid-configuration"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := metadataURLs(c.issuer); !slices.Equal(got, []string{c.oauth, c.oidc}) {
				t.Errorf("got %q", got)
			}
		})
	}
}

func TestDiscovery(t *testing.T) {
	t.Run("RFC8414_3.3/issuer_mismatch_is_not_used", func(t *testing.T) {
		iss := newTestIssuer(t)
		iss.set(func(iss *testIssuer) { iss.metaIssuer = iss.URL + "/" })
		raw := iss.token()
		wantStatus(t, iss.guard(), bearer(raw), raw, 503, "-")
		if iss.jwksHits.Load() != 0 {
			t.Error("the JWKS of a mismatched metadata document was fetched")
		}
	})
	t.Run("OIDC_Discovery_4/falls_back_to_openid_configuration", func(t *testing.T) {
		iss := newTestIssuer(t)
		iss.set(func(iss *testIssuer) { iss.noOAuthMeta = true })
		wantStatus(t, iss.guard(), bearer(iss.token()), "", 200, "")
		if iss.metaHits.Load() != 1 || iss.oidcHits.Load() != 1 {
			t.Errorf("metadata fetches: RFC 8414 %d, OpenID %d; want 1, 1", iss.metaHits.Load(), iss.oidcHits.Load())
		}
	})
	t.Run("RFC8414_3/metadata_is_fetched_once", func(t *testing.T) {
		iss := newTestIssuer(t)
		g := iss.guard()
		for range 5 {
			wantStatus(t, g, bearer(iss.token()), "", 200, "")
			raw := "opaque-" + randomID()
			iss.answer(raw, iss.activeAnswer())
			wantStatus(t, g, bearer(raw), raw, 200, "")
		}
		if n := iss.metaHits.Load() + iss.oidcHits.Load(); n != 1 {
			t.Errorf("%d metadata fetches, want 1", n)
		}
	})
	t.Run("RFC8414_3/failed_fetch_backs_off", func(t *testing.T) {
		iss := newTestIssuer(t)
		iss.set(func(iss *testIssuer) { iss.metaStatus = http.StatusBadGateway })
		g := iss.guard()
		raw := iss.token()
		for range 20 {
			wantStatus(t, g, bearer(raw), raw, 503, "-")
		}
		if n := iss.metaHits.Load() + iss.oidcHits.Load(); n != 2 { // both URLs, once
			t.Errorf("%d metadata fetches, want 2", n)
		}
		iss.clock.Add(minBackoff)
		wantStatus(t, g, bearer(raw), raw, 503, "-")
		iss.clock.Add(minBackoff) // the backoff doubled: still too early
		wantStatus(t, g, bearer(raw), raw, 503, "-")
		if n := iss.metaHits.Load() + iss.oidcHits.Load(); n != 4 {
			t.Errorf("%d metadata fetches, want 4", n)
		}
		iss.set(func(iss *testIssuer) { iss.metaStatus = 0 })
		iss.clock.Add(minBackoff)
		wantStatus(t, g, bearer(raw), raw, 200, "")
	})
}

// New fetches nothing: an API can start before its authorization server.
func TestNewFetchesNothing(t *testing.T) {
	var calls atomic.Int64
	client := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		calls.Add(1)
		return nil, http.ErrServerClosed
	})}
	g, err := New(Config{Issuer: "https://login.example", Resource: testResource, HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 0 {
		t.Fatalf("New made %d requests", calls.Load())
	}
	if err := g.Prefetch(t.Context()); err == nil {
		t.Error("Prefetch succeeded without a server")
	}
	if calls.Load() == 0 {
		t.Error("Prefetch made no request")
	}
}

func TestPrefetch(t *testing.T) {
	iss := newTestIssuer(t)
	g := iss.guard()
	if err := g.Prefetch(t.Context()); err != nil {
		t.Fatal(err)
	}
	if iss.metaHits.Load() != 1 || iss.jwksHits.Load() != 1 {
		t.Errorf("fetches: metadata %d, JWKS %d; want 1, 1", iss.metaHits.Load(), iss.jwksHits.Load())
	}
	wantStatus(t, g, bearer(iss.token()), "", 200, "")
	if err := g.Prefetch(t.Context()); err != nil || iss.jwksHits.Load() != 1 {
		t.Errorf("second Prefetch: %v, %d JWKS fetches", err, iss.jwksHits.Load())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
