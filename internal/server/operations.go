package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// operations adds the endpoints of operators and orchestrators: /healthz
// (the process answers), /readyz (the database answers) and, when
// withMetrics, /metrics.
func (s *Server) operations(mux *http.ServeMux, withMetrics bool) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.opts.Store.Ping(ctx); err != nil {
			s.opts.Logger.WarnContext(r.Context(), "not ready", "err", err)
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	if withMetrics {
		mux.Handle("GET /metrics", s.metrics.Handler())
	}
}

// AdminHandler serves what server.admin_listen serves: /metrics, /healthz,
// /readyz and the admin API (/admin/v1/), which the main listener then
// does not serve.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	s.operations(mux, true)
	s.admin.Routes(mux)
	return mux
}

// serveAdmin serves AdminHandler on ln (server.admin_listen) until ctx is
// done.
func (s *Server) serveAdmin(ctx context.Context, ln net.Listener) error {
	// The admin API's requests get what those of the main listener get:
	// an id, the client address of the audit events, no panic answered
	// as a dropped connection.
	logger := s.opts.Logger
	h := requestID(s.addresses, recoverPanics(logger, clientAddress(s.addresses, accessLog(logger, s.metrics, s.AdminHandler()))))
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second}
	s.opts.Logger.Info("admin listener serving /metrics and /admin/v1/", "addr", ln.Addr().String())
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(shutdown)
	}()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
