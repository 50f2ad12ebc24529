package oauth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/oidc"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// maxBearerLen bounds a bearer token before any work (SECURITY.md F8).
const maxBearerLen = 8 << 10

// userAccess is what an active access token says about its user.
type userAccess struct {
	userID, clientID string
	scopes           []string
	claims           string // the claims request parameter of the authorization
	jkt              string // the DPoP key the token is bound to, if any
}

// HandleUserInfo is the userinfo endpoint (OpenID Connect Core §5.3), GET
// and POST, with the access token sent as a bearer token (RFC 6750 §2.1,
// or §2.2 in a POST form body, never in the query). It answers the claims
// the token's scopes allow and those the claims request asked for; errors
// go in WWW-Authenticate (RFC 6750 §3).
func (p *Provider) HandleUserInfo(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Browser applications call it with a bearer token, never a cookie.
	// A DPoP client in the browser must read the challenge and the nonce
	// of a refusal (RFC 9449 §8, §9) to retry: they are exposed.
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, DPoP-Nonce")
	switch r.Method {
	case http.MethodOptions:
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodGet, http.MethodPost:
	default:
		h.Set("Allow", "GET, POST")
		bearerError(w, http.StatusMethodNotAllowed, "invalid_request", "use GET or POST")
		return
	}
	raw, scheme, e := accessToken(w, r)
	if e != nil {
		bearerError(w, e.Status, e.Code, e.Description)
		return
	}
	if raw == "" {
		// RFC 6750 §3.1: no credentials, so no error code.
		h.Set("WWW-Authenticate", `Bearer realm="latchkey"`)
		WriteJSON(w, http.StatusUnauthorized, struct {
			Error string `json:"error"`
		}{"invalid_token"})
		return
	}
	ua, ok, e := p.userAccess(r.Context(), raw)
	switch {
	case e != nil:
		WriteError(w, e)
		return
	case !ok:
		bearerError(w, http.StatusUnauthorized, "invalid_token", "the access token is invalid, expired or revoked")
		return
	case !p.dpopAtResource(w, r, raw, scheme, ua.jkt):
		return
	case !slices.Contains(ua.scopes, oidc.ScopeOpenID):
		bearerError(w, http.StatusForbidden, "insufficient_scope", "the access token was not granted the openid scope")
		return
	}
	u, err := p.Store.GetUser(r.Context(), ua.userID)
	if errors.Is(err, store.ErrNotFound) {
		bearerError(w, http.StatusUnauthorized, "invalid_token", "the user of this access token no longer exists")
		return
	}
	if err != nil {
		WriteError(w, p.storeError(r.Context(), "get user", err))
		return
	}
	req, _ := oidc.ParseClaimsRequest(ua.claims)
	WriteJSON(w, http.StatusOK, struct {
		Subject string `json:"sub"`
		oidc.UserClaims
	}{u.ID, oidc.ReleaseClaims(u, ua.scopes, req.UserInfo)})
}

// accessToken reads the access token from the Authorization header, with
// the Bearer or the DPoP scheme (RFC 9449 §7.1), or a form body (bearer).
// More than one method, or a malformed header, is invalid_request (RFC 6750
// §2: "Clients MUST NOT use more than one method").
func accessToken(w http.ResponseWriter, r *http.Request) (raw, scheme string, e *Error) {
	headers := r.Header.Values("Authorization")
	if len(headers) == 1 {
		if s, tok, ok := strings.Cut(headers[0], " "); ok && strings.EqualFold(s, "DPoP") {
			if !validB64Token(tok) {
				return "", "", InvalidRequest("the Authorization header must be DPoP followed by the token")
			}
			if r.URL.Query().Has("access_token") {
				return "", "", InvalidRequest("send the access token in the Authorization header, not in the URI")
			}
			return tok, "DPoP", nil
		}
	}
	raw, e = bearerToken(w, r)
	return raw, "Bearer", e
}

// bearerToken reads a bearer token from the Authorization header or a
// form body.
func bearerToken(w http.ResponseWriter, r *http.Request) (string, *Error) {
	headers := r.Header.Values("Authorization")
	var fromHeader string
	switch len(headers) {
	case 0:
	case 1:
		scheme, tok, ok := strings.Cut(headers[0], " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || !validB64Token(tok) {
			return "", InvalidRequest("the Authorization header must be Bearer followed by the token")
		}
		fromHeader = tok
	default:
		return "", InvalidRequest("more than one Authorization header")
	}
	var fromBody string
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		q, dup, e := readFormBody(w, r)
		if e != nil {
			return "", e
		}
		if dup == "access_token" {
			return "", duplicated(dup)
		}
		fromBody = q["access_token"]
	}
	if r.URL.Query().Has("access_token") {
		return "", InvalidRequest("send the access token in the Authorization header, not in the URI")
	}
	if fromHeader != "" && fromBody != "" {
		return "", InvalidRequest("the access token was sent in more than one way")
	}
	if fromHeader != "" {
		return fromHeader, nil
	}
	return fromBody, nil
}

// validB64Token checks RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT /
// "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func validB64Token(s string) bool {
	if s == "" || len(s) > maxBearerLen {
		return false
	}
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// bearerError answers an RFC 6750 §3 error: WWW-Authenticate with the
// error code and description, and the same in a JSON body.
func bearerError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey", error="`+code+`", error_description="`+desc+`"`)
	WriteJSON(w, status, struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, desc})
}

// userAccess resolves an active access token of a user: an opaque token by
// its stored row, a JWT by its signature and expiry and then its row, which
// says whether it was revoked and holds the claims request.
func (p *Provider) userAccess(ctx context.Context, raw string) (userAccess, bool, *Error) {
	now := p.Now()
	var hash string
	switch {
	case secret.HasPrefix(raw, secret.PrefixAccessToken):
		hash = secret.Hash(raw)
	case p.JWT != nil && strings.Count(raw, ".") == 2:
		c, ok := p.verifyAccessToken(raw)
		if !ok || c.Issuer != p.Issuer || now.Unix() >= c.Expiry {
			return userAccess{}, false, nil
		}
		hash = jtiHash(c.JTI)
	default:
		return userAccess{}, false, nil
	}
	t, err := p.Store.GetToken(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		// A JWT without a row was issued without a user (client credentials).
		return userAccess{}, false, nil
	}
	if err != nil {
		return userAccess{}, false, p.storeError(ctx, "get token", err)
	}
	if t.Kind != store.KindAccess || !t.Active(now) || t.UserID == "" {
		return userAccess{}, false, nil
	}
	return userAccess{userID: t.UserID, clientID: t.ClientID, scopes: t.Scopes, claims: t.Claims, jkt: t.JKT}, true, nil
}
