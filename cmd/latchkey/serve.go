package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/server"
)

// serveFlags are the flags of serve beyond the shared database flags.
type serveFlags struct {
	db     dbFlags
	listen string
	issuer string
	// story, when set, runs the seeds' story with the server (latchkey demo).
	story *story
}

func (a *app) serveCommand() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve [--config FILE] [--dev] [--listen ADDR] [--issuer URL]",
		Short: "Run the authorization server",
		Long: `Run the authorization server until interrupted (SIGINT or SIGTERM), then
shut down gracefully. SIGHUP reloads the configuration: scopes, static
clients, resources and users, and the TLS files; a configuration with any
problem is refused, every problem logged, and the running one kept.

With --dev it needs no configuration: it uses the SQLite database
latchkey-dev.db in the current directory (unless one is configured),
generates a system secret once and keeps it beside the database, creates a
demo user and a demo client, and prints how to try them. Without --dev the
configuration must be complete: every problem is listed at once.

Unless an issuer is configured, it is http:// and the address actually
listened on, so "--listen 127.0.0.1:0" works.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serve(cmd.Context(), &f)
		},
	}
	f.db.register(cmd.Flags())
	cmd.Flags().StringVar(&f.listen, "listen", "", "TCP `ADDR` to listen on, host:port (beats LATCHKEY_LISTEN; default "+config.Default().Listen+")")
	cmd.Flags().StringVar(&f.issuer, "issuer", "", "issuer `URL`, the base of every endpoint (beats LATCHKEY_ISSUER)")
	return cmd
}

// serve runs the server: configuration, listener, database, static and demo
// data, then HTTP until ctx is done.
func (a *app) serve(ctx context.Context, f *serveFlags) error {
	// SIGHUP reloads the configuration (reload.go); one that arrives while
	// starting waits in the channel and is handled once serving.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	cfg, err := a.loadConfig(&f.db)
	if err != nil {
		return err
	}
	logger := a.logger(cfg)
	if f.listen != "" {
		cfg.Listen = f.listen
	}
	// An issuer nobody chose follows the address actually listened on.
	issuerConfigured := f.issuer != "" || cfg.Issuer != config.Default().Issuer
	if f.issuer != "" {
		cfg.Issuer = f.issuer
	}

	secretSource := "from the configuration"
	if cfg.Dev && cfg.SystemSecret == "" {
		secretPath := devSecretPath(cfg.Database)
		var created bool
		cfg.SystemSecret, created, err = devSystemSecret(secretPath)
		if err != nil {
			return err
		}
		secretSource = secretPath + " (keep it with the database)"
		switch {
		case secretPath == "":
			secretSource = "generated, in memory only"
			logger.Warn("dev mode: in-memory database, the system secret lives only as long as the process")
		case created:
			logger.Info("dev mode: generated the system secret", "file", secretPath)
		default:
			if fi, err := os.Stat(secretPath); err == nil && fi.Mode().Perm()&0o077 != 0 {
				logger.Warn("dev mode: the system secret file is readable by other users; chmod 600 it", "file", secretPath)
			}
		}
	}
	if err := cfg.Validate(); err != nil {
		return problems("invalid configuration", err)
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	if !issuerConfigured {
		cfg.Issuer = issuerFor(ln.Addr())
		if !cfg.Dev {
			logger.Warn("no issuer configured: using the listening address, reachable only from this machine; set issuer (LATCHKEY_ISSUER)",
				"issuer", cfg.Issuer)
		}
	}

	if f.story != nil {
		defer f.story.close() // if serving never starts
		if err := f.story.configure(&cfg); err != nil {
			return err
		}
	}
	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	now := a.clock()
	if err := applyStatic(ctx, db, cfg, now, logger); err != nil {
		return err
	}
	var demo demoData
	if cfg.Dev {
		if demo, err = ensureDemo(ctx, db, cfg, now, logger); err != nil {
			return err
		}
	}

	srv, err := server.New(server.Options{Config: cfg, Store: db, Logger: logger, Now: a.now})
	if err != nil {
		return err
	}
	switch {
	case f.story != nil:
		err = f.story.writeBanner(a.stdout, cfg, demo)
	case cfg.Dev:
		err = writeBanner(a.stdout, cfg, secretSource, demo)
	}
	if err != nil {
		return err
	}
	logger.Info("listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "dev", cfg.Dev)
	if a.onListen != nil {
		a.onListen(ln.Addr().String())
	}
	var storyDone chan error
	if f.story != nil {
		// The story's services stop with the server, and the server
		// with them if one of them fails.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		storyDone = make(chan error, 1)
		go func() { err := f.story.run(ctx, db, cfg, logger); cancel(); storyDone <- err }()
	}
	reloadCtx, stopReload := context.WithCancel(ctx)
	reloadDone := make(chan struct{})
	go func() {
		(&reloader{a: a, flags: f, srv: srv, st: db, logger: logger, running: cfg}).run(reloadCtx, hup)
		close(reloadDone)
	}()
	defer func() { stopReload(); <-reloadDone }() // before the database closes
	if err := srv.Serve(ctx, ln); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if storyDone != nil {
		if err := <-storyDone; err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	logger.Info("stopped")
	return nil
}

// issuerFor is the http issuer of a listening address; an unspecified host
// (0.0.0.0 or ::) becomes the loopback address, which a browser can open.
func issuerFor(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
