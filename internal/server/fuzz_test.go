package server_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// FuzzAuthorizeRequest (SECURITY.md F3): whatever the query, the answer is an
// error page without Location, or a redirect to a registered URI of the
// client (or to Latchkey's own login page), with the state echoed exactly.
func FuzzAuthorizeRequest(f *testing.F) {
	e := newEnv(f, "sqlite")
	for _, s := range []string{
		"response_type=code&client_id=cloud-print&redirect_uri=https%3A%2F%2Fprint.example%2Fcallback&scope=notes.read&state=xyz",
		"response_type=code&client_id=cloud-print&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
		"response_type=token&client_id=cloud-print&state=%26code%3Dx",
		"client_id=cloud-print&client_id=notes-phone",
		"response_type=code&client_id=notes-phone&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
		"response_type=code&client_id=cloud-print&redirect_uri=https%3A%2F%2Fprint.example%2Fcallback&scope=%22&state=%3Cscript%3E",
		"response_type=code&client_id=cloud-print&redirect_uri=https%3A%2F%2Fprint.example%2Fcallback&scope=openid&response_mode=form_post&state=%22%3E%3Cscript%3E",
		"response_type=code+id_token&client_id=cloud-print&redirect_uri=https%3A%2F%2Fprint.example%2Fcallback&scope=openid&nonce=n",
		"response_type=id_token&client_id=cloud-print&redirect_uri=https%3A%2F%2Fprint.example%2Fcallback&scope=openid&response_mode=query",
		"response_type=code&client_id=cloud-print&redirect_uri=https%3A%2F%2Fprint.example%2Fcallback&prompt=none+login&max_age=-1",
		"%zz", "", "&&&", "client_id=%00",
	} {
		f.Add(s)
	}
	client := noRedirects(nil)
	f.Fuzz(func(t *testing.T, raw string) {
		if len(raw) > 9000 {
			return
		}
		u, err := url.Parse(e.issuer + "/authorize")
		if err != nil {
			t.Fatal(err)
		}
		u.RawQuery = raw
		req, err := http.NewRequest(http.MethodGet, u.String(), nil)
		if err != nil {
			return // not a request a client can send
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		loc := resp.Header.Get("Location")
		switch {
		case resp.StatusCode >= 500:
			t.Fatalf("status %d for %q: %s", resp.StatusCode, raw, body)
		case resp.StatusCode >= 400:
			if loc != "" {
				t.Fatalf("error page with Location %q", loc)
			}
			if strings.Contains(body, "<script") {
				t.Fatalf("unescaped input on the error page: %s", body)
			}
		case resp.StatusCode == http.StatusOK:
			// form_post (Form Post Response Mode §2): a form posting to a
			// registered URI, every value escaped.
			m := regexp.MustCompile(`<form method="post" action="([^"]*)">`).FindStringSubmatch(body)
			if m == nil || (m[1] != e.web.redirect && m[1] != "https://print.example/other") {
				t.Fatalf("200 that is not a form_post to a registered URI for %q: %s", raw, body)
			}
			if strings.Count(body, "<script") != 1 {
				t.Fatalf("unescaped input in the form_post page: %s", body)
			}
			if strings.Contains(body, `name="code"`) == strings.Contains(body, `name="error"`) {
				t.Fatalf("exactly one of code and error must be posted: %s", body)
			}
		case resp.StatusCode == http.StatusFound:
			if strings.HasPrefix(loc, "/login?") || strings.HasPrefix(loc, "/consent?") {
				return
			}
			ok := false
			for _, reg := range []string{e.web.redirect + "?", e.web.redirect + "#", "https://print.example/other?", "https://print.example/other#", "http://127.0.0.1:", "http://127.0.0.1/cb?"} {
				ok = ok || strings.HasPrefix(loc, reg)
			}
			if !ok {
				t.Fatalf("redirect to an unregistered URI %q for %q", loc, raw)
			}
			lu, err := url.Parse(loc)
			if err != nil {
				t.Fatal(err)
			}
			q := lu.Query()
			if lu.Fragment != "" {
				if lu.RawQuery != "" {
					t.Fatalf("a fragment response with a query too: %q", loc)
				}
				q, _ = url.ParseQuery(lu.Fragment)
			}
			if q.Has("code") == q.Has("error") {
				t.Fatalf("exactly one of code and error must be present: %q", loc)
			}
			// Compare with what was sent: the client drops a "#..." tail.
			if sent, _ := url.ParseQuery(req.URL.RawQuery); sent != nil && len(sent["state"]) == 1 && sent.Get("state") != q.Get("state") {
				t.Fatalf("state %q came back as %q", sent.Get("state"), q.Get("state"))
			}
		default:
			t.Fatalf("unexpected status %d", resp.StatusCode)
		}
	})
}

// FuzzTokenRequest (SECURITY.md F4): never a 5xx, always JSON with no-store
// and a registered error code; never a token without a valid grant.
func FuzzTokenRequest(f *testing.F) {
	e := newEnv(f, "sqlite")
	basic := "Basic " + "Y2xvdWQtcHJpbnQ6eA==" // cloud-print:x
	for _, s := range []struct{ body, ct, auth string }{
		{"grant_type=authorization_code&code=lk_ac_x", "application/x-www-form-urlencoded", basic},
		{"grant_type=refresh_token&refresh_token=lk_rt_x&client_id=notes-phone", "application/x-www-form-urlencoded", ""},
		{"grant_type=password&username=a&password=b", "application/x-www-form-urlencoded", "Basic Og=="},
		{"{}", "application/json", "Bearer x"},
		{"grant_type=authorization_code&grant_type=refresh_token", "application/x-www-form-urlencoded", "Basic %%%"},
		{"client_id=notes-phone&client_secret=x", "application/x-www-form-urlencoded; charset=utf-8", "Basic bm90ZXMtcGhvbmU6"},
	} {
		f.Add(s.body, s.ct, s.auth)
	}
	known := map[string]bool{"invalid_request": true, "invalid_client": true, "invalid_grant": true, "unauthorized_client": true, "unsupported_grant_type": true, "invalid_scope": true}
	f.Fuzz(func(t *testing.T, body, ct, auth string) {
		req, err := http.NewRequest(http.MethodPost, e.issuer+"/token", strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", ct)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if req.Header.Get("Content-Type") != ct || (auth != "" && req.Header.Get("Authorization") != auth) {
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return // the client refused to send it (invalid header bytes)
		}
		got := readBody(t, resp)
		if resp.StatusCode >= 500 || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("status %d, Cache-Control %q: %s", resp.StatusCode, resp.Header.Get("Cache-Control"), got)
		}
		if resp.StatusCode == http.StatusOK || !strings.HasPrefix(got, `{"error":"`) {
			t.Fatalf("status %d: %s", resp.StatusCode, got)
		}
		code := strings.SplitN(strings.TrimPrefix(got, `{"error":"`), `"`, 2)[0]
		if !known[code] {
			t.Fatalf("error %q is not an RFC 6749 §5.2 code", code)
		}
	})
}
