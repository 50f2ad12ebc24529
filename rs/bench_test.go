package rs

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkGuard runs requests through the whole middleware and a trivial
// handler. jwt-reused presents one token (a cache hit: what an API sees
// from a client that keeps its token); jwt-fresh a new ES256 token each
// time (a full verification). Each reports its cost over unprotected's
// (overhead-ns/op) and unprotected's ns/op over its own (ratio), when
// unprotected ran first in the same run.
func BenchmarkGuard(b *testing.B) {
	iss := newTestIssuer(b) // its clock stands still: tokens stay valid
	g := iss.guard()
	if err := g.Prefetch(b.Context()); err != nil {
		b.Fatal(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"notes":[]}`))
	})
	protected := g.Require("notes.read")(handler)

	var base float64 // unprotected ns/op
	report := func(b *testing.B) {
		per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		if base > 0 {
			b.ReportMetric(per-base, "overhead-ns/op")
			b.ReportMetric(base/per, "ratio")
		}
	}
	run := func(b *testing.B, h http.Handler, r *http.Request) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}

	b.Run("unprotected", func(b *testing.B) {
		r := bearer(iss.token())
		b.ReportAllocs()
		for b.Loop() {
			run(b, handler, r)
		}
		base = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("jwt-reused", func(b *testing.B) {
		r := bearer(iss.token())
		b.ReportAllocs()
		for b.Loop() {
			run(b, protected, r)
		}
		report(b)
	})
	b.Run("jwt-fresh", func(b *testing.B) {
		// Signing is not what is measured: mint a batch with the timer
		// stopped whenever the last one is used up.
		var reqs []*http.Request
		b.ReportAllocs()
		for b.Loop() {
			if len(reqs) == 0 {
				b.StopTimer()
				for range 1000 {
					reqs = append(reqs, bearer(iss.token()))
				}
				b.StartTimer()
			}
			run(b, protected, reqs[0])
			reqs = reqs[1:]
		}
		report(b)
	})
}
