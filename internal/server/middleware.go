package server

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/metrics"
)

// securityHeaders sets the headers every response carries: no framing
// (RFC 9700 §4.16, RFC 6749 §10.13), no referrer leaks (RFC 9700 §4.2.4),
// resources from our own origin only, and HSTS behind https.
func securityHeaders(secure bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Frame-Options", "DENY")
		// form-action is left out on purpose: browsers apply it to the
		// redirect that follows a form, which goes to the client's URI.
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		if secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// clientAddress resolves the client's address once per request (through
// trusted proxies only) for the rate limits and the access log.
func clientAddress(addresses *clientip.Resolver, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(clientip.With(r.Context(), addresses.Address(r))))
	})
}

// accessLog logs one line per request, with the client address the rate
// limits use, and counts it in the metrics by the route pattern that
// answered it (a bounded set, unlike paths): the mux records the pattern
// on the request it is given, which is r, as the handlers between pass it
// on unchanged. Only the path is logged: query strings carry codes and
// state.
func accessLog(logger *slog.Logger, m *metrics.Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		d := time.Since(start)
		endpoint := r.Pattern
		if endpoint == "" {
			endpoint = "other"
		}
		m.Request(endpoint, max(sw.status, http.StatusOK), d)
		logger.DebugContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"client", clientip.Of(r), "duration", d)
	})
}

// recoverPanics turns a panic into a plain 500 with no detail for the
// client; the stack goes to the log only.
func recoverPanics(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger.ErrorContext(r.Context(), "panic serving request", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
