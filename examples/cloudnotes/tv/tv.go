// Package tv is the seeds' TV (or watch) app: a device with no keyboard
// to speak of. It signs the user in with the device authorization grant
// (RFC 8628): it shows a short code, the user approves it on a phone or
// PC, and the TV then lists the user's notes.
package tv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"golang.org/x/oauth2"
)

// Config is how the TV app is registered and where the notes are.
type Config struct {
	Issuer   string
	ClientID string // a public client with the device_code grant type
	// NotesAPI is the notes API's base URL, also its resource indicator.
	NotesAPI string
	// Out is the TV's screen.
	Out io.Writer
	// HTTPClient, when set, makes every request; by default the TV names
	// itself in User-Agent, so the user's device list says "a TV".
	HTTPClient *http.Client
}

// userAgent names the TV app in every request.
type userAgent struct{ next http.RoundTripper }

func (u userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", "CloudNotesTV/1.0 (SmartTV; Linux)")
	return u.next.RoundTrip(r)
}

// Note is what the TV shows of a note.
type Note struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

// Run signs in with the device grant, then prints the user's notes. It
// returns when the notes are shown, the user denied, the code expired or
// ctx ended.
func Run(ctx context.Context, cfg Config) ([]Note, error) {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: userAgent{http.DefaultTransport}}
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	conf := &oauth2.Config{
		ClientID: cfg.ClientID,
		Scopes:   []string{"notes.read"},
		Endpoint: oauth2.Endpoint{
			DeviceAuthURL: cfg.Issuer + "/device_authorization",
			TokenURL:      cfg.Issuer + "/token",
			AuthStyle:     oauth2.AuthStyleInParams,
		},
	}
	resource := oauth2.SetAuthURLParam("resource", cfg.NotesAPI)
	da, err := conf.DeviceAuth(ctx, resource)
	if err != nil {
		return nil, fmt.Errorf("device authorization: %w", err)
	}
	fmt.Fprintf(cfg.Out, "To sign in, visit %s and enter the code %s\n", da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(cfg.Out, "(or open %s)\n", da.VerificationURIComplete)
	}
	// x/oauth2 polls at the given interval, slowing down when told
	// (RFC 8628 §3.5), until approval, denial or expiry.
	tok, err := conf.DeviceAccessToken(ctx, da, resource)
	if err != nil {
		return nil, fmt.Errorf("sign-in did not finish: %w", err)
	}
	fmt.Fprintln(cfg.Out, "Signed in.")
	client := conf.Client(ctx, tok)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.NotesAPI+"/notes", nil)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("notes API: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("notes API answered %d (%s)", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	var notes []Note
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&notes); err != nil {
		return nil, fmt.Errorf("notes API: %w", err)
	}
	fmt.Fprintf(cfg.Out, "Your notes (%d):\n", len(notes))
	for _, n := range notes {
		fmt.Fprintf(cfg.Out, "  * %s: %s\n", n.Title, n.Body)
	}
	return notes, nil
}
