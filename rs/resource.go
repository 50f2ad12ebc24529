package rs

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// resourceMetadataPath is RFC 9728 §3's well-known URI suffix.
const resourceMetadataPath = "/.well-known/oauth-protected-resource"

// protectedResourceMetadata builds RFC 9728 §3.1's metadata URL from a
// resource identifier: "inserting a well-known URI string into the
// protected resource's resource identifier between the host component and
// the path and/or query components, if any"; "any terminating slash (/)
// following the host component MUST be removed" first.
func protectedResourceMetadata(resource string) string {
	u, _ := url.Parse(resource) // checked by New
	path := u.EscapedPath()
	if path == "/" {
		path = ""
	}
	s := u.Scheme + "://" + u.Host + resourceMetadataPath + path
	if u.RawQuery != "" {
		s += "?" + u.RawQuery
	}
	return s
}

// MetadataURL is the absolute URL of this API's protected resource
// metadata (RFC 9728 §3.1), which every challenge names in
// resource_metadata (§5.1). For Resource "https://api.example/notes" it is
// "https://api.example/.well-known/oauth-protected-resource/notes". Serve
// MetadataHandler at its path.
func (g *Guard) MetadataURL() string { return g.metadataURL }

// resourceMetadata is the RFC 9728 §2 document.
type resourceMetadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	ResourceName           string   `json:"resource_name,omitempty"`
	ResourceDocumentation  string   `json:"resource_documentation,omitempty"`
}

func (c Config) resourceMetadata() []byte {
	methods := []string{"header"}
	if c.AllowFormToken {
		methods = append(methods, "body")
	}
	b, _ := json.Marshal(resourceMetadata{
		// §3.3: "The resource value returned MUST be identical to the
		// protected resource's resource identifier value into which the
		// well-known URI path suffix was inserted".
		Resource:               c.Resource,
		AuthorizationServers:   []string{c.Issuer},
		BearerMethodsSupported: methods,
		ScopesSupported:        c.ScopesSupported,
		ResourceName:           c.ResourceName,
		ResourceDocumentation:  c.ResourceDocumentation,
	})
	return b
}

// MetadataHandler serves the protected resource metadata (RFC 9728 §3.2:
// a 200 answer with Content-Type application/json) to GET and HEAD.
func (g *Guard) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			w.Write(g.metadataDoc)
		}
	})
}

// validScope checks RFC 6749 §3.3's scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E )
func validScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// joinScopes is a scope value (RFC 6749 §3.3: space-delimited).
func joinScopes(scopes []string) string { return strings.Join(scopes, " ") }
