// Package metrics holds Latchkey's Prometheus metrics: one registry per
// server, and the few methods the protocol code calls to count what it
// does. Every method is safe on a nil *Metrics, so code built without
// metrics (tests, the CLI) calls them unconditionally.
//
// Labels are bounded: endpoints are the router's patterns, grants, formats
// and reasons are fixed sets, and client ids appear only when PerClient is
// on (one series per client is the operator's choice, not a default that a
// self-registered client could inflate).
package metrics

import (
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric of ours.
const namespace = "latchkey"

// Metrics is one server's set of metrics.
type Metrics struct {
	reg       *prometheus.Registry
	perClient bool

	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	issued      *prometheus.CounterVec
	refreshes   *prometheus.CounterVec
	reuse       *prometheus.CounterVec
	revocations *prometheus.CounterVec
	signIns     *prometheus.CounterVec
	throttled   *prometheus.CounterVec
	dbWrite     prometheus.Histogram
	dbBatch     prometheus.Histogram
	reloads     *prometheus.CounterVec
}

// Options configure New.
type Options struct {
	// PerClient adds a client label to the token counters.
	PerClient bool
}

// New returns a registry holding the Go runtime and process collectors and
// Latchkey's own metrics.
func New(opts Options) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	clientLabel := func(labels ...string) []string {
		if opts.PerClient {
			return append(labels, "client")
		}
		return labels
	}
	m := &Metrics{
		reg:       reg,
		perClient: opts.PerClient,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by endpoint (the route pattern) and status code."}, []string{"endpoint", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by endpoint.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"endpoint"}),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "tokens_issued_total",
			Help: "Access tokens issued, by grant type and format (jwt or opaque)."}, clientLabel("grant", "format")),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "refreshes_total",
			Help: "Refresh tokens exchanged: rotated, answered again within the reuse grace window (grace), or kept without rotation (kept, FAPI 2.0 clients)."}, clientLabel("outcome")),
		reuse: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "token_reuse_detected_total",
			Help: "Reuse of a rotated refresh token or replay of a redeemed code, each of which revoked its token family."}, clientLabel("kind")),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "revocations_total",
			Help: "Revocations, by what asked for them (revocation endpoint, account page, sign-out, password change, reuse)."}, []string{"source"}),
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "sign_ins_total",
			Help: "Password checks of users, by where (login page or password grant) and result (ok, bad_credentials, throttled, busy)."},
			[]string{"via", "result"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "throttled_requests_total",
			Help: "Requests refused by a rate limit, by limit."}, []string{"limit"}),
		dbWrite: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "db_write_seconds",
			Help:    "Time from a write transaction's submission to its commit (queueing for the group-commit writer included).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}}),
		dbBatch: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "db_commit_batch_size",
			Help:    "Write transactions committed together by the group-commit writer.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64}}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "config_reloads_total",
			Help: "Configuration reloads (SIGHUP), by result (ok or refused)."}, []string{"result"}),
	}
	reg.MustRegister(m.requests, m.latency, m.issued, m.refreshes, m.reuse, m.revocations, m.signIns, m.throttled,
		m.dbWrite, m.dbBatch, m.reloads)
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: nil, Registry: m.reg})
}

// Registry is where further collectors go (tests gather from it too).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

func (m *Metrics) labels(client string, labels ...string) []string {
	if m.perClient {
		return append(labels, client)
	}
	return labels
}

// Request counts one answered request to endpoint (a route pattern, or
// "other") with its status and duration.
func (m *Metrics) Request(endpoint string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(endpoint).Observe(d.Seconds())
}

// TokenIssued counts an access token of grant (the grant_type's short
// name) in format (jwt or opaque) for client.
func (m *Metrics) TokenIssued(grant, format, client string) {
	if m == nil {
		return
	}
	m.issued.WithLabelValues(m.labels(client, grant, format)...).Inc()
}

// Refreshed counts a refresh-token exchange: outcome "rotated", "grace" or
// "kept" (no rotation: a FAPI 2.0 client).
func (m *Metrics) Refreshed(outcome, client string) {
	if m == nil {
		return
	}
	m.refreshes.WithLabelValues(m.labels(client, outcome)...).Inc()
}

// ReuseDetected counts a detected reuse: kind "refresh_token" or "code".
func (m *Metrics) ReuseDetected(kind, client string) {
	if m == nil {
		return
	}
	m.reuse.WithLabelValues(m.labels(client, kind)...).Inc()
}

// Revoked counts a revocation asked for by source.
func (m *Metrics) Revoked(source string) {
	if m == nil {
		return
	}
	m.revocations.WithLabelValues(source).Inc()
}

// SignIn counts a user's password check via the login page ("page") or
// the password grant ("password_grant") with its result.
func (m *Metrics) SignIn(via, result string) {
	if m == nil {
		return
	}
	m.signIns.WithLabelValues(via, result).Inc()
}

// Throttled counts a request refused by the rate limit named limit.
func (m *Metrics) Throttled(limit string) {
	if m == nil {
		return
	}
	m.throttled.WithLabelValues(limit).Inc()
}

// Reloaded counts a configuration reload; ok false: refused.
func (m *Metrics) Reloaded(ok bool) {
	if m == nil {
		return
	}
	result := "ok"
	if !ok {
		result = "refused"
	}
	m.reloads.WithLabelValues(result).Inc()
}

// WriteCommitted records a write transaction that waited d from its
// submission to its answer.
func (m *Metrics) WriteCommitted(d time.Duration) {
	if m == nil {
		return
	}
	m.dbWrite.Observe(d.Seconds())
}

// BatchCommitted records a group-commit batch of n transactions.
func (m *Metrics) BatchCommitted(n int) {
	if m == nil {
		return
	}
	m.dbBatch.Observe(float64(n))
}

// WatchHashGate publishes the password-hash semaphore: hashes run so far
// and callers waiting for a slot now.
func (m *Metrics) WatchHashGate(runs, waiting func() int64) {
	if m == nil {
		return
	}
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: "password_hashes_total",
			Help: "Password hashes (argon2id) run through the hash semaphore."}, func() float64 { return float64(runs()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "password_hash_queue",
			Help: "Requests waiting for a password-hash slot now."}, func() float64 { return float64(waiting()) }),
	)
}

// WatchDB publishes a database pool's statistics (open, in use and idle
// connections, waits) under pool, e.g. "read" or "write".
func (m *Metrics) WatchDB(pool string, db *sql.DB) {
	if m == nil || db == nil {
		return
	}
	m.reg.MustRegister(prometheus.WrapCollectorWith(prometheus.Labels{"pool": pool}, collectors.NewDBStatsCollector(db, namespace)))
}

// WatchStore publishes the store's running totals: statements sent,
// commits and transactions retried.
func (m *Metrics) WatchStore(statements, commits, retries func() int64) {
	if m == nil {
		return
	}
	counter := func(name, help string, f func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help},
			func() float64 { return float64(f()) })
	}
	m.reg.MustRegister(
		counter("db_statements_total", "SQL statements sent to the database.", statements),
		counter("db_commits_total", "Write transactions committed (a group-commit batch is one).", commits),
		counter("db_retries_total", "Transactions run again after a deadlock or serialization failure.", retries),
	)
}

// WatchKeys publishes the age of each algorithm's active signing key, from
// ages (algorithm -> age), read at each scrape.
func (m *Metrics) WatchKeys(ages func() map[string]time.Duration) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&keyAges{ages: ages, desc: prometheus.NewDesc(namespace+"_signing_key_age_seconds",
		"Age of the signing key that signs now, by algorithm.", []string{"alg"}, nil)})
}

type keyAges struct {
	ages func() map[string]time.Duration
	desc *prometheus.Desc
}

func (k *keyAges) Describe(ch chan<- *prometheus.Desc) { ch <- k.desc }

func (k *keyAges) Collect(ch chan<- prometheus.Metric) {
	for alg, age := range k.ages() {
		ch <- prometheus.MustNewConstMetric(k.desc, prometheus.GaugeValue, age.Seconds(), alg)
	}
}

// WatchJanitor publishes the janitor's cumulative figures, read at each
// scrape: rows deleted per table, and runs by result.
func (m *Metrics) WatchJanitor(read func() (deleted map[string]int64, runs, skipped, failed int64)) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&janitorFigures{read: read,
		deleted: prometheus.NewDesc(namespace+"_janitor_deleted_rows_total", "Expired rows the janitor deleted, per table.", []string{"table"}, nil),
		runs: prometheus.NewDesc(namespace+"_janitor_runs_total",
			"Janitor runs: ok, skipped (another node held the lock) or failed.", []string{"result"}, nil),
	})
}

type janitorFigures struct {
	read          func() (map[string]int64, int64, int64, int64)
	deleted, runs *prometheus.Desc
}

func (j *janitorFigures) Describe(ch chan<- *prometheus.Desc) { ch <- j.deleted; ch <- j.runs }

func (j *janitorFigures) Collect(ch chan<- prometheus.Metric) {
	deleted, runs, skipped, failed := j.read()
	for table, n := range deleted {
		ch <- prometheus.MustNewConstMetric(j.deleted, prometheus.CounterValue, float64(n), table)
	}
	ch <- prometheus.MustNewConstMetric(j.runs, prometheus.CounterValue, float64(runs), "ok")
	ch <- prometheus.MustNewConstMetric(j.runs, prometheus.CounterValue, float64(skipped), "skipped")
	ch <- prometheus.MustNewConstMetric(j.runs, prometheus.CounterValue, float64(failed), "failed")
}
