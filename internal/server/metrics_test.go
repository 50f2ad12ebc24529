package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
)

// scrape reads url as Prometheus does, with the text parser of Prometheus
// itself.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the metrics do not parse: %v", err)
	}
	return fams
}

// sample sums the series of name whose labels include want (a counter's or
// gauge's value, a histogram's count), and reports whether any matched.
func sample(fams map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	var sum float64
	found := false
series:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue series
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum, found
}

func wantSample(t *testing.T, fams map[string]*dto.MetricFamily, want float64, name string, labels ...string) {
	t.Helper()
	got, ok := sample(fams, name, labels...)
	if !ok || got != want {
		t.Errorf("%s%v = %v (present %v), want %v", name, labels, got, ok, want)
	}
}

func wantAtLeast(t *testing.T, fams map[string]*dto.MetricFamily, least float64, name string, labels ...string) {
	t.Helper()
	got, ok := sample(fams, name, labels...)
	if !ok || got < least {
		t.Errorf("%s%v = %v (present %v), want at least %v", name, labels, got, ok, least)
	}
}

// TestMetrics_CodeFlowIsCounted scrapes /metrics after a code flow, a
// refresh, a reused refresh token, a wrong password and a client
// credentials token, on both backends, and finds each counted.
func TestMetrics_CodeFlowIsCounted(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnvOn(t, backend, dbtest.Open(t, backend))
			tok := e.redeem(e.codeFor(e.browser(), "openid notes.read offline_access", ""), "")
			if tok.status != 200 {
				t.Fatalf("%d %v", tok.status, tok.body)
			}
			refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}}
			if a := e.postToken(refresh, &e.web, true); a.status != 200 {
				t.Fatalf("refresh: %d %v", a.status, a.body)
			}
			e.clock.Advance(time.Minute) // past any reuse grace window: this is reuse
			wantError(t, e.postToken(refresh, &e.web, true), 400, "invalid_grant")
			wantError(t, e.postToken(url.Values{"grant_type": {"password"}, "username": {e.user}, "password": {"wrong"}}, &e.app, true), 400, "invalid_grant")
			if a := e.postToken(url.Values{"grant_type": {"client_credentials"}}, &e.opaque, true); a.status != 200 {
				t.Fatalf("client credentials: %d %v", a.status, a.body)
			}

			fams := scrape(t, e.issuer+"/metrics")
			wantSample(t, fams, 1, "latchkey_tokens_issued_total", "grant", "authorization_code", "format", "jwt")
			wantSample(t, fams, 1, "latchkey_tokens_issued_total", "grant", "refresh_token")
			wantSample(t, fams, 1, "latchkey_tokens_issued_total", "grant", "client_credentials", "format", "opaque")
			wantSample(t, fams, 1, "latchkey_refreshes_total", "outcome", "rotated")
			wantSample(t, fams, 1, "latchkey_token_reuse_detected_total", "kind", "refresh_token")
			wantSample(t, fams, 1, "latchkey_revocations_total", "source", "reuse")
			wantSample(t, fams, 1, "latchkey_sign_ins_total", "via", "page", "result", "ok")
			wantSample(t, fams, 1, "latchkey_sign_ins_total", "via", "password_grant", "result", "bad_credentials")
			wantSample(t, fams, 3, "latchkey_http_requests_total", "endpoint", "/token", "code", "200")
			wantSample(t, fams, 2, "latchkey_http_requests_total", "endpoint", "/token", "code", "400")
			wantSample(t, fams, 5, "latchkey_http_request_duration_seconds", "endpoint", "/token")
			wantAtLeast(t, fams, 1, "latchkey_http_requests_total", "endpoint", "/authorize")
			wantAtLeast(t, fams, 2, "latchkey_password_hashes_total")
			wantSample(t, fams, 0, "latchkey_password_hash_queue")
			wantAtLeast(t, fams, 1, "latchkey_signing_key_age_seconds", "alg", "ES256")
			wantAtLeast(t, fams, 1, "latchkey_db_write_seconds")
			wantAtLeast(t, fams, 1, "latchkey_db_commit_batch_size")
			wantAtLeast(t, fams, 1, "latchkey_db_commits_total")
			wantAtLeast(t, fams, 1, "latchkey_db_statements_total")
			wantAtLeast(t, fams, 1, "go_goroutines")
			// Rows per table: the user, and the tokens just issued.
			wantSample(t, fams, 1, "latchkey_table_rows", "table", "users")
			wantAtLeast(t, fams, 4, "latchkey_table_rows", "table", "tokens")
			if _, ok := sample(fams, "latchkey_table_oldest_expired_seconds", "table", "codes"); !ok {
				t.Error("no oldest-expired figure for codes")
			}
			if _, ok := sample(fams, "go_sql_open_connections"); !ok {
				if _, ok := sample(fams, "latchkey_db_open_connections"); !ok {
					t.Error("no connection-pool figures")
				}
			}
			// No client or user ids as labels unless metrics.per_client.
			for name, f := range fams {
				for _, m := range f.GetMetric() {
					for _, l := range m.GetLabel() {
						if l.GetName() == "client" || strings.Contains(l.GetValue(), e.web.id) || strings.Contains(l.GetValue(), "u1") {
							t.Errorf("%s carries %s=%q", name, l.GetName(), l.GetValue())
						}
					}
				}
			}
		})
	}
}

// TestMetrics_PerClientLabelsOnlyWhenAsked: metrics.per_client adds the
// client id to the token counters.
func TestMetrics_PerClientLabelsOnlyWhenAsked(t *testing.T) {
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) { c.Metrics.PerClient = true })
	if a := e.postToken(url.Values{"grant_type": {"client_credentials"}}, &e.opaque, true); a.status != 200 {
		t.Fatalf("%d %v", a.status, a.body)
	}
	wantSample(t, scrape(t, e.issuer+"/metrics"), 1, "latchkey_tokens_issued_total", "client", e.opaque.id, "grant", "client_credentials")
}

// TestMetrics_EndpointLabelsStayBounded: a thousand made-up paths add no
// series; they are counted under the pattern that answered them.
func TestMetrics_EndpointLabelsStayBounded(t *testing.T) {
	e := newEnv(t, "sqlite")
	before := len(scrape(t, e.issuer+"/metrics")["latchkey_http_requests_total"].GetMetric())
	for i := range 1000 {
		resp, err := http.Get(fmt.Sprintf("%s/probe-%d?x=%d", e.issuer, i, i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	fams := scrape(t, e.issuer+"/metrics")
	if after := len(fams["latchkey_http_requests_total"].GetMetric()); after > before+2 {
		t.Fatalf("series went from %d to %d: paths became labels", before, after)
	}
}

// TestMetrics_AdminListenerServesThemInstead: with server.admin_listen set,
// /metrics is answered there and no longer on the main listener.
func TestMetrics_AdminListenerServesThemInstead(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin := free.Addr().String()
	free.Close()
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) { c.Server.AdminListen = admin })
	resp, err := http.Get(e.issuer + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("the main listener still serves /metrics")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.server.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	var fams map[string]*dto.MetricFamily
	for deadline := time.Now().Add(5 * time.Second); ; {
		r, err := http.Get("http://" + admin + "/readyz")
		if err == nil {
			r.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the admin listener does not answer: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fams = scrape(t, "http://"+admin+"/metrics")
	wantAtLeast(t, fams, 1, "latchkey_http_requests_total", "code", "404")
}
