package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/secret"
)

// requestIDHeader carries a request's id: taken from a trusted proxy, so
// that its logs and Latchkey's share one id, and sent back in the answer.
const requestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// requestID gives every request an id, put on each of its log lines
// (requestIDHandler) and sent back in X-Request-Id: the one a trusted proxy
// sent, when it is a plain token of at most 128 characters, else 16
// random characters. A client's own X-Request-Id is not believed: it could
// forge another request's lines.
func requestID(addresses *clientip.Resolver, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestIDHeader)
		if id == "" || !plainID(id) || !addresses.FromTrustedProxy(r) {
			id = secret.RandomString(12)
		}
		w.Header().Set(requestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// plainID reports whether id is 1 to 128 letters, digits and ._:- (what
// proxies send: UUIDs, hex, base64url), nothing that could break a log line.
func plainID(id string) bool {
	if len(id) > 128 {
		return false
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-'
		if !ok {
			return false
		}
	}
	return id != ""
}

// requestIDHandler adds the request's id to every record logged with its
// context.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		rec.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, rec)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
