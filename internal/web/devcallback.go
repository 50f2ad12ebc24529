package web

import "net/http"

// devCallback stands in for the demo client's redirect URI in development
// mode, showing the authorization response and how to redeem the code.
func (pg *Pages) devCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pg.render(w, r, http.StatusOK, "devcallback", struct {
		Title, Code, State, Iss, Error, ErrorDescription, TokenURL, RedirectURI string
	}{
		Title: "Callback", Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss"),
		Error: q.Get("error"), ErrorDescription: q.Get("error_description"),
		TokenURL: pg.oauth.Issuer + "/token", RedirectURI: pg.oauth.Issuer + "/dev/callback",
	})
}
