package main

import (
	"context"
	"log/slog"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/config"
)

// logger is the log of cfg's commands on stderr: JSON lines for log
// collectors in production, text for a person reading a terminal in dev
// mode.
func (a *app) logger(cfg config.Config) *slog.Logger {
	if cfg.Dev {
		return slog.New(slog.NewTextHandler(a.stderr, nil))
	}
	return slog.New(slog.NewJSONHandler(a.stderr, nil))
}

// audit writes the audit event of a change made from the command line
// (actor "cli") to the command's log, in the stream and schema the server
// uses for its own events.
func (a *app) audit(ctx context.Context, cfg config.Config, ev audit.Event) {
	ev.Actor = "cli"
	audit.New(a.logger(cfg)).Emit(ctx, ev)
}
