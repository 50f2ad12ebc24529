package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/latchkey/latchkey/internal/store"
)

// outputFlag is --output, taken by every management command.
type outputFlag struct{ format string }

func (o *outputFlag) register(fs *pflag.FlagSet) {
	fs.StringVarP(&o.format, "output", "o", "text", "output `FORMAT`: text or json")
}

// check refuses an unknown format before the command changes anything.
func (o *outputFlag) check(cmd *cobra.Command) error {
	switch o.format {
	case "text", "json":
		return nil
	}
	return usageError(cmd, fmt.Sprintf("invalid --output %q: want text or json", o.format))
}

func (o *outputFlag) json() bool { return o.format == "json" }

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// clientView is how a client is shown: never its stored secret hash, and the
// plain secret only right after it was created or rotated.
type clientView struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	Name         string `json:"name"`
	Public       bool   `json:"public"`
	// SecretStorage tells how the secret is verified: "sha256" for a
	// Latchkey-generated secret, "argon2id" for an imported one.
	SecretStorage           string   `json:"secret_storage,omitempty"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	Scopes                  []string `json:"scopes"`
	CodeTTL                 string   `json:"code_ttl,omitempty"`
	AccessTokenTTL          string   `json:"access_token_ttl,omitempty"`
	RefreshTokenTTL         string   `json:"refresh_token_ttl,omitempty"`
	AccessTokenFormat       string   `json:"access_token_format,omitempty"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty"`
	JWKS                    string   `json:"jwks,omitempty"`
	JWKSURI                 string   `json:"jwks_uri,omitempty"`
	// OpenID Connect and platform metadata, named as in OpenID Connect
	// Dynamic Client Registration where it has a name.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	BackchannelLogoutURI   string   `json:"backchannel_logout_uri,omitempty"`
	FrontchannelLogoutURI  string   `json:"frontchannel_logout_uri,omitempty"`
	InitiateLoginURI       string   `json:"initiate_login_uri,omitempty"`
	LogoURI                string   `json:"logo_uri,omitempty"`
	ClientURI              string   `json:"client_uri,omitempty"`
	Description            string   `json:"description,omitempty"`
	FirstParty             bool     `json:"first_party"`
	IDTokenAlg             string   `json:"id_token_alg,omitempty"`
	Resources              []string `json:"resources"`
	// RequirePushedAuthorizationRequests is RFC 9126 §6's client metadata.
	RequirePushedAuthorizationRequests bool `json:"require_pushed_authorization_requests"`
	// DPoPBoundAccessTokens is RFC 9449 §5.2's client metadata.
	DPoPBoundAccessTokens bool `json:"dpop_bound_access_tokens"`
	// RequireSignedRequestObject is RFC 9101 §10.5's client metadata.
	RequireSignedRequestObject bool `json:"require_signed_request_object"`
	// Profile is the security profile the client is held to ("fapi2").
	Profile   string    `json:"profile,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// SelfRegistered: the client registered itself (RFC 7591); UsedAt is
	// when it was last used, to the hour, which decides its expiry.
	SelfRegistered bool      `json:"self_registered"`
	UsedAt         time.Time `json:"used_at,omitzero"`
}

func newClientView(c store.Client, plainSecret string) clientView {
	return clientView{
		ClientID:                c.ID,
		ClientSecret:            plainSecret,
		Name:                    c.Name,
		Public:                  c.Public,
		SecretStorage:           secretStorage(c.SecretHash),
		RedirectURIs:            nonNil(c.RedirectURIs),
		GrantTypes:              nonNil(c.GrantTypes),
		Scopes:                  nonNil(c.Scopes),
		CodeTTL:                 ttl(c.CodeTTL),
		AccessTokenTTL:          ttl(c.AccessTokenTTL),
		RefreshTokenTTL:         ttl(c.RefreshTokenTTL),
		AccessTokenFormat:       c.AccessTokenFormat,
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		JWKS:                    c.JWKS,
		JWKSURI:                 c.JWKSURI,
		PostLogoutRedirectURIs:  nonNil(c.PostLogoutRedirectURIs),
		BackchannelLogoutURI:    c.BackchannelLogoutURI,
		FrontchannelLogoutURI:   c.FrontchannelLogoutURI,
		InitiateLoginURI:        c.InitiateLoginURI,
		LogoURI:                 c.LogoURI,
		ClientURI:               c.ClientURI,
		Description:             c.Description,
		FirstParty:              c.FirstParty,
		IDTokenAlg:              c.IDTokenAlg,
		Resources:               nonNil(c.Resources),
		CreatedAt:               c.CreatedAt,

		RequirePushedAuthorizationRequests: c.RequirePushedAuthorizationRequests,
		DPoPBoundAccessTokens:              c.DPoPBoundAccessTokens,
		RequireSignedRequestObject:         c.RequireSignedRequestObject,
		Profile:                            c.Profile,
		UpdatedAt:                          c.UpdatedAt,
		SelfRegistered:                     c.SelfRegistered,
		UsedAt:                             c.UsedAt,
	}
}

func secretStorage(hash string) string {
	switch {
	case hash == "":
		return ""
	case strings.HasPrefix(hash, "sha256:"):
		return "sha256"
	case strings.HasPrefix(hash, "$argon2id$"):
		return "argon2id"
	}
	return "unknown"
}

func ttl(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// writeClient prints one client as a readable summary.
func writeClient(w io.Writer, v clientView) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Client ID:\t%s\n", v.ClientID)
	if v.ClientSecret != "" {
		fmt.Fprintf(tw, "Client secret:\t%s\n", v.ClientSecret)
		fmt.Fprintf(tw, "\t(shown once: store it now; Latchkey keeps only a hash)\n")
	}
	fmt.Fprintf(tw, "Name:\t%s\n", v.Name)
	kind := "confidential"
	switch {
	case v.Public:
		kind = "public (no secret; PKCE required)"
	case v.SecretStorage == "argon2id":
		kind = "confidential (imported secret, argon2id)"
	case v.SecretStorage == "sha256":
		kind = "confidential (generated secret)"
	}
	if v.FirstParty {
		kind += ", first-party (consent implied)"
	}
	if v.RequirePushedAuthorizationRequests {
		kind += ", pushed authorization requests required"
	}
	if v.DPoPBoundAccessTokens {
		kind += ", DPoP-bound tokens only"
	}
	if v.RequireSignedRequestObject {
		kind += ", signed request objects required"
	}
	if v.Profile != "" {
		kind += ", profile " + v.Profile
	}
	fmt.Fprintf(tw, "Type:\t%s\n", kind)
	if v.Description != "" {
		fmt.Fprintf(tw, "Description:\t%s\n", v.Description)
	}
	fmt.Fprintf(tw, "Redirect URIs:\t%s\n", listOrNone(v.RedirectURIs, "\n\t"))
	fmt.Fprintf(tw, "Post-logout redirect URIs:\t%s\n", listOrNone(v.PostLogoutRedirectURIs, "\n\t"))
	for _, u := range []struct{ name, v string }{
		{"Back-channel logout URI", v.BackchannelLogoutURI}, {"Front-channel logout URI", v.FrontchannelLogoutURI},
		{"Initiate login URI", v.InitiateLoginURI}, {"Logo URI", v.LogoURI}, {"Client URI", v.ClientURI},
	} {
		if u.v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", u.name, u.v)
		}
	}
	fmt.Fprintf(tw, "Grant types:\t%s\n", listOrNone(v.GrantTypes, ", "))
	fmt.Fprintf(tw, "Scopes:\t%s\n", listOrNone(v.Scopes, " "))
	if len(v.Resources) > 0 {
		fmt.Fprintf(tw, "Resources:\t%s\n", strings.Join(v.Resources, "\n\t"))
	}
	for _, d := range []struct{ name, v string }{
		{"Code TTL", v.CodeTTL}, {"Access token TTL", v.AccessTokenTTL}, {"Refresh token TTL", v.RefreshTokenTTL},
	} {
		if d.v == "" {
			d.v = "server default"
		}
		fmt.Fprintf(tw, "%s:\t%s\n", d.name, d.v)
	}
	alg := v.IDTokenAlg
	if alg == "" {
		alg = "RS256 (default)"
	}
	fmt.Fprintf(tw, "ID token algorithm:\t%s\n", alg)
	if v.SelfRegistered {
		fmt.Fprintf(tw, "Self-registered:\tyes (RFC 7591; expires when unused, see registration.unused_client_ttl)\n")
		if !v.UsedAt.IsZero() {
			fmt.Fprintf(tw, "Last used:\t%s\n", formatTime(v.UsedAt))
		}
	}
	fmt.Fprintf(tw, "Created:\t%s\n", formatTime(v.CreatedAt))
	fmt.Fprintf(tw, "Updated:\t%s\n", formatTime(v.UpdatedAt))
	return tw.Flush()
}

// writeClientTable prints clients one per line.
func writeClientTable(w io.Writer, views []clientView) error {
	if len(views) == 0 {
		_, err := fmt.Fprintln(w, "No clients.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT ID\tNAME\tTYPE\tGRANT TYPES\tREDIRECT URIS")
	for _, v := range views {
		kind := "confidential"
		if v.Public {
			kind = "public"
		}
		if v.FirstParty {
			kind += ",first-party"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.ClientID, v.Name, kind, listOrNone(v.GrantTypes, ","), listOrNone(v.RedirectURIs, " "))
	}
	return tw.Flush()
}

// userView is how a user is shown: never the password hash.
type userView struct {
	ID            string    `json:"id"`
	Username      string    `json:"username"`
	Name          string    `json:"name"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Disabled      bool      `json:"disabled"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func newUserView(u store.User) userView {
	return userView{ID: u.ID, Username: u.Username, Name: u.Name, Email: u.Email, EmailVerified: u.EmailVerified,
		Disabled: !u.DisabledAt.IsZero(), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// emailText is the address with whether it is verified, for text output.
func emailText(v userView) string {
	if v.Email != "" && v.EmailVerified {
		return v.Email + " (verified)"
	}
	return orNone(v.Email)
}

func writeUser(w io.Writer, v userView) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Username:\t%s\n", v.Username)
	fmt.Fprintf(tw, "ID:\t%s\n", v.ID)
	fmt.Fprintf(tw, "Name:\t%s\n", orNone(v.Name))
	fmt.Fprintf(tw, "Email:\t%s\n", emailText(v))
	fmt.Fprintf(tw, "Created:\t%s\n", formatTime(v.CreatedAt))
	fmt.Fprintf(tw, "Updated:\t%s\n", formatTime(v.UpdatedAt))
	return tw.Flush()
}

func writeUserTable(w io.Writer, views []userView) error {
	if len(views) == 0 {
		_, err := fmt.Fprintln(w, "No users.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tNAME\tEMAIL\tID")
	for _, v := range views {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Username, orNone(v.Name), emailText(v), v.ID)
	}
	return tw.Flush()
}

func listOrNone(l []string, sep string) string {
	if len(l) == 0 {
		return "(none)"
	}
	return strings.Join(l, sep)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "(unknown)"
	}
	return t.UTC().Format(time.RFC3339)
}
