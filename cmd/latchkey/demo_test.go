package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/internal/testenv"
)

// demoRun is `latchkey demo` running on free ports.
type demoRun struct {
	*served
	db                                 string // the --database flag
	issuer, printURL, notesURL, photos string
	password                           string
}

// startDemo runs `latchkey demo` in-process on free loopback ports and
// reads what to open from its banner.
func startDemo(t *testing.T) *demoRun {
	t.Helper()
	db, _ := tempDB(t)
	s := startCommand(t, nil, "demo", db, "--listen", "127.0.0.1:0", "--notes", "127.0.0.1:0",
		"--photos", "127.0.0.1:0", "--print", "127.0.0.1:0")
	out := s.stdout.String()
	find := func(re string) string {
		t.Helper()
		m := regexp.MustCompile(re).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("the banner lacks %s:\n%s", re, out)
		}
		return m[1]
	}
	return &demoRun{served: s, db: db,
		issuer: find(`Issuer:\s+(\S+)`), printURL: find(`Cloud Print[^\n]*:\n\s+(\S+)`),
		notesURL: find(`notes\s+(http://\S+)`), photos: find(`photos\s+(http://\S+)`),
		password: find(`Sign in as\s+demo / (\S+)`)}
}

// get calls an API with a bearer token.
func get(t *testing.T, url, token string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b)
}

// TestDemo_AudienceKeepsEachAPIsTokens: a token for the notes API is
// refused by the photos API (RFC 8707: its aud is the notes API), which
// says why and where to get the right one (RFC 6750 §3, RFC 9728).
func TestDemo_AudienceKeepsEachAPIsTokens(t *testing.T) {
	d := startDemo(t)
	var backup clientView
	mustRunJSON(t, &backup, "clients", "create", d.db, "--name", "Notes backup", "--grant-type", "client_credentials", "--scope", "notes.read")
	cc := clientcredentials.Config{ClientID: backup.ClientID, ClientSecret: backup.ClientSecret, TokenURL: d.issuer + "/token", Scopes: []string{"notes.read"}}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if status, _, body := get(t, d.notesURL+"/notes", tok.AccessToken); status != http.StatusOK {
		t.Fatalf("the notes API refused its own token: %d %s", status, body)
	}
	status, challenge, _ := get(t, d.photos+"/photos", tok.AccessToken)
	if status != http.StatusUnauthorized || !strings.Contains(challenge, `error="invalid_token"`) ||
		!strings.Contains(challenge, `resource_metadata="`+d.photos+`/.well-known/oauth-protected-resource"`) {
		t.Fatalf("photos API with a notes token: %d %q", status, challenge)
	}
	// notes.read does not write (RFC 6750 §3.1 insufficient_scope).
	if status, challenge := send(t, http.MethodPost, d.notesURL+"/notes", tok.AccessToken, `{"title":"x"}`); status != http.StatusForbidden ||
		!strings.Contains(challenge, `error="insufficient_scope"`) || !strings.Contains(challenge, `scope="notes.write"`) {
		t.Fatalf("POST with notes.read: %d %q", status, challenge)
	}
}

// TestDemo_NotesAPI: a client holding notes.write creates, reads and
// deletes notes; each client sees its own.
func TestDemo_NotesAPI(t *testing.T) {
	d := startDemo(t)
	var writer clientView
	mustRunJSON(t, &writer, "clients", "create", d.db, "--name", "Notes sync", "--grant-type", "client_credentials", "--scope", "notes.read notes.write")
	cc := clientcredentials.Config{ClientID: writer.ClientID, ClientSecret: writer.ClientSecret, TokenURL: d.issuer + "/token"}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := send(t, http.MethodPost, d.notesURL+"/notes", tok.AccessToken, `not json`); status != http.StatusBadRequest {
		t.Fatalf("POST garbage: %d", status)
	}
	status, body := sendBody(t, http.MethodPost, d.notesURL+"/notes", tok.AccessToken, `{"title":"Print list","body":"3 photos"}`)
	var n struct{ ID, Title string }
	if status != http.StatusCreated || json.Unmarshal([]byte(body), &n) != nil || n.Title != "Print list" {
		t.Fatalf("POST: %d %s", status, body)
	}
	if status, _, body := get(t, d.notesURL+"/notes/"+n.ID, tok.AccessToken); status != http.StatusOK || !strings.Contains(body, "3 photos") {
		t.Fatalf("GET: %d %s", status, body)
	}
	if status, _ := send(t, http.MethodDelete, d.notesURL+"/notes/"+n.ID, tok.AccessToken, ""); status != http.StatusNoContent {
		t.Fatalf("DELETE: %d", status)
	}
	if status, _, _ := get(t, d.notesURL+"/notes/"+n.ID, tok.AccessToken); status != http.StatusNotFound {
		t.Fatalf("GET after DELETE: %d", status)
	}
}

// send calls an API with a bearer token and a JSON body; it returns the
// status and the challenge.
func send(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	resp := do(t, method, url, token, body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

// sendBody is send returning the answer's body.
func sendBody(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	resp := do(t, method, url, token, body)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func do(t *testing.T, method, url, token, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestBrowser_DemoStory walks the seeds' story in headless Chromium: the
// third-party cloud-print app signs the demo user in (code flow, PKCE,
// photos.read only), lists the photos and prints one, refreshes its short
// token; the user revokes it on /account, and its next call asks the user
// to sign in again.
func TestBrowser_DemoStory(t *testing.T) {
	ctx := testenv.Chromium(t)
	d := startDemo(t)
	// Access tokens that x/oauth2 takes as expired at once (it renews a
	// token 10 s before its exp), so every call of the app refreshes; long
	// enough to reach the photos API under -race on a loaded machine.
	mustRun(t, "", "clients", "update", d.db, "cloud-print", "--access-token-ttl", "5s")

	steps, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	fail := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v\nstderr:\n%s", what, err, d.stderr)
		}
	}
	fail("sign in", chromedp.Do(steps,
		chromedp.Navigate(d.printURL),
		chromedp.Click(css(`a[data-action=sign-in]`)),
		chromedp.WaitVisible(css(`#username`)),
		chromedp.SendKeys(css(`#username`), "demo"),
		chromedp.SendKeys(css(`#password`), d.password),
		chromedp.Submit(css(`#password`)),
		chromedp.WaitVisible(css(`button[value=allow]`)),
	))
	consent, err := chromedp.Run(steps, chromedp.Text(css(`main`)))
	fail("consent page", err)
	if !strings.Contains(consent, "Cloud Print") || !strings.Contains(consent, "See your photos") || strings.Contains(consent, "notes") {
		t.Fatalf("the consent page must name the app and ask only for photos:\n%s", consent)
	}
	fail("allow", chromedp.Do(steps, chromedp.Click(css(`button[value=allow]`)), chromedp.WaitVisible(css(`li[data-photo]`))))
	photos, err := chromedp.Run(steps, chromedp.Evaluate[[]string](`[...document.querySelectorAll('li[data-photo]')].map(e => e.textContent)`))
	fail("photos", err)
	fail("print", chromedp.Do(steps, chromedp.Click(css(`li[data-photo="1"] a`)), chromedp.WaitVisible(css(`figure[data-printable] img`)),
		chromedp.WaitVisible(css(`button[data-print]`))))
	width, err := chromedp.Run(steps, chromedp.Poll[int](`(() => { const i = document.querySelector('figure img'); return i.complete && i.naturalWidth })()`))
	fail("printed image", err)
	if len(photos) != 3 || !strings.Contains(photos[0], "Sunset") || width != 480 {
		t.Fatalf("photos %q, printed image width %d", photos, width)
	}

	// The browser itself presents a notes token: the notes API answers,
	// the photos API refuses it (RFC 8707 audience, RFC 6750 §3.1).
	var backup clientView
	mustRunJSON(t, &backup, "clients", "create", d.db, "--name", "Notes backup", "--grant-type", "client_credentials", "--scope", "notes.read")
	cc := clientcredentials.Config{ClientID: backup.ClientID, ClientSecret: backup.ClientSecret, TokenURL: d.issuer + "/token"}
	notesTok, err := cc.Token(context.Background())
	fail("notes token", err)
	bearer := func(tok string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			h := network.Headers{}
			if tok != "" {
				h["Authorization"] = "Bearer " + tok
			}
			_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: h})
			return err
		})
	}
	fail("bearer header", chromedp.Do(steps, bearer(notesTok.AccessToken)))
	for _, api := range []struct {
		url  string
		want int64
	}{{d.notesURL + "/notes", http.StatusOK}, {d.photos + "/photos", http.StatusUnauthorized}} {
		resp, err := chromedp.Run(steps, chromedp.NavigateResponse(api.url))
		fail("GET "+api.url, err)
		if resp.Status != api.want {
			t.Fatalf("GET %s with a notes token in Chromium: %d, want %d", api.url, resp.Status, api.want)
		}
	}
	fail("no bearer header", chromedp.Do(steps, bearer("")))

	// The user revokes the app on /account; its next call fails and it
	// asks to sign in again, which works.
	revoke := css(`[data-client-id="cloud-print"] button[aria-label^="Revoke access of"]`)
	fail("account", chromedp.Do(steps, chromedp.Navigate(d.issuer+"/account"), chromedp.WaitVisible(revoke)))
	account, err := chromedp.Run(steps, chromedp.OuterHTML(css(`main`)))
	fail("account page", err)
	fail("revoke", chromedp.Do(steps,
		chromedp.Click(revoke),
		chromedp.WaitVisible(css(`.notice`)),
		chromedp.Navigate(d.printURL+"/photos"),
		chromedp.WaitVisible(css(`[data-reauth]`)),
		chromedp.Click(css(`a[data-action=sign-in]`)),
		chromedp.WaitVisible(css(`button[value=allow]`)),
		chromedp.Click(css(`button[value=allow]`)),
		chromedp.WaitVisible(css(`li[data-photo]`)),
	))
	if !strings.Contains(account, `data-event="refreshed"`) {
		t.Fatalf("the app's short token was never refreshed; account page:\n%s", account)
	}
}

// TestBrowser_DemoTV runs the TV app (`latchkey demo tv`) while the user
// types the code it shows into /device in Chromium and allows it: the TV's
// polling (RFC 8628 §3.4) ends with a token for the notes API, and the TV
// lists the demo user's notes. Denying another code ends the TV with
// access_denied.
func TestBrowser_DemoTV(t *testing.T) {
	ctx := testenv.Chromium(t)
	d := startDemo(t)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	codeRe := regexp.MustCompile(`enter the code ([A-Z]{4}-[A-Z]{4})`)

	// tv starts the TV app and returns the code it shows and its result.
	tv := func() (string, chan result) {
		t.Helper()
		out := &syncBuffer{}
		done := make(chan result, 1)
		go func() {
			a := &app{stdin: strings.NewReader(""), stdout: out, stderr: io.Discard, lookupEnv: func(string) (string, bool) { return "", false }}
			err := a.run(t.Context(), []string{"demo", "tv", "--issuer", d.issuer, "--notes", d.notesURL})
			done <- result{stdout: out.String(), err: err}
		}()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if m := codeRe.FindStringSubmatch(out.String()); m != nil {
				return m[1], done
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("the TV showed no code:\n%s", out)
		return "", nil
	}

	code, done := tv()
	steps, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	fail := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v\nstderr:\n%s", what, err, d.stderr)
		}
	}
	fail("sign in and enter the code", chromedp.Do(steps,
		chromedp.Navigate(d.issuer+"/device"),
		chromedp.WaitVisible(css(`#username`)),
		chromedp.SendKeys(css(`#username`), "demo"),
		chromedp.SendKeys(css(`#password`), d.password),
		chromedp.Submit(css(`#password`)),
		chromedp.WaitVisible(css(`#user_code`)),
		chromedp.SendKeys(css(`#user_code`), strings.ToLower(code)), // typed as a user would
		chromedp.Submit(css(`#user_code`)),
		chromedp.WaitVisible(css(`button[value=allow]`)),
	))
	confirm, err := chromedp.Run(steps, chromedp.Text(css(`main`)))
	fail("confirmation page", err)
	if !strings.Contains(confirm, "Notes on the TV") || !strings.Contains(confirm, "Read your notes") {
		t.Fatalf("the confirmation must name the TV app and its scope:\n%s", confirm)
	}
	fail("allow", chromedp.Do(steps, chromedp.Click(css(`button[value=allow]`)), chromedp.WaitVisible(css(`[data-result=allowed]`))))
	select {
	case r := <-done:
		if r.err != nil || !strings.Contains(r.stdout, "Your notes (3)") || !strings.Contains(r.stdout, "Watch list") {
			t.Fatalf("the TV after approval: %v\n%s", r.err, r.stdout)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the TV did not finish within 60 s of the approval")
	}

	// The TV is one of the user's devices, described as one.
	fail("account", chromedp.Do(steps, chromedp.Navigate(d.issuer+"/account"), chromedp.WaitVisible(css(`[data-client-id="notes-tv"] [data-device]`))))
	tvDevice, err := chromedp.Run(steps, chromedp.Text(css(`[data-client-id="notes-tv"] [data-device]`)))
	fail("account page", err)
	if !strings.Contains(tvDevice, "CloudNotesTV on a TV") {
		t.Fatalf("the TV on /account: %q", tvDevice)
	}

	// A second TV is denied: it stops polling with access_denied.
	code, done = tv()
	fail("deny", chromedp.Do(steps,
		chromedp.Navigate(d.issuer+"/device"),
		chromedp.WaitVisible(css(`#user_code`)),
		chromedp.SendKeys(css(`#user_code`), code),
		chromedp.Submit(css(`#user_code`)),
		chromedp.WaitVisible(css(`button[value=deny]`)),
		chromedp.Click(css(`button[value=deny]`)),
		chromedp.WaitVisible(css(`[data-result=denied]`)),
	))
	select {
	case r := <-done:
		if r.err == nil || !strings.Contains(r.err.Error(), "access_denied") {
			t.Fatalf("a denied TV ended with %v\n%s", r.err, r.stdout)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the denied TV did not stop within 60 s")
	}
}
