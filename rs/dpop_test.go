package rs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/dpop"
)

// holder is a client's DPoP key.
type holder struct {
	key *ecdsa.PrivateKey
	jkt string
}

func newHolder(t *testing.T) holder {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jkt, _ := dpop.Thumbprint(&jose.JSONWebKey{Key: k.Public()})
	return holder{key: k, jkt: jkt}
}

// proof signs a proof for method and u, bound to token, issued at iat.
func (h holder) proof(t *testing.T, method, u, token string, iat time.Time) string {
	t.Helper()
	return h.proofWithNonce(t, method, u, token, iat, "")
}

// proofWithNonce is proof carrying a server nonce ("" for none).
func (h holder) proofWithNonce(t *testing.T, method, u, token string, iat time.Time, nonce string) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: h.key}, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(token))
	claims := map[string]any{"jti": randomID(), "htm": method, "htu": u, "iat": iat.Unix(),
		"ath": base64.RawURLEncoding.EncodeToString(sum[:])}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

const notesURL = testResource + "/list"

// dpopGuard is a Guard past its first maxFuture, in which it asks every
// proof for a nonce (dpop.go).
func (iss *testIssuer) dpopGuard() *Guard {
	g := iss.guard()
	iss.clock.Add(maxFuture)
	return g
}

// TestRFC9449_7_RSRefusesAStolenBoundToken: at an API behind Require, a
// DPoP-bound token (JWT or introspected) passes only with the DPoP scheme
// and a fresh proof of its key for this request; as a bearer token,
// without a proof, with another key's, a replayed one or one for another
// URL it is refused with a DPoP challenge. A bearer token with the DPoP
// scheme is refused too.
func TestRFC9449_7_RSRefusesAStolenBoundToken(t *testing.T) {
	iss := newTestIssuer(t)
	h := newHolder(t)
	jwt := iss.mint(tokenSpec{claims: map[string]any{"cnf": map[string]any{"jkt": h.jkt}}})
	opaque := "opaque-bound-" + randomID()
	a := iss.activeAnswer()
	a["cnf"], a["token_type"] = map[string]any{"jkt": h.jkt}, "DPoP"
	iss.answer(opaque, a)
	for name, token := range map[string]string{"jwt": jwt, "introspected": opaque} {
		t.Run(name, func(t *testing.T) {
			g := iss.dpopGuard()
			now := iss.clock.Now()
			call := func(scheme, proof string) *httptest.ResponseRecorder {
				r := httptest.NewRequest("GET", notesURL, nil)
				r.Header.Set("Authorization", scheme+" "+token)
				if proof != "" {
					r.Header.Set("DPoP", proof)
				}
				return serve(t, g, r, token)
			}
			good := h.proof(t, "GET", notesURL, token, now)
			if w := call("DPoP", good); w.Code != 200 {
				t.Fatalf("the key's holder: %d %q %s", w.Code, w.Header().Get("WWW-Authenticate"), w.Body)
			}
			thief := newHolder(t)
			for c, want := range map[string]struct{ scheme, proof, code string }{
				"RFC9449_7_2/as_bearer":      {"Bearer", "", ErrorInvalidToken},
				"RFC9449_7_1/no_proof":       {"DPoP", "", ErrorInvalidDPoPProof},
				"RFC9449_7_1/another_key":    {"DPoP", thief.proof(t, "GET", notesURL, token, now), ErrorInvalidToken},
				"RFC9449_11_1/replayed":      {"DPoP", good, ErrorInvalidDPoPProof},
				"RFC9449_4_3/wrong_htu":      {"DPoP", h.proof(t, "GET", testResource+"/other", token, now), ErrorInvalidDPoPProof},
				"RFC9449_4_3/wrong_htm":      {"DPoP", h.proof(t, "POST", notesURL, token, now), ErrorInvalidDPoPProof},
				"RFC9449_4_3/ath_of_another": {"DPoP", h.proof(t, "GET", notesURL, "another-token", now), ErrorInvalidDPoPProof},
			} {
				w := call(want.scheme, want.proof)
				challenge := w.Header().Get("WWW-Authenticate")
				if w.Code != 401 || !strings.HasPrefix(challenge, "DPoP ") || !strings.Contains(challenge, `error="`+want.code+`"`) {
					t.Errorf("%s: %d %q, want 401 DPoP %s", c, w.Code, challenge, want.code)
				}
			}
		})
	}
	t.Run("bearer_token_with_the_DPoP_scheme", func(t *testing.T) {
		g := iss.dpopGuard()
		bearer := iss.token()
		r := httptest.NewRequest("GET", notesURL, nil)
		r.Header.Set("Authorization", "DPoP "+bearer)
		r.Header.Set("DPoP", h.proof(t, "GET", notesURL, bearer, iss.clock.Now()))
		if w := serve(t, g, r, bearer); w.Code != 401 || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("%d %q", w.Code, w.Header().Get("WWW-Authenticate"))
		}
	})
}

// TestRFC9449_11_1_RSRestartForgetsNoProof: the proofs a Guard remembers
// are in memory; a new Guard (a restarted API) refuses every proof issued
// before it started, and every proof dated ahead of its clock that an
// earlier Guard may have seen, so none seen before can be used again.
func TestRFC9449_11_1_RSRestartForgetsNoProof(t *testing.T) {
	iss := newTestIssuer(t)
	h := newHolder(t)
	jwt := iss.mint(tokenSpec{claims: map[string]any{"cnf": map[string]any{"jkt": h.jkt}}})
	first := iss.dpopGuard()
	r := httptest.NewRequest("GET", notesURL, nil)
	r.Header.Set("Authorization", "DPoP "+jwt)
	before := h.proof(t, "GET", notesURL, jwt, iss.clock.Now())
	ahead := h.proof(t, "GET", notesURL, jwt, iss.clock.Now().Add(maxFuture-time.Second))
	for _, p := range []string{before, ahead} {
		r.Header.Set("DPoP", p)
		if w := serve(t, first, r, jwt); w.Code != 200 {
			t.Fatalf("before the restart: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
	if r.Header.Set("DPoP", h.proof(t, "GET", notesURL, jwt, iss.clock.Now().Add(maxFuture+time.Second))); serve(t, first, r, jwt).Code != 401 {
		t.Fatal("a proof dated more than maxFuture ahead was accepted")
	}
	iss.clock.Add(2 * time.Second)
	restarted := iss.guard()
	iss.clock.Add(maxFuture) // the ahead proof's iat has passed
	for name, p := range map[string]string{"made before the restart": before, "dated ahead, seen before the restart": ahead} {
		r.Header.Set("DPoP", p)
		if w := serve(t, restarted, r, jwt); w.Code != 401 {
			t.Fatalf("a proof %s, after it: %d", name, w.Code)
		}
	}
	r.Header.Set("DPoP", h.proof(t, "GET", notesURL, jwt, iss.clock.Now()))
	if w := serve(t, restarted, r, jwt); w.Code != 200 {
		t.Fatalf("a fresh proof after the restart: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
}

// TestRFC9449_7_VerifyWithoutARequestRefusesBoundTokens: Verify has no
// request to check a proof against, so it refuses a bound token;
// VerifyRequest checks the proof.
func TestRFC9449_7_VerifyWithoutARequestRefusesBoundTokens(t *testing.T) {
	iss := newTestIssuer(t)
	h := newHolder(t)
	jwt := iss.mint(tokenSpec{claims: map[string]any{"cnf": map[string]any{"jkt": h.jkt}}})
	g := iss.dpopGuard()
	if _, err := g.Verify(t.Context(), jwt); err == nil {
		t.Fatal("Verify accepted a DPoP-bound token with no proof to check")
	}
	r := httptest.NewRequest("GET", notesURL, nil)
	r.Header.Set("Authorization", "DPoP "+jwt)
	r.Header.Set("DPoP", h.proof(t, "GET", notesURL, jwt, iss.clock.Now()))
	if tok, err := g.VerifyRequest(r); err != nil || tok.DPoPKey() != h.jkt {
		t.Fatalf("VerifyRequest: %v", err)
	}
}

// TestRFC9449_4_3_RSChecksHTUAgainstTheTargetURI: htu is "the HTTP target
// URI ... of the request" (RFC 9449 §4.2), the one the client called, so
// a Guard mounted under http.StripPrefix accepts a proof of the full path
// and refuses one of the path its handler sees.
func TestRFC9449_4_3_RSChecksHTUAgainstTheTargetURI(t *testing.T) {
	iss := newTestIssuer(t)
	h := newHolder(t)
	jwt := iss.mint(tokenSpec{claims: map[string]any{"cnf": map[string]any{"jkt": h.jkt}}})
	g := iss.dpopGuard()
	api := http.StripPrefix("/v1", g.Require()(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	for htu, want := range map[string]int{
		"https://api.example/v1/list": 200,
		"https://api.example/list":    401,
	} {
		r := httptest.NewRequest("GET", "https://api.example/v1/list", nil)
		r.Header.Set("Authorization", "DPoP "+jwt)
		r.Header.Set("DPoP", h.proof(t, "GET", htu, jwt, iss.clock.Now()))
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("htu %s: %d %q, want %d", htu, w.Code, w.Header().Get("WWW-Authenticate"), want)
		}
	}
}

// TestRFC9449_9_RSAsksForItsNonceAfterARestart: in its first maxFuture a
// Guard cannot tell a new proof from one an earlier process saw, so it
// answers use_dpop_nonce with a nonce of its own random key; the client's
// retry with it passes, once. A proof seen before the restart, and one
// carrying another process's nonce, never pass; after maxFuture no nonce
// is asked for.
func TestRFC9449_9_RSAsksForItsNonceAfterARestart(t *testing.T) {
	iss := newTestIssuer(t)
	h := newHolder(t)
	jwt := iss.mint(tokenSpec{claims: map[string]any{"cnf": map[string]any{"jkt": h.jkt}}})
	r := httptest.NewRequest("GET", notesURL, nil)
	r.Header.Set("Authorization", "DPoP "+jwt)
	send := func(g *Guard, proof string) *httptest.ResponseRecorder {
		t.Helper()
		r.Header.Set("DPoP", proof)
		return serve(t, g, r, jwt)
	}
	old := iss.dpopGuard()
	ahead := h.proof(t, "GET", notesURL, jwt, iss.clock.Now().Add(maxFuture-time.Second))
	if w := send(old, ahead); w.Code != 200 {
		t.Fatalf("before the restart: %d", w.Code)
	}
	oldNonce := old.dpop.Nonce(iss.clock.Now())

	restarted := iss.guard()
	w := send(restarted, h.proof(t, "GET", notesURL, jwt, iss.clock.Now()))
	nonce := w.Header().Get("DPoP-Nonce")
	if w.Code != 401 || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="use_dpop_nonce"`) || nonce == "" {
		t.Fatalf("a proof without a nonce just after a start: %d %q nonce %q, want 401 use_dpop_nonce with a nonce", w.Code, w.Header().Get("WWW-Authenticate"), nonce)
	}
	withNonce := h.proofWithNonce(t, "GET", notesURL, jwt, iss.clock.Now(), nonce)
	if w := send(restarted, withNonce); w.Code != 200 {
		t.Fatalf("the retry with the nonce: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	if w := send(restarted, withNonce); w.Code != 401 {
		t.Errorf("the retry replayed: %d, want 401", w.Code)
	}
	iss.clock.Add(time.Second)
	for name, p := range map[string]string{
		"dated ahead, seen before the restart": ahead,
		"with the earlier process's nonce":     h.proofWithNonce(t, "GET", notesURL, jwt, iss.clock.Now(), oldNonce),
	} {
		if w := send(restarted, p); w.Code != 401 {
			t.Errorf("a proof %s: %d, want 401", name, w.Code)
		}
	}
	iss.clock.Add(maxFuture)
	if w := send(restarted, h.proof(t, "GET", notesURL, jwt, iss.clock.Now())); w.Code != 200 {
		t.Errorf("past the first maxFuture, a proof without a nonce: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
}
