// Package cloudnotes runs the seeds' story around a Latchkey server: the
// notes API and the photos API (two resource servers protected by the
// public rs package), and the third-party cloud-print web app. The TV app
// is package tv. `latchkey demo` registers their clients and resources
// and calls Run; any other deployment can do the same with its own
// registrations.
package cloudnotes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/examples/cloudnotes/cloudprint"
	"github.com/latchkey/latchkey/examples/cloudnotes/notes"
	"github.com/latchkey/latchkey/examples/cloudnotes/photos"
	"github.com/latchkey/latchkey/rs"
)

// Credentials are a client id and secret registered at Latchkey.
type Credentials struct{ ID, Secret string }

// Config says where each part listens and how it is registered.
type Config struct {
	Issuer string
	// Notes, Photos and Print are the listeners of the notes API, the
	// photos API and the cloud-print app; URL(listener) is each one's
	// base URL (and, for the APIs, resource indicator).
	Notes, Photos, Print net.Listener
	// NotesAPI and PhotosAPI introspect with these (resources' credentials).
	NotesAPI, PhotosAPI Credentials
	// CloudPrint is the cloud-print app's confidential client.
	CloudPrint Credentials
	// DemoSubjects get the demo notes and photos (the demo user's id).
	DemoSubjects []string
	Logger       *slog.Logger
}

// URL is the http base URL of a loopback listener.
func URL(ln net.Listener) string { return "http://" + ln.Addr().String() }

// Guard returns the rs.Guard of one of the story's APIs. Every token is
// confirmed at introspection, not cached, so a user's revocation stops an
// app at its next call (the demo shows it); an API that can wait out a
// short cache leaves CheckRevocation's cache at its default.
func Guard(issuer, resource, name string, scopes []string, creds Credentials) (*rs.Guard, error) {
	return rs.New(rs.Config{
		Issuer: issuer, Resource: resource, ClientID: creds.ID, ClientSecret: creds.Secret,
		CheckRevocation: true, IntrospectionCacheTTL: -1,
		ResourceName: name, ScopesSupported: scopes,
	})
}

// Run serves the notes API, the photos API and the cloud-print app until
// ctx ends, then shuts them down.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	notesGuard, err := Guard(cfg.Issuer, URL(cfg.Notes), "Cloud notes", []string{notes.ScopeRead, notes.ScopeWrite}, cfg.NotesAPI)
	if err != nil {
		return fmt.Errorf("notes API: %w", err)
	}
	photosGuard, err := Guard(cfg.Issuer, URL(cfg.Photos), "Photo album", []string{photos.ScopeRead}, cfg.PhotosAPI)
	if err != nil {
		return fmt.Errorf("photos API: %w", err)
	}
	seed := make(map[string][]notes.Note, len(cfg.DemoSubjects))
	for _, sub := range cfg.DemoSubjects {
		seed[sub] = notes.DemoNotes(time.Now())
	}
	app := cloudprint.New(cloudprint.Config{
		Issuer: cfg.Issuer, ClientID: cfg.CloudPrint.ID, ClientSecret: cfg.CloudPrint.Secret,
		RedirectURL: URL(cfg.Print) + "/callback", PhotosAPI: URL(cfg.Photos), Logger: cfg.Logger,
	})
	services := []struct {
		name string
		ln   net.Listener
		h    http.Handler
	}{
		{"notes API", cfg.Notes, notes.New(notesGuard, seed).Handler()},
		{"photos API", cfg.Photos, photos.New(photosGuard, cfg.DemoSubjects).Handler()},
		{"cloud print", cfg.Print, app.Handler()},
	}
	errc := make(chan error, len(services))
	servers := make([]*http.Server, len(services))
	for i, s := range services {
		servers[i] = &http.Server{Handler: s.h, ReadHeaderTimeout: 5 * time.Second,
			ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn)}
		go func() {
			err := servers[i].Serve(s.ln)
			if !errors.Is(err, http.ErrServerClosed) {
				err = fmt.Errorf("%s: %w", s.name, err)
			} else {
				err = nil
			}
			errc <- err
		}()
	}
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range servers {
		s.Shutdown(shutdownCtx)
	}
	return first
}
