package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestRPInitiated_2_LogoutRequestLimits: an end-session request may carry
// up to 64 parameters and a state of up to 2048 characters, as an
// authorization request may; one more is an error page.
func TestRPInitiated_2_LogoutRequestLimits(t *testing.T) {
	e := newEnv(t, "sqlite")
	rp := e.oidcClient("rp", nil)
	logout := func(q url.Values) (*http.Response, string) {
		t.Helper()
		resp, err := e.browser().Get(e.issuer + "/logout?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		return resp, readBody(t, resp)
	}
	query := func(state string, params int) url.Values {
		q := url.Values{"client_id": {rp.id}, "post_logout_redirect_uri": {"https://rp.example/bye"}, "state": {state}}
		for i := len(q); i < params; i++ {
			q.Set(fmt.Sprintf("x%d", i), "1")
		}
		return q
	}
	// Nobody is signed in: the request goes straight back to the client.
	ok := func(t *testing.T, resp *http.Response, body string) {
		t.Helper()
		loc, err := resp.Location()
		if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), "https://rp.example/bye?") {
			t.Fatalf("status %d, Location %q:\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
	}
	t.Run("RPInitiated_2/state_of_2048_characters_is_accepted", func(t *testing.T) {
		resp, body := logout(query(strings.Repeat("s", 2048), 3))
		ok(t, resp, body)
		if loc, _ := resp.Location(); loc.Query().Get("state") != strings.Repeat("s", 2048) {
			t.Fatalf("state not returned whole: %.80s…", loc)
		}
	})
	t.Run("RPInitiated_2/state_of_2049_characters_is_an_error_page", func(t *testing.T) {
		resp, body := logout(query(strings.Repeat("s", 2049), 3))
		assertErrorPage(t, resp, body)
	})
	t.Run("RFC6749_3_1/64_parameters_are_accepted", func(t *testing.T) {
		resp, body := logout(query("st", 64))
		ok(t, resp, body)
	})
	t.Run("RFC6749_3_1/65_parameters_are_an_error_page", func(t *testing.T) {
		resp, body := logout(query("st", 65))
		assertErrorPage(t, resp, body)
	})
}
