package rs

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"testing"
)

func TestMetadataURL(t *testing.T) {
	for _, c := range []struct{ name, resource, want string }{
		{"RFC9728_3.1/path_goes_after_the_well_known_path", "https://api.example/notes",
			"https://api.example/.well-known/oauth-protected-resource/notes"},
		{"RFC9728_3.1/no_path", "https://api.example",
			"https://api.example/.well-known/oauth-protected-resource"},
		{"RFC9728_3.1/terminating_slash_after_host_is_removed", "https://api.example/",
			"https://api.example/.well-known/oauth-protected-resource"},
		{"RFC9728_3.1/port_is_kept", "http://127.0.0.1:9001",
			"http://127.0.0.1:9001/.well-known/oauth-protected-resource"},
		{"RFC9728_3.1/query_is_kept", "https://api.example/notes?v=2",
			"https://api.example/.well-known/oauth-protected-resource/notes?v=2"},
		{"RFC9728_3.1/slash_ending_a_path_is_kept", "https://api.example/notes/",
			"https://api.example/.well-known/oauth-protected-resource/notes/"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, err := New(Config{Issuer: "https://login.example", Resource: c.resource})
			if err != nil {
				t.Fatal(err)
			}
			if got := g.MetadataURL(); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestMetadataHandler(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		want map[string]any
	}{
		{"RFC9728_2/minimal", Config{Issuer: "https://login.example", Resource: testResource}, map[string]any{
			"resource": testResource, "authorization_servers": []any{"https://login.example"},
			"bearer_methods_supported": []any{"header"},
		}},
		{"RFC9728_2/all_members", Config{Issuer: "https://login.example", Resource: testResource, AllowFormToken: true,
			ResourceName: "Notes", ScopesSupported: []string{"notes.read", "notes.write"}, ResourceDocumentation: "https://docs.example/notes"},
			map[string]any{
				"resource": testResource, "authorization_servers": []any{"https://login.example"},
				"bearer_methods_supported": []any{"header", "body"}, "scopes_supported": []any{"notes.read", "notes.write"},
				"resource_name": "Notes", "resource_documentation": "https://docs.example/notes",
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, err := New(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			g.MetadataHandler().ServeHTTP(w, httptest.NewRequest("GET", g.MetadataURL(), nil))
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != 200 {
				t.Fatalf("%d %s: %v", w.Code, w.Body, err)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("RFC9728_3.2/Content-Type %q", ct)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v\nwant %v", got, c.want)
			}
		})
	}
	g, _ := New(Config{Issuer: "https://login.example", Resource: testResource})
	w := httptest.NewRecorder()
	g.MetadataHandler().ServeHTTP(w, httptest.NewRequest("POST", "/", nil))
	if w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %q", w.Code, w.Header())
	}
	w = httptest.NewRecorder()
	g.MetadataHandler().ServeHTTP(w, httptest.NewRequest("HEAD", "/", nil))
	if w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d %q", w.Code, w.Body)
	}
}
