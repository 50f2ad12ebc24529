package admin

import (
	_ "embed"
	"net/http"
)

// openAPI is the admin API's OpenAPI 3.1 document; a test holds it
// against the routes table both ways.
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}
