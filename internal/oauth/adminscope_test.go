package oauth

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
)

// The admin scopes are for confidential client_credentials clients only:
// a public client, or one without client_credentials, cannot be
// registered with them; they need no entry in the scope registry.
func TestValidateClient_AdminScopesOnlyForConfidentialClientCredentials(t *testing.T) {
	admin := validClient()
	admin.GrantTypes, admin.RedirectURIs = []string{GrantClientCredentials}, nil
	admin.Scopes = []string{ScopeAdmin, ScopeAdminRead}
	if err := ValidateClient(admin, testScopes()); err != nil {
		t.Fatalf("a confidential client_credentials admin client: %v", err)
	}
	web := validClient()
	web.Scopes = append(web.Scopes, ScopeAdmin)
	if err := ValidateClient(web, testScopes()); err == nil || !strings.Contains(err.Error(), "only for confidential clients with client_credentials") {
		t.Fatalf("an authorization-code client with the admin scope: %v", err)
	}
	public := validClient()
	public.Public, public.SecretHash, public.Scopes = true, "", []string{ScopeAdminRead}
	if err := ValidateClient(public, testScopes()); err == nil || !strings.Contains(err.Error(), "only for confidential clients") {
		t.Fatalf("a public client with the admin scope: %v", err)
	}
}

// A user's flow never gets an admin scope: asked for, it is invalid_scope;
// among a client's default scopes, it is left out.
func TestRequestedScopes_AdminScopesOnlyThroughClientCredentials(t *testing.T) {
	p := &Provider{Scopes: testScopes()}
	c := store.Client{Scopes: []string{"openid", ScopeAdmin}}
	if _, e := p.requestedScopes(c, ScopeAdmin, false); e == nil || e.Code != "invalid_scope" {
		t.Fatalf("admin scope in a user's flow: %v", e)
	}
	if got, e := p.requestedScopes(c, "", false); e != nil || strings.Join(got, " ") != "openid" {
		t.Fatalf("default scopes of a user's flow: %v %v", got, e)
	}
	if got, e := p.requestedScopes(c, ScopeAdmin, true); e != nil || strings.Join(got, " ") != ScopeAdmin {
		t.Fatalf("admin scope through client_credentials: %v %v", got, e)
	}
}
