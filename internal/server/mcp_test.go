package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/rs"
)

// mcpNodeDir holds mcp.mjs, an agent's authorization done by the official
// Model Context Protocol TypeScript SDK.
const mcpNodeDir = "testdata/mcp-node"

// mcpAgent starts mcp.mjs against apiURL, or skips with a notice when node
// or the SDK is missing (never in CI, where testenv.Missing fails instead).
func mcpAgent(t *testing.T, apiURL, redirectURI string) *nodeProcess {
	t.Helper()
	testenv.SkipIfShort(t, "node MCP SDK")
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "MCP readiness test: node not found on PATH")
	}
	if _, err := os.Stat(filepath.Join(mcpNodeDir, "node_modules", "@modelcontextprotocol", "sdk", "package.json")); err != nil {
		testenv.Missing(t, "MCP readiness test: the MCP SDK is not installed (npm ci --prefix internal/server/"+mcpNodeDir+")")
	}
	return runNode(t, node, mcpNodeDir, "mcp.mjs", "API_URL="+apiURL, "REDIRECT_URI="+redirectURI)
}

// mcpAPI is an API an agent wants to call: a registered resource (RFC 8707)
// behind an rs Guard that answers 401 with its metadata's URL (RFC 9728
// §5.1) and serves that metadata (§3).
func (e *env) mcpAPI() (apiURL string) {
	e.t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	resource := base + "/mcp"
	e.resource(resource, "notes.read", "notes.write")
	e.clock.Advance(6 * time.Second) // past the registry's cache
	g := e.guard(rs.Config{Resource: resource, ScopesSupported: []string{"notes.read"}, ResourceName: "Cloud notes MCP server"})
	mux := http.NewServeMux()
	mux.Handle("GET "+strings.TrimPrefix(g.MetadataURL(), base), g.MetadataHandler())
	mux.Handle("GET /mcp", g.Require("notes.read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := rs.FromContext(r.Context())
		fmt.Fprintf(w, "notes of %s for %s", tok.Subject, tok.ClientID)
	})))
	srv.Config.Handler = mux
	srv.Start()
	e.t.Cleanup(srv.Close)
	return resource
}

// TestMCP_Authorization_DiscoverRegisterAuthorizeCall: the Model Context
// Protocol's authorization (2025-06-18) end to end, with no manual setup.
// An agent built on the MCP SDK knows only the API's URL. Its first call
// answers 401 with resource_metadata (RFC 9728 §5.1); the agent reads the
// resource's metadata (RFC 9728 §3), Latchkey's (RFC 8414 §3), registers
// itself (RFC 7591 §3.1), sends the user through the authorization code
// flow with PKCE S256 (RFC 7636) and a resource indicator (RFC 8707), calls
// the API with a token whose audience is that API, and refreshes it.
func TestMCP_Authorization_DiscoverRegisterAuthorizeCall(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			// An operator opens registration to agents for the API's scopes.
			e := newEnvConfig(t, backend, dbtest.Open(t, backend), func(c *config.Config) {
				openRegistration(c)
				c.Registration.Policy.Scopes = []string{"notes.read"}
			})
			apiURL := e.mcpAPI()
			const redirectURI = "http://127.0.0.1:41999/callback"
			agent := mcpAgent(t, apiURL, redirectURI)

			var challenge struct {
				Status           int    `json:"status"`
				ResourceMetadata string `json:"resource_metadata"`
				Scope            string `json:"scope"`
			}
			agent.receive(&challenge)
			if challenge.Status != http.StatusUnauthorized || !strings.HasSuffix(challenge.ResourceMetadata, "/.well-known/oauth-protected-resource/mcp") || challenge.Scope != "notes.read" {
				t.Fatalf("first call: %+v, want 401 naming the resource's metadata and the scope", challenge)
			}

			var started struct {
				URL          string         `json:"url"`
				ClientID     string         `json:"client_id"`
				Registration map[string]any `json:"registration"`
			}
			agent.receive(&started)
			authURL, err := url.Parse(started.URL)
			if err != nil || !strings.HasPrefix(started.URL, e.issuer+"/authorize?") {
				t.Fatalf("authorization URL %q, want Latchkey's /authorize", started.URL)
			}
			q := authURL.Query()
			for k, want := range map[string]string{"client_id": started.ClientID, "code_challenge_method": "S256", "resource": apiURL, "redirect_uri": redirectURI} {
				if q.Get(k) != want {
					t.Errorf("authorization request %s = %q, want %q", k, q.Get(k), want)
				}
			}
			c, err := e.store.GetClient(t.Context(), started.ClientID)
			if err != nil || !c.Public || !c.SelfRegistered {
				t.Fatalf("registered client %+v (%v), want a public self-registered client", c, err)
			}

			back := e.authorize(e.browser(), started.URL)
			agent.send(map[string]string{"callback": back.String()})

			var called struct {
				Status    int    `json:"status"`
				Body      string `json:"body"`
				TokenType string `json:"token_type"`
				Scope     string `json:"scope"`
			}
			agent.receive(&called)
			if called.Status != http.StatusOK || called.Body != "notes of u1 for "+started.ClientID {
				t.Fatalf("call with the token: %+v", called)
			}
			var refreshed struct {
				Status int `json:"status"`
			}
			agent.receive(&refreshed)
			if refreshed.Status != http.StatusOK {
				t.Fatalf("call after refresh: %+v", refreshed)
			}
		})
	}
}
