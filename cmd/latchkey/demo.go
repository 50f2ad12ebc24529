package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/examples/cloudnotes"
	"github.com/latchkey/latchkey/examples/cloudnotes/tv"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// The story's registrations at Latchkey.
const (
	storyPrintID = "cloud-print"
	storyTVID    = "notes-tv"
	storyNotesID = "notes-api"
	// storyPhotosID is the photos API's introspection client.
	storyPhotosID = "photos-api"
)

// Default addresses of the story's services.
const (
	defaultNotesAddr  = "127.0.0.1:9001"
	defaultPhotosAddr = "127.0.0.1:9002"
	defaultPrintAddr  = "127.0.0.1:9003"
)

// story is the seeds' story run beside the server by latchkey demo: the
// notes and photos APIs, the cloud-print app, and the registrations they
// and the TV app need.
type story struct {
	notesAddr, photosAddr, printAddr string
	notes, photos, print             net.Listener
	// secrets follow from the system secret, so a restart keeps them.
	notesSecret, photosSecret, printSecret string
}

func (a *app) demoCommand() *cobra.Command {
	var f serveFlags
	st := &story{}
	cmd := &cobra.Command{
		Use:   "demo [--config FILE] [--listen ADDR] [--notes ADDR] [--photos ADDR] [--print ADDR]",
		Short: "Run the seeds' story: Latchkey in dev mode with the notes and photos APIs, the cloud-print app and the TV app",
		Long: `Run Latchkey in dev mode together with the story its documentation tells:
a notes API and a photo-album API (resource servers protected by the rs
package), a third-party cloud-printing web app that prints the demo user's
photos, and a TV app that signs in with a code (latchkey demo tv).

Everything listens on loopback ports, is registered at start (clients and
resources, kept across restarts), and stops together on Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.db.dev = true
			f.story = st
			return a.serve(cmd.Context(), &f)
		},
	}
	f.db.register(cmd.Flags())
	cmd.Flags().StringVar(&f.listen, "listen", "", "TCP `ADDR` of Latchkey (default "+config.Default().Listen+")")
	cmd.Flags().StringVar(&st.notesAddr, "notes", defaultNotesAddr, "TCP `ADDR` of the notes API")
	cmd.Flags().StringVar(&st.photosAddr, "photos", defaultPhotosAddr, "TCP `ADDR` of the photos API")
	cmd.Flags().StringVar(&st.printAddr, "print", defaultPrintAddr, "TCP `ADDR` of the cloud-print app")
	cmd.AddCommand(a.demoTVCommand())
	return cmd
}

func (a *app) demoTVCommand() *cobra.Command {
	var issuer, notes string
	cmd := &cobra.Command{
		Use:   "tv [--issuer URL] [--notes URL]",
		Short: "The TV app: sign in with a code shown on screen (RFC 8628), then list the demo user's notes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := tv.Run(cmd.Context(), tv.Config{Issuer: issuer, ClientID: storyTVID, NotesAPI: notes, Out: a.stdout})
			return err
		},
	}
	cmd.Flags().StringVar(&issuer, "issuer", "http://"+config.Default().Listen, "Latchkey's issuer `URL`")
	cmd.Flags().StringVar(&notes, "notes", "http://"+defaultNotesAddr, "the notes API's `URL`")
	return cmd
}

// configure opens the story's listeners and adds its clients and
// resources to the configuration, so that the server registers them like
// any static entry (created once, then kept as declared).
func (s *story) configure(cfg *config.Config) error {
	for _, l := range []struct {
		addr string
		ln   *net.Listener
	}{{s.notesAddr, &s.notes}, {s.photosAddr, &s.photos}, {s.printAddr, &s.print}} {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fmt.Errorf("listen (a demo already running? see --notes, --photos, --print): %w", err)
		}
		*l.ln = ln
	}
	s.notesSecret, s.photosSecret, s.printSecret = storySecret(cfg, "notes"), storySecret(cfg, "photos"), storySecret(cfg, "print")
	notesURI, photosURI, printURL := cloudnotes.URL(s.notes), cloudnotes.URL(s.photos), cloudnotes.URL(s.print)
	cfg.Resources = append(cfg.Resources,
		config.Resource{URI: notesURI, Name: "Cloud notes", Scopes: []string{"notes.read", "notes.write"},
			ClientID: storyNotesID, ClientSecretHash: secret.HashClientSecret(s.notesSecret)},
		config.Resource{URI: photosURI, Name: "Photo album", Scopes: []string{"photos.read", "photos.write"},
			ClientID: storyPhotosID, ClientSecretHash: secret.HashClientSecret(s.photosSecret)},
	)
	cfg.Clients = append(cfg.Clients,
		config.Client{ID: storyPrintID, Name: "Cloud Print", SecretHash: secret.HashClientSecret(s.printSecret),
			RedirectURIs: []string{printURL + "/callback"}, GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
			Scopes: []string{"photos.read"}, Resources: []string{photosURI}, ClientURI: printURL,
			InitiateLoginURI: printURL + "/login", Description: "Prints the photos of your album (a third-party app)",
			// Short-lived access tokens, so the demo shows refreshing.
			AccessTokenTTL: 2 * time.Minute},
		config.Client{ID: storyTVID, Name: "Notes on the TV", Public: true,
			GrantTypes: []string{oauth.GrantDeviceCode, oauth.GrantRefreshToken}, Scopes: []string{"notes.read"},
			Resources: []string{notesURI}, Description: "Shows your notes on the living-room TV"},
	)
	return nil
}

// close closes the story's listeners (closing a served one again is
// harmless).
func (s *story) close() {
	for _, ln := range []net.Listener{s.notes, s.photos, s.print} {
		if ln != nil {
			ln.Close()
		}
	}
}

// storySecret derives a secret of the generated form (stored as SHA-256)
// from the system secret.
func storySecret(cfg *config.Config, label string) string {
	h := hmac.New(sha256.New, []byte(cfg.SystemSecret))
	h.Write([]byte("latchkey demo: " + label))
	return secret.PrefixClientSecret + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// run serves the story until ctx ends; the demo user's notes and photos
// are seeded for their id.
func (s *story) run(ctx context.Context, st store.Store, cfg config.Config, logger *slog.Logger) error {
	var subjects []string
	if u, err := st.GetUserByUsername(ctx, demoUsername); err == nil {
		subjects = append(subjects, u.ID)
	}
	return cloudnotes.Run(ctx, cloudnotes.Config{
		Issuer: cfg.Issuer, Notes: s.notes, Photos: s.photos, Print: s.print,
		NotesAPI:     cloudnotes.Credentials{ID: storyNotesID, Secret: s.notesSecret},
		PhotosAPI:    cloudnotes.Credentials{ID: storyPhotosID, Secret: s.photosSecret},
		CloudPrint:   cloudnotes.Credentials{ID: storyPrintID, Secret: s.printSecret},
		DemoSubjects: subjects, Logger: logger,
	})
}

// writeBanner prints what to open, in the order of the story.
func (s *story) writeBanner(w io.Writer, cfg config.Config, d demoData) error {
	var b strings.Builder
	line := strings.Repeat("=", 72)
	fmt.Fprintf(&b, "%s\nLatchkey demo: the cloud-notes story (DEVELOPMENT MODE, loopback only)\n%s\n\n", line, line)
	fmt.Fprintf(&b, "Sign in as   %s / %s\n\n", demoUsername, d.Password)
	fmt.Fprintf(&b, "1. Cloud Print, a third-party app that prints your photos:\n     %s\n", cloudnotes.URL(s.print))
	fmt.Fprintf(&b, "   It asks only to see your photos, and never sees your password.\n\n")
	fmt.Fprintf(&b, "2. Your account: the apps you allowed, their devices, revoke one:\n     %s/account\n\n", cfg.Issuer)
	fmt.Fprintf(&b, "3. The TV: in another terminal run\n     %s demo tv --issuer %s --notes %s\n", executable(), cfg.Issuer, cloudnotes.URL(s.notes))
	fmt.Fprintf(&b, "   and enter the code it shows at %s/device\n\n", cfg.Issuer)
	fmt.Fprintf(&b, "APIs (resource servers; RFC 9728 metadata at /.well-known/oauth-protected-resource):\n")
	fmt.Fprintf(&b, "   notes   %s   (notes.read, notes.write)\n", cloudnotes.URL(s.notes))
	fmt.Fprintf(&b, "   photos  %s   (photos.read)\n", cloudnotes.URL(s.photos))
	fmt.Fprintf(&b, "Issuer:   %s\n\nCtrl-C stops everything.\n%s\n", cfg.Issuer, line)
	_, err := io.WriteString(w, b.String())
	return err
}

// executable names this binary for a command the user may copy.
func executable() string {
	if len(os.Args) > 0 && !strings.Contains(os.Args[0], "go-build") {
		return os.Args[0]
	}
	return "latchkey"
}
