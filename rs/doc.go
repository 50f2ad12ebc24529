// Package rs protects an HTTP API with access tokens from an OAuth 2.0
// authorization server such as Latchkey: it is the resource server's side
// of RFC 6750 (Bearer tokens), RFC 9068 (JWT access tokens), RFC 7662
// (introspection of opaque tokens), RFC 9449 (DPoP: tokens bound to the
// client's key) and RFC 9728 (protected resource metadata). It imports
// only the standard library, go-jose and Latchkey's public dpop package.
//
//	g, err := rs.New(rs.Config{Issuer: "https://login.example", Resource: "https://api.example/notes"})
//	mux.Handle("GET /notes", g.Require("notes.read")(notesHandler))
//	mux.Handle("GET /.well-known/oauth-protected-resource/notes", g.MetadataHandler())
//	// in notesHandler: tok, _ := rs.FromContext(r.Context()); tok.Subject ...
//
// JWTs are checked locally against the issuer's JWKS; other tokens are
// introspected when Config has client credentials. Verified tokens are
// cached (by their SHA-256, never past their exp), so a reused token costs
// a hash and a map lookup. New fetches nothing: the API may start before
// the authorization server (Prefetch fetches eagerly).
package rs
