package oauth

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// Response modes (OAuth 2.0 Multiple Response Type Encoding Practices §2.1,
// OAuth 2.0 Form Post Response Mode §2).
const (
	ModeQuery    = "query"
	ModeFragment = "fragment"
	ModeFormPost = "form_post"
)

// ResponseModes lists every response mode Latchkey implements.
var ResponseModes = []string{ModeQuery, ModeFragment, ModeFormPost}

// Redirect is where an authorization response goes: a redirect URI already
// checked against the client's registration, the state to echo, and how
// the parameters travel.
type Redirect struct {
	URI   string
	State string
	// Mode is query, fragment or form_post; empty means query.
	Mode string
}

// Response is an authorization response on its way to the client: the
// parameters of a success (RFC 6749 §4.1.2, §4.2.2; OpenID Connect Core
// §3.2.2.5, §3.3.2.5) or an error (§4.1.2.1).
type Response struct {
	To     Redirect
	Params url.Values
}

// ErrorResponse is the error e sent to this redirect.
func (d Redirect) ErrorResponse(e *Error) Response {
	return Response{To: d, Params: url.Values{"error": {e.Code}, "error_description": {e.Description}}}
}

// params returns the parameters to send: the response's, plus state when
// the request had one, plus iss (RFC 9207 §2), each once.
func (resp Response) params(issuer string) url.Values {
	out := make(url.Values, len(resp.Params)+2)
	for k, v := range resp.Params {
		out[k] = v
	}
	if resp.To.State != "" {
		out.Set("state", resp.To.State)
	}
	out.Set("iss", issuer)
	return out
}

// Location builds the response URI for the query and fragment modes: the
// redirect URI with its own query kept and the response parameters added
// once each (RFC 6749 §3.1.2).
func (resp Response) Location(issuer string) string {
	if resp.To.Mode == ModeFragment {
		return resp.To.URI + "#" + resp.params(issuer).Encode()
	}
	return AppendQuery(resp.To.URI, resp.params(issuer))
}

// AppendQuery adds q to the query of uri, keeping the query uri already has.
func AppendQuery(uri string, q url.Values) string {
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	return uri + sep + q.Encode()
}

// Origin is the scheme://host of uri, for a Content-Security-Policy
// source; "" when uri has no host.
func Origin(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// Respond sends an authorization response to the browser: a redirect for
// query and fragment, and for form_post an HTML form that the browser posts
// to the redirect URI (Form Post Response Mode §2).
func (p *Provider) Respond(w http.ResponseWriter, r *http.Request, resp Response) {
	if resp.To.Mode != ModeFormPost {
		RedirectBrowser(w, r, resp.Location(p.Issuer))
		return
	}
	writeFormPost(w, resp.To.URI, resp.params(p.Issuer))
}

type formPostField struct{ Name, Value string }

// formPostPage posts the fields to the client at once when scripts run, and
// shows a button when they do not. html/template escapes every value.
var formPostPage = template.Must(template.New("form_post").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>Continue</title></head>
<body><form method="post" action="{{.Action}}">{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}
<noscript><p>Your browser does not run scripts: press the button to go back to the application.</p></noscript>
<button type="submit">Continue</button></form>
<script>` + formPostScript + `</script></body></html>`))

const formPostScript = `document.forms[0].submit()`

// formPostScriptHash lets exactly this script run under the page's policy.
var formPostScriptHash = func() string {
	h := sha256.Sum256([]byte(formPostScript))
	return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
}()

func writeFormPost(w http.ResponseWriter, action string, fields url.Values) {
	data := struct {
		Action template.URL // a registered redirect URI, checked at registration
		Fields []formPostField
	}{Action: template.URL(action)}
	for k, vs := range fields {
		for _, v := range vs {
			data.Fields = append(data.Fields, formPostField{k, v})
		}
	}
	var b strings.Builder
	if err := formPostPage.Execute(&b, data); err != nil {
		http.Error(w, "the response could not be built", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	// The form goes to the client's origin, and only this page's own script runs.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src "+formPostScriptHash+"; form-action "+formAction(action)+"; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(b.String()))
}

// formAction is the CSP source that allows posting to uri: its origin, or
// its scheme for a private-use URI scheme.
func formAction(uri string) string {
	if o := Origin(uri); o != "" {
		return o
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" {
		return "'none'"
	}
	return u.Scheme + ":"
}
