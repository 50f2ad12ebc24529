package admin

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestOpenAPI_DocumentIsValid loads the served document with a real
// OpenAPI validator (kin-openapi) and validates it.
func TestOpenAPI_DocumentIsValid(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPI)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	// The validator is no rubber stamp: a response without a description
	// or a schema of an unknown type fails.
	for _, broken := range []string{
		strings.Replace(string(openAPI), `"description": "A page of clients"`, `"x-description": "A page of clients"`, 1),
		strings.Replace(string(openAPI), `"type": "boolean"`, `"type": "yes-or-no"`, 1),
	} {
		bad, err := openapi3.NewLoader().LoadFromData([]byte(broken))
		if err == nil && bad.Validate(context.Background()) == nil {
			t.Errorf("a broken document passes validation")
		}
	}
}

// TestOpenAPI_EveryRouteIsDocumentedAndEveryDocumentedRouteIsServed holds
// the document against the routes table both ways, and checks that each
// documented operation answers (a 401 without a token, not the 404 or 405
// of an unknown route).
func TestOpenAPI_EveryRouteIsDocumentedAndEveryDocumentedRouteIsServed(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPI)
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range routes {
		served[rt.method+" "+rt.path] = true
		if !documented[rt.method+" "+rt.path] {
			t.Errorf("route %s %s is not in openapi.json", rt.method, rt.path)
		}
	}
	var extra []string
	for op := range documented {
		if !served[op] {
			extra = append(extra, op)
		}
	}
	slices.Sort(extra)
	for _, op := range extra {
		t.Errorf("openapi.json documents %s, which no route serves", op)
	}
	// Each route's handler is reached: the guard answers first.
	a := New(Options{})
	for _, rt := range routes {
		path := strings.NewReplacer("{id}", "x", "{uri}", "x", "{kid}", "x").Replace(rt.path)
		req, _ := http.NewRequest(rt.method, Prefix+path, nil)
		_, pattern := a.mux.Handler(req)
		if pattern != rt.method+" "+Prefix+rt.path {
			t.Errorf("%s %s reaches %q", rt.method, path, pattern)
		}
	}
}
