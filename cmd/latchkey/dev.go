package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// The demo data dev mode keeps in its database.
const (
	demoUsername   = "demo"
	demoName       = "Demo User"
	demoEmail      = "demo@example.com"
	demoClientID   = "demo-app"
	demoClientName = "Cloud Print (demo)"
	// demoCallbackPath is the dev page the banner's authorize URL returns to.
	demoCallbackPath = "/dev/callback"
	// demoNativeRedirect is a loopback redirect URI (any port, RFC 8252 §7.3).
	demoNativeRedirect = "http://127.0.0.1/callback"
	// demoAuthorizeScope is what the banner's authorize URL asks for.
	demoAuthorizeScope = "openid profile notes.read photos.read offline_access"

	labelDemoPassword     = "latchkey dev: demo user password"
	labelDemoClientSecret = "latchkey dev: demo client secret"
)

var demoClientScopes = []string{"openid", "profile", "email", "offline_access", "notes.read", "photos.read"}

// demoData is what the banner shows.
type demoData struct {
	Password     secret.Value
	ClientSecret secret.Value
	RedirectURI  string
}

// deriveDemo derives the demo password and client secret from the dev
// system secret (HMAC-SHA256 with a fixed label), so that the banner can
// print them at every start although only their hashes are stored. The
// client secret has the generated form (lk_cs_ and 43 base64url characters,
// 256 bits), so it is stored and checked as SHA-256.
func deriveDemo(systemSecret string) (password, clientSecret secret.Value) {
	mac := func(label string) string {
		h := hmac.New(sha256.New, []byte(systemSecret))
		h.Write([]byte(label))
		return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
	}
	// 16 characters (96 bits) are plenty for a password typed into a form.
	return secret.Value(mac(labelDemoPassword)[:16]), secret.Value(secret.PrefixClientSecret + mac(labelDemoClientSecret))
}

// demoClient is the registration of the demo client for an issuer.
func demoClient(redirectURIs []string, secretHash string) store.Client {
	return store.Client{
		ID:           demoClientID,
		SecretHash:   secretHash,
		Name:         demoClientName,
		RedirectURIs: redirectURIs,
		GrantTypes:   []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		Scopes:       append([]string(nil), demoClientScopes...),
	}
}

// ensureDemo creates the demo user and client the first time, and at later
// starts puts them back to what the banner says (the issuer's callback URL
// may have changed with the port, and the credentials follow the system
// secret), so there is always exactly one of each and the printed
// credentials work.
func ensureDemo(ctx context.Context, st store.Store, cfg config.Config, now time.Time, logger *slog.Logger) (demoData, error) {
	password, clientSecret := deriveDemo(cfg.SystemSecret)
	d := demoData{Password: password, ClientSecret: clientSecret, RedirectURI: cfg.Issuer + demoCallbackPath}
	redirects := []string{d.RedirectURI, demoNativeRedirect}
	if err := oauth.ValidateRegisteredRedirectURI(d.RedirectURI); err != nil {
		// An http issuer on a non-loopback host is allowed in dev mode, but
		// not as a redirect URI (RFC 8252 §7.3): fall back to loopback.
		logger.WarnContext(ctx, "dev mode: the issuer's callback cannot be a redirect URI; the demo uses the loopback one",
			"callback", d.RedirectURI, "err", err)
		d.RedirectURI, redirects = demoNativeRedirect, []string{demoNativeRedirect}
	}

	want := demoClient(redirects, secret.HashClientSecret(clientSecret.String()))
	if d.RedirectURI != demoNativeRedirect {
		// RP-initiated logout may come back to the portal.
		want.PostLogoutRedirectURIs = []string{cfg.Issuer + "/"}
	}
	if err := oauth.ValidateClient(want, oauth.NewScopes(cfg.Scopes)); err != nil {
		return demoData{}, problems("the demo client does not fit this configuration", err)
	}
	have, err := st.GetClient(ctx, demoClientID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return demoData{}, fmt.Errorf("demo client: %w", err)
	}
	did, err := upsertClient(ctx, st, want, have, err == nil, now)
	if err != nil {
		return demoData{}, fmt.Errorf("demo client: %w", err)
	}
	if did != "" {
		logger.InfoContext(ctx, "dev mode: demo client "+did, "client_id", demoClientID)
	}

	user, err := st.GetUserByUsername(ctx, demoUsername)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return demoData{}, fmt.Errorf("demo user: %w", err)
	}
	wantUser := store.User{Username: demoUsername, Name: demoName, Email: demoEmail}
	did, err = upsertUser(ctx, st, wantUser, password.String(), user, err == nil, now)
	if err != nil {
		return demoData{}, fmt.Errorf("demo user: %w", err)
	}
	if did != "" {
		logger.InfoContext(ctx, "dev mode: demo user "+did, "username", demoUsername)
	}
	return d, nil
}

// writeBanner prints what a developer needs to try the server: the issuer,
// the demo credentials, and an authorization request with PKCE (RFC 7636)
// whose code the printed curl command redeems.
//
// secretSource says where the system secret comes from.
func writeBanner(w io.Writer, cfg config.Config, secretSource string, d demoData) error {
	verifier := secret.RandomString(32) // 43 characters (RFC 7636 §4.1)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {demoClientID},
		"redirect_uri":          {d.RedirectURI},
		"scope":                 {demoAuthorizeScope},
		"state":                 {secret.RandomString(16)},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
	authorize := cfg.Issuer + "/authorize?" + q.Encode()

	database := "PostgreSQL"
	if strings.HasPrefix(cfg.Database, "sqlite:") {
		database = cfg.Database
	}

	var b strings.Builder
	line := strings.Repeat("=", 72)
	fmt.Fprintf(&b, "%s\nLatchkey is running in DEVELOPMENT MODE. Never use --dev in production.\n%s\n\n", line, line)
	fmt.Fprintf(&b, "Issuer:          %s\n", cfg.Issuer)
	fmt.Fprintf(&b, "Database:        %s\n", database)
	fmt.Fprintf(&b, "System secret:   %s\n\n", secretSource)
	fmt.Fprintf(&b, "Demo user\n")
	fmt.Fprintf(&b, "  username:      %s\n", demoUsername)
	fmt.Fprintf(&b, "  password:      %s\n\n", d.Password)
	fmt.Fprintf(&b, "Demo client (confidential): %s\n", demoClientName)
	fmt.Fprintf(&b, "  client_id:     %s\n", demoClientID)
	fmt.Fprintf(&b, "  client_secret: %s\n", d.ClientSecret)
	fmt.Fprintf(&b, "  redirect_uri:  %s\n\n", d.RedirectURI)
	fmt.Fprintf(&b, "Try the authorization code flow: open this URL and sign in as %s:\n\n", demoUsername)
	fmt.Fprintf(&b, "  %s\n\n", authorize)
	fmt.Fprintf(&b, "  code_verifier: %s\n\n", verifier)
	fmt.Fprintf(&b, "then redeem the code it returns (replace CODE):\n\n")
	fmt.Fprintf(&b, "  curl -s -u '%s:%s' \\\n", demoClientID, d.ClientSecret)
	fmt.Fprintf(&b, "    -d grant_type=authorization_code -d code=CODE \\\n")
	fmt.Fprintf(&b, "    --data-urlencode 'redirect_uri=%s' \\\n", d.RedirectURI)
	fmt.Fprintf(&b, "    -d code_verifier=%s \\\n", verifier)
	fmt.Fprintf(&b, "    %s/token\n", cfg.Issuer)
	fmt.Fprintf(&b, "%s\n", line)
	_, err := io.WriteString(w, b.String())
	return err
}
