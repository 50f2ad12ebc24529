package rs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxResponse bounds what is read from the authorization server
// (SECURITY.md S9: 64 KiB body cap on outbound fetches).
const maxResponse = 64 << 10

// asMetadata is what this package uses of RFC 8414 §2 metadata.
type asMetadata struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
}

// metadata returns the issuer's metadata, fetching it the first time. A
// document once fetched is kept; a failed fetch is retried with backoff,
// never on every request.
func (g *Guard) metadata(ctx context.Context) (*asMetadata, error) {
	if m := g.meta.Load(); m != nil {
		return m, nil
	}
	err := g.metaGate.run(ctx, g.cfg.Now(), 0, true, func() error {
		m, err := g.fetchMetadata(ctx)
		if err == nil {
			g.meta.Store(m)
		}
		return err
	})
	if m := g.meta.Load(); m != nil {
		return m, nil
	}
	return nil, err
}

// metadataURLs are where the issuer's metadata may be: RFC 8414 §3.1
// inserts the well-known path between the host and the issuer's path;
// OpenID Connect Discovery 1.0 §4 appends its own to the issuer. Without a
// path the two are the usual root URLs.
func metadataURLs(issuer string) []string {
	u, _ := url.Parse(issuer) // checked by New
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	return []string{
		u.Scheme + "://" + u.Host + "/.well-known/oauth-authorization-server" + path,
		strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration",
	}
}

func (g *Guard) fetchMetadata(ctx context.Context) (*asMetadata, error) {
	var errs []error
	for _, u := range metadataURLs(g.cfg.Issuer) {
		var m asMetadata
		if err := g.getJSON(ctx, u, &m); err != nil {
			errs = append(errs, err)
			continue
		}
		// RFC 8414 §3.3: "The "issuer" value returned MUST be identical to
		// the authorization server's issuer identifier value into which the
		// well-known URI string was inserted ... If these values are not
		// identical, the data contained in the response MUST NOT be used."
		if m.Issuer != g.cfg.Issuer {
			return nil, fmt.Errorf("metadata at %s names issuer %q, not %q", u, m.Issuer, g.cfg.Issuer)
		}
		for _, e := range []string{m.JWKSURI, m.IntrospectionEndpoint} {
			if e != "" && checkURL("endpoint", e, false) != nil {
				return nil, fmt.Errorf("metadata at %s: %q is not an absolute http(s) URL", u, e)
			}
		}
		return &m, nil
	}
	return nil, fmt.Errorf("authorization server metadata: %w", errors.Join(errs...))
}

// getJSON GETs u and decodes its JSON. The fetch is not cancelled with the
// request that caused it, whose answer others may be waiting for; the HTTP
// client's timeout, and fetchTimeout in case it has none, bound it.
func (g *Guard) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	body, err := g.do(ctx, req)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", req.URL.Redacted(), err)
	}
	return nil
}

// fetchTimeout bounds any call to the authorization server.
const fetchTimeout = 30 * time.Second

// do sends req and returns the body of a 200 answer.
func (g *Guard) do(ctx context.Context, req *http.Request) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	resp, err := g.cfg.HTTPClient.Do(req.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // so that the connection is reused
		return nil, fmt.Errorf("%s %s: HTTP %d", req.Method, req.URL.Redacted(), resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	if len(body) > maxResponse {
		return nil, fmt.Errorf("%s %s: answer larger than %d bytes", req.Method, req.URL.Redacted(), maxResponse)
	}
	return body, nil
}
