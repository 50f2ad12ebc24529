package rs_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/latchkey/latchkey/rs"
)

// ExampleGuard_Require protects a notes API: without a token it answers
// 401 with a challenge naming its metadata; with a token it runs the
// handler, which finds the token in its context.
func ExampleGuard_Require() {
	issuer := newExampleIssuer() // stands in for Latchkey
	defer issuer.Close()

	g, err := rs.New(rs.Config{Issuer: issuer.URL, Resource: "https://api.example/notes"})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	notes := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := rs.FromContext(r.Context())
		fmt.Fprintf(w, "notes of %s", tok.Subject)
	})
	mux.Handle("GET /notes", g.Require("notes.read")(notes))
	mux.Handle("GET /.well-known/oauth-protected-resource/notes", g.MetadataHandler())
	api := httptest.NewServer(mux)
	defer api.Close()

	resp, _ := http.Get(api.URL + "/notes")
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"))

	req, _ := http.NewRequest("GET", api.URL+"/notes", nil)
	req.Header.Set("Authorization", "Bearer "+issuer.token("https://api.example/notes", "notes.read"))
	resp, _ = http.DefaultClient.Do(req)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	// Output:
	// 401 Bearer realm="https://api.example/notes", scope="notes.read", resource_metadata="https://api.example/.well-known/oauth-protected-resource/notes"
	// 200 notes of alice
}

// ExampleGuard_Verify checks a token without the middleware, and tells a
// refused token from an authorization server that could not be reached.
func ExampleGuard_Verify() {
	issuer := newExampleIssuer()
	defer issuer.Close()
	g, _ := rs.New(rs.Config{Issuer: issuer.URL, Resource: "https://api.example/photos"})

	for _, aud := range []string{"https://api.example/photos", "https://api.example/notes"} {
		tok, err := g.Verify(context.Background(), issuer.token(aud, "photos.read"))
		var e *rs.Error
		switch {
		case err == nil:
			fmt.Println("ok:", tok.Subject, tok.Scopes)
		case errors.As(err, &e) && e.Code == rs.ErrorUnavailable:
			fmt.Println("try again later")
		case errors.As(err, &e):
			fmt.Println(e.Status, e.Code+":", e.Description)
		}
	}
	// Output:
	// ok: alice [photos.read]
	// 401 invalid_token: the access token is not meant for this resource
}

// ExampleGuard_MetadataURL shows where RFC 9728 puts a resource's
// metadata: the well-known path goes between the host and the path.
func ExampleGuard_MetadataURL() {
	for _, resource := range []string{"https://api.example/notes", "http://127.0.0.1:9001"} {
		g, _ := rs.New(rs.Config{Issuer: "https://login.example", Resource: resource})
		fmt.Println(g.MetadataURL())
	}
	// Output:
	// https://api.example/.well-known/oauth-protected-resource/notes
	// http://127.0.0.1:9001/.well-known/oauth-protected-resource
}

// exampleIssuer is a minimal authorization server: RFC 8414 metadata and
// a JWKS with one ES256 key, and RFC 9068 access tokens signed with it.
type exampleIssuer struct {
	*httptest.Server
	key *ecdsa.PrivateKey
}

func newExampleIssuer() *exampleIssuer {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e := &exampleIssuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": e.URL, "jwks_uri": e.URL + "/jwks.json"})
	})
	mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	e.Server = httptest.NewServer(mux)
	return e
}

func (e *exampleIssuer) token(aud, scope string) string {
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: e.key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	now := time.Now().Unix()
	claims, _ := json.Marshal(map[string]any{"iss": e.URL, "sub": "alice", "aud": aud, "client_id": "notes-app",
		"scope": scope, "exp": now + 300, "iat": now, "jti": fmt.Sprint(now, rand.Text())})
	jws, _ := signer.Sign(claims)
	raw, _ := jws.CompactSerialize()
	return raw
}
