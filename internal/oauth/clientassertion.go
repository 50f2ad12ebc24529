package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey/internal/store"
)

// Client assertions (RFC 7523 §2.2, OpenID Connect Core §9 private_key_jwt).
const (
	assertionType        = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	maxAssertionBytes    = 8 << 10
	maxAssertionLifetime = 10 * time.Minute
	assertionLeeway      = time.Minute
	jwksFetchTimeout     = 2 * time.Second
	jwksMaxBytes         = 64 << 10
	jwksCacheTTL         = 5 * time.Minute
	jwksRefetchEvery     = 10 * time.Second
)

// assertionClaims are the claims a client assertion must carry.
type assertionClaims struct {
	jwt.Claims
}

// verifyAssertion authenticates a private_key_jwt client: the assertion is
// signed by one of the client's registered keys with an asymmetric
// algorithm, iss and sub are the client, aud names this server, it expires
// within ten minutes, and its jti was never seen before (RFC 7523 §3: "The
// authorization server MAY ensure that JWTs are not replayed", kept in the
// store so a restart or another node does not forget).
func (p *Provider) verifyAssertion(ctx context.Context, client store.Client, assertion, endpoint string) error {
	if client.TokenEndpointAuthMethod != AuthPrivateKeyJWT {
		return errors.New("the client is not registered for private_key_jwt")
	}
	if len(assertion) > maxAssertionBytes || strings.Count(assertion, ".") != 2 {
		return errors.New("malformed assertion")
	}
	tok, err := jwt.ParseSigned(assertion, joseAlgs(allowedAlgs(client, ClientAssertionAlgs)))
	if err != nil {
		return fmt.Errorf("parse assertion: %w", err)
	}
	var claims assertionClaims
	if err := p.verifyWithClientKeys(ctx, client, tok, &claims); err != nil {
		return err
	}
	now := p.Now()
	expected := jwt.Expected{Issuer: client.ID, Subject: client.ID, Time: now}
	if err := claims.ValidateWithLeeway(expected, assertionLeeway); err != nil {
		return fmt.Errorf("assertion claims: %w", err)
	}
	if !p.assertionAudienceOK(client, claims.Audience, endpoint) {
		return errors.New("the assertion's aud is not this server's issuer identifier")
	}
	if claims.Expiry == nil || claims.ID == "" {
		return errors.New("the assertion needs exp and jti")
	}
	exp := claims.Expiry.Time()
	if exp.After(now.Add(maxAssertionLifetime + assertionLeeway)) {
		return errors.New("the assertion lives too long")
	}
	err = p.Store.UseOnce(ctx, "client_assertion:"+client.ID, claims.ID, exp.Add(assertionLeeway), now)
	if errors.Is(err, store.ErrAlreadyUsed) {
		return errors.New("the assertion was already used")
	}
	return err
}

// joseAlgs converts algorithm names for go-jose's parsers.
func joseAlgs(names []string) []jose.SignatureAlgorithm {
	algs := make([]jose.SignatureAlgorithm, len(names))
	for i, a := range names {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	return algs
}

// verifyWithClientKeys checks tok's one signature against the client's
// registered signing keys (those of its kid, or all without one) and
// decodes its claims into out.
func (p *Provider) verifyWithClientKeys(ctx context.Context, client store.Client, tok *jwt.JSONWebToken, out ...any) error {
	if len(tok.Headers) != 1 {
		return errors.New("one signature expected")
	}
	keys, err := p.assertionKeys.keys(ctx, client, tok.Headers[0].KeyID, p.Now())
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.Use != "" && k.Use != "sig" || !k.Valid() || !k.IsPublic() {
			continue
		}
		if tok.Claims(k.Key, out...) == nil {
			return nil
		}
	}
	return errors.New("no registered key verifies the signature")
}

// assertionKeyCache keeps each client's parsed JWK Set: inline sets are
// parsed once per registration, jwks_uri sets are fetched with a timeout and
// a size cap, cached, and re-fetched on an unknown kid at most every ten
// seconds (so a client can rotate its keys, SECURITY.md K4).
type assertionKeyCache struct {
	mu      sync.Mutex
	entries map[string]*jwksEntry
	client  *http.Client
}

type jwksEntry struct {
	source    string // the inline JSON or the URI it came from
	set       jose.JSONWebKeySet
	fetchedAt time.Time
}

func newAssertionKeyCache() *assertionKeyCache {
	return &assertionKeyCache{
		entries: make(map[string]*jwksEntry),
		client: &http.Client{
			Timeout: jwksFetchTimeout,
			// Outbound fetches never follow redirects (SECURITY.md S9).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// keys returns the client's keys that match kid (all keys when kid is empty).
func (c *assertionKeyCache) keys(ctx context.Context, client store.Client, kid string, now time.Time) ([]jose.JSONWebKey, error) {
	source := client.JWKS
	if source == "" {
		source = client.JWKSURI
	}
	if source == "" {
		return nil, errors.New("the client registered no keys")
	}
	c.mu.Lock()
	e := c.entries[client.ID]
	c.mu.Unlock()
	stale := e == nil || e.source != source ||
		client.JWKS == "" && now.Sub(e.fetchedAt) > jwksCacheTTL ||
		client.JWKS == "" && kid != "" && len(e.set.Key(kid)) == 0 && now.Sub(e.fetchedAt) > jwksRefetchEvery
	if stale {
		set, err := c.load(ctx, client)
		if err != nil {
			return nil, err
		}
		e = &jwksEntry{source: source, set: set, fetchedAt: now}
		c.mu.Lock()
		c.entries[client.ID] = e
		c.mu.Unlock()
	}
	if kid == "" {
		return e.set.Keys, nil
	}
	return e.set.Key(kid), nil
}

func (c *assertionKeyCache) load(ctx context.Context, client store.Client) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	raw := []byte(client.JWKS)
	if len(raw) == 0 {
		if err := CheckJWKSURI(client.JWKSURI); err != nil {
			return set, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, client.JWKSURI, nil)
		if err != nil {
			return set, err
		}
		resp, err := c.client.Do(req)
		if err != nil {
			return set, fmt.Errorf("fetch jwks_uri: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return set, fmt.Errorf("fetch jwks_uri: status %d", resp.StatusCode)
		}
		raw, err = io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes+1))
		if err != nil {
			return set, fmt.Errorf("fetch jwks_uri: %w", err)
		}
		if len(raw) > jwksMaxBytes {
			return set, errors.New("jwks_uri document is larger than 64 KiB")
		}
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return set, fmt.Errorf("parse JWK Set: %w", err)
	}
	return set, nil
}

// CheckJWKSURI accepts https URIs, and http only on a loopback address.
func CheckJWKSURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return errors.New("jwks_uri must be an absolute URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return errors.New("jwks_uri must use https (http only on loopback)")
}

// assertionAudienceOK: the aud of a client assertion is this server's
// issuer identifier and nothing else (RFC 7523bis, OpenID Connect Core
// errata: an assertion meant for one endpoint, or one that also names
// another server, can be replayed where the client did not mean it). The
// token endpoint's URL, and a list naming the issuer among others, are
// accepted only under the AcceptEndpointAudience compatibility switch, and
// never from a FAPI 2.0 client (§5.3.2.1: "shall only accept its issuer
// identifier value ... as a string in the aud claim").
func (p *Provider) assertionAudienceOK(c store.Client, aud jwt.Audience, endpoint string) bool {
	if len(aud) == 1 && aud[0] == p.Issuer {
		return true
	}
	return p.AcceptEndpointAudience && !isFAPI2(c) && slices.ContainsFunc([]string(aud), func(a string) bool { return a == p.Issuer || a == endpoint })
}
