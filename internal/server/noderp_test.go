package server_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// nodeRPDir holds rp.mjs, a relying party built on node openid-client.
const nodeRPDir = "testdata/rp-node"

// nodeRP returns the node binary and rp.mjs, or skips the test with a
// notice when node or the installed openid-client is missing (never in CI,
// where that is a failure: testenv.Missing).
func nodeRP(t *testing.T) (node, script string) {
	t.Helper()
	testenv.SkipIfShort(t, "node openid-client")
	missing := func(what string) {
		t.Helper()
		testenv.Missing(t, "node openid-client interop test: "+what+" (npm ci --prefix internal/server/"+nodeRPDir+")")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not found on PATH")
	}
	if _, err := os.Stat(filepath.Join(nodeRPDir, "node_modules", "openid-client", "package.json")); err != nil {
		missing("openid-client is not installed in " + nodeRPDir + "/node_modules")
	}
	return node, "rp.mjs"
}

// nodeProcess is a running rp.mjs spoken to in JSON lines.
type nodeProcess struct {
	t      *testing.T
	stdin  io.Writer
	stdout *bufio.Scanner
	stderr *syncBuffer
}

// startNodeRP starts rp.mjs with env added to the environment. The process
// lives at most 60 seconds and is killed when the test ends.
func startNodeRP(t *testing.T, env ...string) *nodeProcess {
	t.Helper()
	_, script := nodeRP(t)
	return startNodeScript(t, script, env...)
}

// startNodeScript starts another script of nodeRPDir as startNodeRP does.
func startNodeScript(t *testing.T, script string, env ...string) *nodeProcess {
	t.Helper()
	node, _ := nodeRP(t)
	return runNode(t, node, nodeRPDir, script, env...)
}

// runNode starts node script in dir with env added to the environment; it
// lives at most 60 seconds and is killed when the test ends.
func runNode(t *testing.T, node, dir, script string, env ...string) *nodeProcess {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	p := &nodeProcess{t: t, stderr: &syncBuffer{}}
	cmd.Stderr = p.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	p.stdin = stdin
	p.stdout = bufio.NewScanner(stdout)
	p.stdout.Buffer(make([]byte, 0, 64<<10), 1<<20)
	return p
}

// send writes v to the relying party as one JSON line.
func (p *nodeProcess) send(v any) {
	p.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.t.Fatalf("write to node: %v\nstderr:\n%s", err, p.stderr)
	}
}

// receive reads the relying party's next JSON line into v; a line carrying
// "error" is openid-client refusing something Latchkey did, and fails the test.
func (p *nodeProcess) receive(v any) {
	p.t.Helper()
	if !p.stdout.Scan() {
		p.t.Fatalf("node ended without answering (%v)\nstderr:\n%s", p.stdout.Err(), p.stderr)
	}
	line := p.stdout.Bytes()
	var failure struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(line, &failure); err != nil {
		p.t.Fatalf("node printed %q: %v\nstderr:\n%s", line, err, p.stderr)
	}
	if failure.Error != "" {
		p.t.Fatalf("the node client rejects Latchkey: %s\nstderr:\n%s", line, p.stderr)
	}
	if err := json.Unmarshal(line, v); err != nil {
		p.t.Fatalf("node printed %q: %v", line, err)
	}
}

// nodeClaims are the claims openid-client reports from an ID token or
// from userinfo.
type nodeClaims struct {
	Iss               string          `json:"iss"`
	Sub               string          `json:"sub"`
	Aud               json.RawMessage `json:"aud"`
	Nonce             string          `json:"nonce"`
	AuthTime          int64           `json:"auth_time"`
	SID               string          `json:"sid"`
	ATHash            string          `json:"at_hash"`
	Email             string          `json:"email"`
	Name              string          `json:"name"`
	PreferredUsername string          `json:"preferred_username"`
}

// TestOIDCInterop_NodeOpenIDClient proves that a relying party from outside
// the Go ecosystem, node openid-client v6 (strict: it verifies state, iss
// per RFC 9207, PKCE, the ID token's RS256 signature against the JWKS, nonce
// and at_hash), signs a user in, reads userinfo, refreshes, and logs out
// through Latchkey's end_session_endpoint. The test is the user's browser.
func TestOIDCInterop_NodeOpenIDClient(t *testing.T) {
	testNodeOpenIDClient(t, false)
}

// TestRFC9126_Interop_NodeOpenIDClientPushes: the same relying party
// pushes its authorization request with openid-client's
// buildAuthorizationUrlWithPAR (oauth4webapi underneath), found through
// discovery, and the whole flow that follows holds.
func TestRFC9126_Interop_NodeOpenIDClientPushes(t *testing.T) {
	testNodeOpenIDClient(t, true)
}

func testNodeOpenIDClient(t *testing.T, par bool) {
	nodeRP(t)
	e := newEnv(t, "sqlite")
	rp := e.oidcClient("node-rp", func(c *store.Client) {
		c.GrantTypes = []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}
	})
	const postLogout, logoutState = "https://rp.example/bye", "bye-0S6_WzA2Mj"
	p := startNodeRP(t,
		"LATCHKEY_ISSUER="+e.issuer,
		"RP_CLIENT_ID="+rp.id,
		"RP_CLIENT_SECRET="+rp.secret,
		"RP_REDIRECT_URI="+rp.redirect,
		"RP_POST_LOGOUT_URI="+postLogout,
		"RP_LOGOUT_STATE="+logoutState,
		"RP_USE_PAR="+map[bool]string{true: "1", false: "0"}[par],
	)

	var start struct {
		AuthorizationURL string `json:"authorization_url"`
	}
	p.receive(&start)
	if u, err := url.Parse(start.AuthorizationURL); err != nil {
		t.Fatal(err)
	} else if q := u.Query(); par && (len(q) != 2 || q.Get("client_id") != rp.id || !strings.HasPrefix(q.Get("request_uri"), oauth.RequestURIPrefix)) {
		t.Fatalf("RFC 9126 §4: authorization URL %s, want client_id and a request_uri only", start.AuthorizationURL)
	}
	b := e.browser()
	callback := e.authorize(b, start.AuthorizationURL)
	if callback.Query().Get("code") == "" {
		t.Fatalf("no code in the redirect to the client: %s", callback)
	}
	p.send(map[string]string{"callback_url": callback.String()})

	var got struct {
		IDTokenHeader struct {
			Alg string `json:"alg"`
			Kid string `json:"kid"`
		} `json:"id_token_header"`
		IDTokenClaims nodeClaims `json:"id_token_claims"`
		Scope         string     `json:"scope"`
		Userinfo      nodeClaims `json:"userinfo"`
		Refresh       struct {
			NewIDToken      bool        `json:"new_id_token"`
			IDTokenClaims   *nodeClaims `json:"id_token_claims"`
			NewRefreshToken bool        `json:"new_refresh_token"`
		} `json:"refresh"`
		EndSessionURL string `json:"end_session_url"`
	}
	p.receive(&got)
	c := got.IDTokenClaims

	t.Run("Core_3.1.3.7/ID_token_verified_by_openid-client", func(t *testing.T) {
		if got.IDTokenHeader.Alg != "RS256" || got.IDTokenHeader.Kid == "" {
			t.Errorf("Core §3.1.3.7: ID token header %+v, want RS256 with a kid", got.IDTokenHeader)
		}
		var aud string
		if err := json.Unmarshal(c.Aud, &aud); err != nil {
			var auds []string
			if json.Unmarshal(c.Aud, &auds) == nil && len(auds) == 1 {
				aud = auds[0]
			}
		}
		if c.Iss != e.issuer || aud != rp.id || c.Nonce == "" || c.ATHash == "" || c.SID == "" || c.AuthTime == 0 {
			t.Errorf("ID token claims %+v (aud %s)", c, c.Aud)
		}
		if c.Sub != "u1" || c.Email != "alice@example.com" || c.PreferredUsername != testUser {
			t.Errorf("sub %q email %q preferred_username %q, want u1, alice@example.com, %s", c.Sub, c.Email, c.PreferredUsername, testUser)
		}
	})
	t.Run("Core_5.3/userinfo", func(t *testing.T) {
		u := got.Userinfo
		if u.Sub != "u1" || u.Email != "alice@example.com" || u.PreferredUsername != testUser || u.Name != "Alice" {
			t.Errorf("userinfo %+v", u)
		}
	})
	t.Run("Core_12.2/refresh_returns_a_new_ID_token", func(t *testing.T) {
		r := got.Refresh
		if !r.NewIDToken || r.IDTokenClaims == nil {
			t.Fatalf("refresh: new id_token %v", r.NewIDToken)
		}
		if r.IDTokenClaims.Sub != c.Sub || r.IDTokenClaims.AuthTime != c.AuthTime || r.IDTokenClaims.Iss != c.Iss {
			t.Errorf("refreshed ID token %+v, first %+v", *r.IDTokenClaims, c)
		}
		if !r.NewRefreshToken {
			t.Error("RFC 9700 §4.14.2: the refresh token was not rotated")
		}
	})
	t.Run("RPInitiated_2/end_session_returns_to_the_post_logout_uri_with_state", func(t *testing.T) {
		resp, err := b.Get(got.EndSessionURL)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("%s: status %d, no redirect:\n%s", got.EndSessionURL, resp.StatusCode, body)
		}
		if loc.Scheme+"://"+loc.Host+loc.Path != postLogout || loc.Query().Get("state") != logoutState {
			t.Fatalf("redirect to %s, want %s with state %s", loc, postLogout, logoutState)
		}
	})
	t.Run("Core_3.1.2.6/prompt_none_after_logout_is_login_required", func(t *testing.T) {
		resp, _ := e.authorizeGet(b, rpQuery(rp, "openid", "prompt", "none"))
		if q := responseParams(t, resp); q.Get("error") != "login_required" {
			t.Fatalf("prompt=none after logout answered %v", q)
		}
	})
}

// TestRFC9449_Interop_NodeOpenIDClientWithDPoP: node openid-client v6 (its
// DPoP from oauth4webapi) signs a user in with every token bound to its
// own ES256 key, with server nonces required: it answers the
// use_dpop_nonce challenges by itself, reads /userinfo with the DPoP
// scheme, and refreshes with a proof. Latchkey stores the tokens bound to
// one key, and the node client sees token_type DPoP.
func TestRFC9449_Interop_NodeOpenIDClientWithDPoP(t *testing.T) {
	nodeRP(t)
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) { c.DPoP.RequireNonce = true })
	rp := e.oidcClient("node-rp-dpop", func(c *store.Client) {
		c.GrantTypes = []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}
	})
	p := startNodeRP(t,
		"LATCHKEY_ISSUER="+e.issuer, "RP_CLIENT_ID="+rp.id, "RP_CLIENT_SECRET="+rp.secret, "RP_REDIRECT_URI="+rp.redirect,
		"RP_POST_LOGOUT_URI=https://rp.example/bye", "RP_LOGOUT_STATE=s", "RP_DPOP=1",
	)
	var start struct {
		AuthorizationURL string `json:"authorization_url"`
	}
	p.receive(&start)
	callback := e.authorize(e.browser(), start.AuthorizationURL)
	p.send(map[string]string{"callback_url": callback.String()})
	var got struct {
		TokenType          string            `json:"token_type"`
		RefreshedTokenType string            `json:"refreshed_token_type"`
		Userinfo           nodeClaims        `json:"userinfo"`
		Cnf                map[string]string `json:"access_token_cnf"`
		RefreshedCnf       map[string]string `json:"refreshed_access_token_cnf"`
	}
	p.receive(&got)
	if !strings.EqualFold(got.TokenType, "DPoP") || !strings.EqualFold(got.RefreshedTokenType, "DPoP") {
		t.Fatalf("token types %q, %q; want DPoP", got.TokenType, got.RefreshedTokenType)
	}
	if got.Userinfo.Sub != "u1" {
		t.Fatalf("userinfo with DPoP: %+v", got.Userinfo)
	}
	if got.Cnf["jkt"] == "" || got.RefreshedCnf["jkt"] != got.Cnf["jkt"] {
		t.Fatalf("cnf of the access tokens %v then %v: want one key's jkt in both", got.Cnf, got.RefreshedCnf)
	}
	// The first token request, without a nonce, was answered
	// use_dpop_nonce, and the library retried with it.
	wantAtLeast(t, scrape(t, e.issuer+"/metrics"), 1, "latchkey_http_requests_total", "endpoint", "/token", "code", "400")
}

// TestFAPI2_Interop_NodeOpenIDClient: openid-client drives a FAPI 2.0
// client end to end: private_key_jwt, its authorization request signed as
// a request object (RFC 9101) and pushed (RFC 9126) with a DPoP proof,
// server nonces answered by the library, DPoP-bound tokens, an ES256 ID
// token, /userinfo with DPoP, and a refresh that keeps the refresh token.
func TestFAPI2_Interop_NodeOpenIDClient(t *testing.T) {
	nodeRP(t)
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) { c.DPoP.RequireNonce = true })
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	public, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "node-k1", Algorithm: "ES256", Use: "sig"}}})
	private, _ := json.Marshal(jose.JSONWebKey{Key: key, KeyID: "node-k1", Algorithm: "ES256", Use: "sig"})
	rp := e.oidcClient("node-rp-fapi2", func(c *store.Client) {
		c.SecretHash, c.TokenEndpointAuthMethod, c.JWKS = "", oauth.AuthPrivateKeyJWT, string(public)
		c.GrantTypes = []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}
		c.Profile, c.RequireSignedRequestObject = oauth.ProfileFAPI2, true
		oauth.ApplyProfileDefaults(c)
	})
	p := startNodeRP(t,
		"LATCHKEY_ISSUER="+e.issuer, "RP_CLIENT_ID="+rp.id, "RP_CLIENT_JWK="+string(private), "RP_REDIRECT_URI="+rp.redirect,
		"RP_POST_LOGOUT_URI=https://rp.example/bye", "RP_LOGOUT_STATE=s", "RP_DPOP=1", "RP_USE_PAR=1", "RP_USE_JAR=1",
	)
	var start struct {
		AuthorizationURL string `json:"authorization_url"`
	}
	p.receive(&start)
	if u, err := url.Parse(start.AuthorizationURL); err != nil || u.Query().Get("request_uri") == "" || len(u.Query()) != 2 {
		t.Fatalf("the browser is sent to %s; want only client_id and a request_uri", start.AuthorizationURL)
	}
	callback := e.authorize(e.browser(), start.AuthorizationURL)
	p.send(map[string]string{"callback_url": callback.String()})
	var got struct {
		IDTokenHeader struct {
			Alg string `json:"alg"`
		} `json:"id_token_header"`
		TokenType string            `json:"token_type"`
		Userinfo  nodeClaims        `json:"userinfo"`
		Cnf       map[string]string `json:"access_token_cnf"`
		Refresh   struct {
			NewRefreshToken bool `json:"new_refresh_token"`
		} `json:"refresh"`
		RefreshedCnf map[string]string `json:"refreshed_access_token_cnf"`
	}
	p.receive(&got)
	if !strings.EqualFold(got.TokenType, "DPoP") || got.Cnf["jkt"] == "" || got.RefreshedCnf["jkt"] != got.Cnf["jkt"] {
		t.Fatalf("token type %q, cnf %v then %v: want DPoP tokens of one key", got.TokenType, got.Cnf, got.RefreshedCnf)
	}
	if got.IDTokenHeader.Alg != "ES256" || got.Userinfo.Sub != "u1" {
		t.Fatalf("ID token alg %q, userinfo %+v", got.IDTokenHeader.Alg, got.Userinfo)
	}
	if got.Refresh.NewRefreshToken {
		t.Fatal("FAPI 2.0 §5.3.2.1: the refresh token was rotated")
	}
}
