package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
)

// reloader re-reads the configuration of a running serve on SIGHUP and
// applies what can change without a restart: the scopes, the static
// clients, resources and users, and the TLS certificate files. A
// configuration with any problem is refused as a whole, every problem
// logged, and the running one kept. Settings that need a restart (listen,
// database, issuer, system secret, dev, and the other server, tokens,
// session, activity and consent keys) keep their running values; a change
// to one is logged as a warning naming it.
type reloader struct {
	a       *app
	flags   *serveFlags
	srv     *server.Server
	st      store.Store
	logger  *slog.Logger
	running config.Config
}

// run reloads at every signal on hup until ctx is done.
func (r *reloader) run(ctx context.Context, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			reportReload(ctx, r.logger, r.srv, r.reload(ctx))
		}
	}
}

// reloadOutcome is what one reload did, for reportReload.
type reloadOutcome struct {
	// Problems are why the new configuration was refused; nothing changed.
	Problems []error
	// Err is a failure while applying a valid configuration (the database
	// refused a write): what came before it was applied.
	Err error
	// What changed, when applied.
	Scopes, ScopesAdded, ScopesRemoved int
	Static                             staticChanges
	TLSReloaded                        bool
	// NeedRestart names the changed settings that were not applied.
	NeedRestart []string
}

// reportReload reports the outcome of a reload: one log line, an audit
// event and a metric. It is the one place every reload passes through,
// refused or applied.
func reportReload(ctx context.Context, logger *slog.Logger, srv *server.Server, o reloadOutcome) {
	if len(o.NeedRestart) > 0 {
		logger.WarnContext(ctx, "configuration changes that need a restart were not applied; the running values are kept",
			"settings", o.NeedRestart)
	}
	switch {
	case len(o.Problems) > 0:
		list := make([]string, len(o.Problems))
		for i, p := range o.Problems {
			list[i] = p.Error()
		}
		logger.ErrorContext(ctx, "configuration reload refused; the running configuration is kept",
			"count", len(list), "problems", list)
		srv.Reloaded(ctx, false, fmt.Sprintf("%d problems", len(list)))
	case o.Err != nil:
		logger.ErrorContext(ctx, "configuration reload failed part way; the scopes and TLS files are applied, the static entries may not all be",
			"err", o.Err)
		srv.Reloaded(ctx, false, "applied in part")
	default:
		s := o.Static
		logger.InfoContext(ctx, "configuration reloaded",
			"scopes", o.Scopes, "scopes_added", o.ScopesAdded, "scopes_removed", o.ScopesRemoved,
			"clients_created", s.ClientsCreated, "clients_updated", s.ClientsUpdated,
			"resources_created", s.ResourcesCreated, "resources_updated", s.ResourcesUpdated,
			"users_created", s.UsersCreated, "users_updated", s.UsersUpdated,
			"tls_reloaded", o.TLSReloaded)
		srv.Reloaded(ctx, true, fmt.Sprintf("%d scopes, %d clients and %d resources created or updated",
			o.Scopes, s.ClientsCreated+s.ClientsUpdated, s.ResourcesCreated+s.ResourcesUpdated))
	}
}

// reload reads the configuration as serve did at start (file, environment,
// flags), checks all of it, and applies it if it has no problem.
func (r *reloader) reload(ctx context.Context) reloadOutcome {
	next, err := r.a.loadConfig(&r.flags.db)
	if err != nil {
		return reloadOutcome{Problems: listProblems(err)}
	}
	if r.flags.listen != "" {
		next.Listen = r.flags.listen
	}
	if r.flags.issuer != "" {
		next.Issuer = r.flags.issuer
	} else if next.Issuer == config.Default().Issuer {
		next.Issuer = r.running.Issuer // the listening address, as at start
	}
	if next.Dev && next.SystemSecret == "" {
		next.SystemSecret = r.running.SystemSecret // the generated one
	}
	now := r.a.clock()
	probs := listProblems(next.Validate())
	probs = append(probs, validateStatic(next, now)...)
	if len(probs) > 0 {
		return reloadOutcome{Problems: probs}
	}

	o := reloadOutcome{NeedRestart: restartOnly(r.running, next)}
	applied := r.running
	applied.Scopes, applied.Clients, applied.Resources, applied.Users = next.Scopes, next.Clients, next.Resources, next.Users
	if r.srv.ServesTLS() && next.Server.TLSCert != "" {
		applied.Server.TLSCert, applied.Server.TLSKey = next.Server.TLSCert, next.Server.TLSKey
		o.TLSReloaded = true
	}
	if err := r.srv.Reload(applied); err != nil {
		return reloadOutcome{Problems: []error{err}}
	}
	o.Scopes = len(applied.Scopes)
	o.ScopesAdded, o.ScopesRemoved = scopeChanges(r.running.Scopes, applied.Scopes)
	r.running = applied
	o.Static, o.Err = applyStaticCounted(ctx, r.st, applied, now, r.logger)
	return o
}

// listProblems is every problem in err, one error each.
func listProblems(err error) []error {
	if err == nil {
		return nil
	}
	var pl *problemList
	if errors.As(err, &pl) {
		return pl.errs
	}
	return flatten(err)
}

// scopeChanges counts the scope names of b not in a, and of a not in b.
func scopeChanges(a, b []config.Scope) (added, removed int) {
	name := func(s config.Scope) string { return s.Name }
	an, bn := mapSlice(a, name), mapSlice(b, name)
	for _, n := range bn {
		if !slices.Contains(an, n) {
			added++
		}
	}
	for _, n := range an {
		if !slices.Contains(bn, n) {
			removed++
		}
	}
	return added, removed
}

func mapSlice[T, U any](in []T, f func(T) U) []U {
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// reloadable are the keys a reload applies; tls_cert and tls_key only when
// TLS stays on (turning it on or off needs a restart).
var reloadable = []string{"scopes", "clients", "resources", "users", "server.tls_cert", "server.tls_key"}

// restartOnly names the keys that differ between the running and the new
// configuration and that a reload does not apply, by their YAML names;
// never their values, which may be secret.
func restartOnly(running, next config.Config) []string {
	var out []string
	var walk func(a, b reflect.Value, prefix string)
	walk = func(a, b reflect.Value, prefix string) {
		t := a.Type()
		for i := range t.NumField() {
			tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			key := prefix + tag
			if slices.Contains(reloadable, key) {
				continue
			}
			fa, fb := a.Field(i), b.Field(i)
			if fa.Kind() == reflect.Struct {
				walk(fa, fb, key+".")
				continue
			}
			if !reflect.DeepEqual(fa.Interface(), fb.Interface()) {
				out = append(out, key)
			}
		}
	}
	walk(reflect.ValueOf(running), reflect.ValueOf(next), "")
	if (running.Server.TLSCert == "") != (next.Server.TLSCert == "") {
		out = append(out, "server.tls_cert")
	}
	return out
}
