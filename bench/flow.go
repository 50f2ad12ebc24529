package main

// The single-sign-on code-flow scenarios: one operation is a whole OpenID
// Connect authorization-code flow with PKCE for a user who is already signed
// in (a live Latchkey session cookie) and whose consent is remembered (an
// active grant covering the scopes): GET /authorize answers 302 straight to
// the client with a code, and POST /token redeems it for an ID token and a
// JWT access token.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// The code-flow clients the child creates: confidential, authorization_code
// only (no refresh token), scopes openid and profile, one ID-token algorithm
// each.
const (
	ssoClientID      = "bench-sso"       // ID tokens RS256 (the OpenID Connect default)
	ssoES256ClientID = "bench-sso-es256" // ID tokens ES256 (store.Client.IDTokenAlg)
	ssoRedirectURI   = "https://bench.example/sso/callback"
	ssoScope         = "openid profile"
	benchUsername    = "bench"
	benchPassword    = "bench password"
)

var ssoScopes = []string{"openid", "profile"}

// codeFlow is one client's code flow, as a browser and the client's back end
// run it against Latchkey.
type codeFlow struct {
	clientID string
	alg      string // the alg the ID tokens' header must name
	// authorize is the request line up to the per-operation parameters;
	// authorizeTail ends the request (HTTP version, headers with the
	// browser's cookies).
	authorize     string
	authorizeTail string
	tokenHead     []byte // POST /token with HTTP Basic, up to Content-Length
	redirectQuery []byte // the redirect URI followed by "?"
}

func newCodeFlow(lkHost, clientID, basic, alg string) *codeFlow {
	q := url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {ssoRedirectURI},
		"scope": {ssoScope}, "code_challenge_method": {"S256"},
	}
	return &codeFlow{
		clientID: clientID, alg: alg,
		authorize:     "GET /authorize?" + strings.ReplaceAll(q.Encode(), "+", "%20"),
		tokenHead:     postHead(lkHost, "/token", basic),
		redirectQuery: []byte(ssoRedirectURI + "?"),
	}
}

// setCookies completes the authorization request's template with the
// browser's cookies.
func (f *codeFlow) setCookies(lkHost, cookies string) {
	f.authorizeTail = " HTTP/1.1\r\nHost: " + lkHost + "\r\nUser-Agent: latchkey-bench\r\n" +
		"Accept: text/html,application/xhtml+xml\r\nCookie: " + cookies + "\r\n\r\n"
}

// flowSecrets are one operation's fresh PKCE verifier (RFC 7636 §4.1: 32
// random octets, base64url, 43 characters) and its S256 challenge, state and
// nonce.
type flowSecrets struct {
	verifier, challenge, state, nonce [43]byte
}

func newFlowSecrets(fs *flowSecrets) {
	var rnd [3 * 32]byte
	rand.Read(rnd[:])
	enc := base64.RawURLEncoding
	enc.Encode(fs.verifier[:], rnd[:32])
	sum := sha256.Sum256(fs.verifier[:])
	enc.Encode(fs.challenge[:], sum[:])
	enc.Encode(fs.state[:], rnd[32:64])
	enc.Encode(fs.nonce[:], rnd[64:])
}

// op runs one flow on c: the authorization request with the session
// cookie, which must come back as a 302 to the redirect URI with a code
// and this operation's state, then the code's redemption, which must answer
// an ID token signed with f.alg and a JWT access token.
func (f *codeFlow) op(c *rawConn, st *connState) error {
	var fs flowSecrets
	newFlowSecrets(&fs)
	req := st.scratch[:0]
	req = append(req, f.authorize...)
	req = append(req, "&state="...)
	req = append(req, fs.state[:]...)
	req = append(req, "&nonce="...)
	req = append(req, fs.nonce[:]...)
	req = append(req, "&code_challenge="...)
	req = append(req, fs.challenge[:]...)
	req = append(req, f.authorizeTail...)
	status, body, err := c.roundTrip(req)
	if err != nil {
		return err
	}
	st.scratch = req
	if status != http.StatusFound || !bytes.HasPrefix(c.location, f.redirectQuery) {
		return badAnswer("authorize: HTTP %d to %.200q, want 302 to %s: %.200s", status, c.location, ssoRedirectURI, body)
	}
	query := c.location[len(f.redirectQuery):]
	if got := queryParam(query, "state"); !bytes.Equal(got, fs.state[:]) {
		return badAnswer("authorize: state %q, want %q", got, fs.state[:])
	}
	code := queryParam(query, "code")
	if len(code) == 0 {
		return badAnswer("authorize: no code in %.200q", c.location)
	}

	req = req[:0]
	req = append(req, f.tokenHead...)
	const (
		p1 = "grant_type=authorization_code&code="
		p2 = "&redirect_uri=" // + the escaped redirect URI
		p3 = "&code_verifier="
	)
	redirect := url.QueryEscape(ssoRedirectURI)
	n := len(p1) + len(code) + len(p2) + len(redirect) + len(p3) + len(fs.verifier)
	req = fmt.Appendf(req, "%d\r\n\r\n", n)
	req = append(req, p1...)
	req = append(req, code...)
	req = append(req, p2...)
	req = append(req, redirect...)
	req = append(req, p3...)
	req = append(req, fs.verifier[:]...)
	status, body, err = c.roundTrip(req)
	st.scratch = req
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return badAnswer("token: HTTP %d: %.200s", status, body)
	}
	if alg := jwtAlg(extractJSONString(body, "id_token")); alg != f.alg {
		return badAnswer("token: ID token alg %q, want %s: %.200s", alg, f.alg, body)
	}
	if at := extractJSONString(body, "access_token"); strings.Count(at, ".") != 2 {
		return badAnswer("token: the access token is not a JWT: %.200s", body)
	}
	return nil
}

// queryParam returns the raw value of name in a URL query (no unescaping:
// codes and states are base64url), or nil.
func queryParam(query []byte, name string) []byte {
	for len(query) > 0 {
		var kv []byte
		kv, query, _ = bytes.Cut(query, []byte("&"))
		if k, v, ok := bytes.Cut(kv, []byte("=")); ok && string(k) == name {
			return v
		}
	}
	return nil
}

// jwtAlg returns the alg of a compact JWS's header, or "".
func jwtAlg(jws string) string {
	head, _, ok := strings.Cut(jws, ".")
	if !ok {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return ""
	}
	return extractJSONString(b, "alg")
}

// signInAndConsent drives Latchkey's real pages as a browser would, once
// per flow, before any load: the first authorization request goes to the
// login form (username, password), every one to the consent form (the
// requested scopes ticked, lifetime "until I revoke it", allow). It redeems
// each resulting code once to check the flow end to end, and returns the
// browser's Cookie header (lk_browser, lk_session) that every operation
// then sends.
func signInAndConsent(ctx context.Context, lkHost string, secrets map[string]string, flows ...*codeFlow) (string, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return "", err
	}
	browser := &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		// Each redirect is looked at: the last one leaves Latchkey.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	base := &url.URL{Scheme: "http", Host: lkHost, Path: "/"}
	for _, f := range flows {
		if err := authorizeOnce(ctx, browser, base, f, secrets[f.clientID]); err != nil {
			return "", fmt.Errorf("sign in and consent for %s: %w", f.clientID, err)
		}
	}
	var parts []string
	for _, name := range []string{"lk_browser", "lk_session"} {
		i := 0
		cookies := jar.Cookies(base)
		for i < len(cookies) && cookies[i].Name != name {
			i++
		}
		if i == len(cookies) {
			return "", fmt.Errorf("no %s cookie after signing in", name)
		}
		parts = append(parts, name+"="+cookies[i].Value)
	}
	return strings.Join(parts, "; "), nil
}

var (
	inputValue = regexp.MustCompile(`<input[^>]*\bname="([^"]+)"[^>]*\bvalue="([^"]*)"`)
	formAction = regexp.MustCompile(`<form[^>]*\baction="([^"]+)"`)
)

// authorizeOnce runs one authorization of f through whatever pages Latchkey
// shows, and redeems the code.
func authorizeOnce(ctx context.Context, browser *http.Client, base *url.URL, f *codeFlow, clientSecret string) error {
	var fs flowSecrets
	newFlowSecrets(&fs)
	q := url.Values{
		"response_type": {"code"}, "client_id": {f.clientID}, "redirect_uri": {ssoRedirectURI}, "scope": {ssoScope},
		"state": {string(fs.state[:])}, "nonce": {string(fs.nonce[:])},
		"code_challenge": {string(fs.challenge[:])}, "code_challenge_method": {"S256"},
	}
	next := base.ResolveReference(&url.URL{Path: "/authorize", RawQuery: q.Encode()}).String()
	var form url.Values
	for range 8 {
		var resp *http.Response
		var err error
		var req *http.Request
		if form == nil {
			req, err = http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		} else {
			req, err = http.NewRequestWithContext(ctx, http.MethodPost, next, strings.NewReader(form.Encode()))
			if req != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
		}
		if err != nil {
			return err
		}
		if resp, err = browser.Do(req); err != nil {
			return err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		form = nil
		switch {
		case resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther:
			loc, err := resp.Location()
			if err != nil {
				return err
			}
			if strings.HasPrefix(loc.String(), ssoRedirectURI+"?") {
				return redeemOnce(ctx, base, f, clientSecret, loc, &fs)
			}
			next = loc.String()
		case resp.StatusCode == http.StatusOK:
			// A page: fill in its form.
			fields := url.Values{}
			for _, m := range inputValue.FindAllStringSubmatch(string(body), -1) {
				fields.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
			}
			action := formAction.FindStringSubmatch(string(body))
			if action == nil || fields.Get("csrf_token") == "" {
				return fmt.Errorf("GET %s: a page without a form: %.300s", next, body)
			}
			switch html.UnescapeString(action[1]) {
			case "/login":
				fields.Set("username", benchUsername)
				fields.Set("password", benchPassword)
			case "/consent":
				// Every requested scope is a ticked checkbox; keep them all.
				fields.Set("lifetime", "forever")
				fields.Set("decision", "allow")
			default:
				return fmt.Errorf("GET %s: unexpected form action %q", next, action[1])
			}
			form = fields
			next = base.ResolveReference(&url.URL{Path: html.UnescapeString(action[1])}).String()
		default:
			return fmt.Errorf("%s %s: HTTP %d: %.300s", req.Method, next, resp.StatusCode, body)
		}
	}
	return errors.New("too many pages before the redirect to the client")
}

// redeemOnce checks the redirect to the client and redeems its code as the
// client's back end would.
func redeemOnce(ctx context.Context, base *url.URL, f *codeFlow, clientSecret string, loc *url.URL, fs *flowSecrets) error {
	got := loc.Query()
	if got.Get("error") != "" {
		return fmt.Errorf("the client got error %q: %s", got.Get("error"), got.Get("error_description"))
	}
	if got.Get("state") != string(fs.state[:]) || got.Get("code") == "" {
		return fmt.Errorf("redirect %s: wrong state or no code", loc)
	}
	body := url.Values{
		"grant_type": {"authorization_code"}, "code": {got.Get("code")}, "redirect_uri": {ssoRedirectURI},
		"code_verifier": {string(fs.verifier[:])},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.ResolveReference(&url.URL{Path: "/token"}).String(), strings.NewReader(body.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(f.clientID), url.QueryEscape(clientSecret))
	// The back end does not send the browser's cookies.
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("token: HTTP %d: %.300s", resp.StatusCode, b)
	}
	if alg := jwtAlg(extractJSONString(b, "id_token")); alg != f.alg {
		return fmt.Errorf("token: ID token alg %q, want %s", alg, f.alg)
	}
	return nil
}
