package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// printReport writes the run's context, the table, the targets, memory and
// profiles.
func printReport(w io.Writer, o options, rep *report, load0, load1 string) {
	fmt.Fprintf(w, "Latchkey load benchmark, %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "machine: %s, %d CPUs online; %s %s/%s\n", cpuModel(), cpusOnline(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "backend: %s; signing: %s; %d connections; %s measured per scenario after %s warm-up\n",
		rep.Backend, rep.Child.Alg, o.conns, o.dur, o.warmup)
	fmt.Fprintf(w, "server: CPUs %s, GOMAXPROCS %d; generator: CPUs %s, GOMAXPROCS %d\n",
		orDash(rep.Child.CPUs), rep.Child.GOMAXPROCS, orDash(cpusAllowed()), runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "load average (1/5/15 min): %s at start, %s at end\n\n", orDash(load0), orDash(load1))

	// The table is right-aligned; names are padded to the longest so that
	// they read left-aligned.
	width := len("scenario")
	for _, r := range rep.Results {
		width = max(width, len(r.Name))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tops/s\tp50\tp99\tsrv µs/op\tsrv CPU\tgen CPU\tother CPU\tqueries/op\tcommits/op\tdb µs/op\ttotal µs/op\terrors\tratio\tcpu ratio\tvs\t\n", width, "scenario")
	for _, r := range rep.Results {
		ratio, cpuRatio, vs := "-", "-", "-"
		if r.Ratio > 0 {
			ratio, vs = fmtRatio(r.Ratio), r.Ref
		}
		// star: on PostgreSQL without the backends' CPU, the total is
		// the server's alone (too low) and the cpu ratio too high.
		star := ""
		if r.ServerOnly {
			star = "*"
		}
		if r.CPURatio > 0 {
			cpuRatio = fmtRatio(r.CPURatio) + star
		}
		gen, other := "-", "-"
		if r.GenCPU >= 0 {
			gen = fmt.Sprintf("%.0f%%", 100*r.GenCPU)
		}
		if r.Other >= 0 {
			other = fmt.Sprintf("%.0f%%", 100*r.Other)
		}
		db := "-"
		if r.DBCPUPerOp >= 0 {
			db = fmt.Sprintf("%.1f", float64(r.DBCPUPerOp)/1e3)
		}
		total := fmt.Sprintf("%.1f%s", float64(r.TotalCPU)/1e3, star)
		fmt.Fprintf(tw, "%-*s\t%.0f\t%s\t%s\t%.1f\t%.0f%%\t%s\t%s\t%.2f\t%.3f\t%s\t%s\t%d\t%s\t%s\t%s\t\n",
			width, r.Name, r.RPS, fmtDur(r.P50), fmtDur(r.P99), float64(r.CPUPerReq)/1e3, 100*r.ServerCPU, gen, other, r.QueriesOp, r.CommitsOp, db, total, r.Errors, ratio, cpuRatio, vs)
	}
	tw.Flush()
	switch {
	case rep.Backend == "postgres" && rep.DBNote != "":
		fmt.Fprintf(w, "\n* db µs/op not measured (%s): total µs/op is the server's alone, so the whole cost is higher and cpu ratio lower than shown\n", rep.DBNote)
	case rep.Backend != "postgres":
		fmt.Fprintln(w, "\n(SQLite runs inside the server process: its CPU is in srv µs/op, and total µs/op = srv µs/op)")
	}
	for _, r := range rep.Results {
		if r.DBExited > 0 {
			fmt.Fprintf(w, "%s: %d PostgreSQL backends exited in the window; db µs/op misses their last CPU\n", r.Name, r.DBExited)
		}
	}
	if err := scenarioErrors(rep.Results); err != nil {
		fmt.Fprintf(w, "\nERRORS: %v\n", err)
	}

	byName := map[string]result{}
	for _, r := range rep.Results {
		byName[r.Name] = r
	}
	var drift []string
	for _, r := range rep.Results {
		if start, ok := byName[strings.TrimSuffix(r.Name, endSuffix)]; ok && r.Name != start.Name && start.RPS > 0 && r.CPUPerReq > 0 {
			drift = append(drift, fmt.Sprintf("%s req/s %.2f, CPU/req %.2f", start.Name, r.RPS/start.RPS, float64(r.CPUPerReq)/float64(start.CPUPerReq)))
		}
	}
	if len(drift) > 0 {
		fmt.Fprintf(w, "\nreference drift (end of run / start): %s; ratios use the mean of both\n", strings.Join(drift, "; "))
	}
	if vs := verdicts(rep); len(vs) > 0 {
		fmt.Fprintln(w, "\ntargets (ratio = ops/s over the reference's req/s in this run):")
		for _, v := range vs {
			met := "met"
			if !v.Met {
				met = "NOT MET"
			}
			fmt.Fprintf(w, "  %-7s %-19s %s; %s\n", met, v.Name, v.Want, v.What)
		}
	}

	if len(rep.Memory) > 0 {
		fmt.Fprintln(w, "\nserver memory (after a forced GC returning freed memory to the OS; peak RSS: VmHWM, the most since the child started):")
		width := len("when")
		for _, m := range rep.Memory {
			width = max(width, len(m.When))
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%-*s\ttokens issued\theap MiB\tRSS MiB\tpeak RSS MiB\tgoroutines\t\n", width, "when")
		for _, m := range rep.Memory {
			fmt.Fprintf(tw, "%-*s\t%d\t%.1f\t%.1f\t%.1f\t%d\t\n", width, m.When, m.Issued, mib(int64(m.HeapAlloc)), mib(m.RSS), mib(m.PeakRSS), m.Goroutines)
		}
		tw.Flush()
	}
	for _, r := range rep.Results {
		if r.Profile != "" {
			fmt.Fprintf(w, "\nCPU profile of %s: go tool pprof -top %s\n", r.Name, r.Profile)
		}
	}
}

// target is a bound on one scenario's throughput.
type target struct {
	name    string  // the scenario
	backend string  // "sqlite" or "postgres": the target holds on that backend only; "" on both
	ratio   float64 // at least this ratio to the scenario's reference (0: none)
	of      string  // when set, ratio is over this scenario's ops/s in the same run instead
	rps     float64 // at least this many ops/s (0: none)
	what    string  // where the target comes from
}

// targets are the performance issue's and SECURITY.md c.7's.
var targets = []target{
	{name: "cc-jwt", ratio: 0.8, what: "issue: client_credentials JWT vs the signing reference"},
	{name: "cc-dpop", ratio: 0.6, what: "DPoP issue: client_credentials with a DPoP proof vs cc-jwt (one more signature verified)"},
	{name: "cc-opaque", backend: "sqlite", ratio: 0.25, what: "issue: opaque client_credentials token, written to the database"},
	{name: "cc-opaque", backend: "postgres", ratio: 0.30, what: "issue: opaque client_credentials token, written to the database"},
	{name: "rs-jwt", ratio: 0.8, what: "issue: rs middleware, reused JWT, vs the same handler unprotected"},
	{name: "introspect-opaque", backend: "sqlite", ratio: 0.55, what: "issue: opaque introspection vs the bare handler"},
	{name: "introspect-opaque", backend: "postgres", ratio: 0.45, what: "issue: opaque introspection vs the bare handler"},
	{name: "introspect-1m", of: "introspect-opaque", ratio: 0.9, what: "issue: opaque introspection among a million more tokens stored"},
	{name: "refresh", ratio: 0.15, what: "issue: refresh token rotation"},
	{name: "sso-code-flow", ratio: 0.05, what: "issue: code-flow, flows per second"},
	{name: "sso-code-flow-es256", ratio: 0.05, what: "issue: code-flow, flows per second"},
	{name: "rs-jwt", ratio: 0.3, what: "SECURITY.md c.7: RS middleware validating a JWT AT (cached JWKS), vs an unprotected handler here"},
	{name: "jwks", ratio: 0.5, rps: 10000, what: "SECURITY.md c.7: JWKS"},
	{name: "metadata", ratio: 0.5, rps: 10000, what: "SECURITY.md c.7: discovery"},
	{name: "introspect-opaque", ratio: 0.1, rps: 2000, what: "SECURITY.md c.7: /introspect opaque"},
	{name: "cc-jwt", ratio: 0.1, rps: 2000, what: "SECURITY.md c.7: client_credentials JWT (vs the signing reference here)"},
	{name: "cc-opaque", rps: 500, what: "SECURITY.md c.7: client_credentials opaque"},
	{name: "sso-code-flow", rps: 100, what: "SECURITY.md c.7: full code flow, pre-authenticated session (flows/s; consent remembered)"},
	{name: "sso-code-flow-es256", rps: 100, what: "SECURITY.md c.7: the same with ES256 ID tokens"},
}

// The bounds on the server's memory: its RSS idle, and its peak
// RSS (VmHWM) over the run.
const (
	idleRSSMax = 30 << 20
	peakRSSMax = 100 << 20
)

// verdict is a target's outcome in a run.
type verdict struct {
	Name string `json:"name"` // the scenario, or "idle RSS", "peak RSS"
	Want string `json:"want"` // the bound and what the run got
	What string `json:"what"` // where the target comes from
	Met  bool   `json:"met"`
}

// verdicts checks the targets that apply to this run: those of its backend
// whose scenarios ran (both scenarios, for a target relative to another),
// then the memory bounds when the server's memory was read.
func verdicts(rep *report) []verdict {
	byName := map[string]result{}
	for _, r := range rep.Results {
		byName[r.Name] = r
	}
	var out []verdict
	for _, t := range targets {
		r, ok := byName[t.name]
		if !ok || t.backend != "" && t.backend != rep.Backend {
			continue
		}
		var want []string
		met := true
		switch {
		case t.of != "":
			of, ok := byName[t.of]
			if !ok || of.RPS <= 0 {
				continue
			}
			got := r.RPS / of.RPS
			want = append(want, fmt.Sprintf("ops/s >= %.2g x %s (got %.2f)", t.ratio, t.of, got))
			met = got >= t.ratio
		case t.ratio > 0:
			want = append(want, fmt.Sprintf("ratio >= %.2g (got %s vs %s)", t.ratio, fmtRatio(r.Ratio), r.Ref))
			met = r.Ratio >= t.ratio
		}
		if t.rps > 0 {
			want = append(want, fmt.Sprintf(">= %.0f ops/s (got %.0f)", t.rps, r.RPS))
			met = met && r.RPS >= t.rps
		}
		out = append(out, verdict{Name: t.name, Want: strings.Join(want, ", "), What: t.what, Met: met})
	}
	// The memory bounds: not where RSS cannot be read (0, not Linux).
	for _, m := range rep.Memory {
		if m.When == "idle" && m.RSS > 0 {
			out = append(out, verdict{Name: "idle RSS", Want: fmt.Sprintf("<= %d MiB (got %.1f)", idleRSSMax>>20, mib(m.RSS)),
				What: "issue: server memory", Met: m.RSS <= idleRSSMax})
		}
	}
	if n := len(rep.Memory); n > 0 && rep.Memory[n-1].PeakRSS > 0 {
		m := rep.Memory[n-1]
		out = append(out, verdict{Name: "peak RSS", Want: fmt.Sprintf("<= %d MiB (got %.1f, VmHWM %s)", peakRSSMax>>20, mib(m.PeakRSS), m.When),
			What: "issue: server memory", Met: m.PeakRSS <= peakRSSMax})
	}
	return out
}

// fmtRatio shows a ratio with two decimals, or two significant digits
// below 0.1 (a code flow is a few thousandths of the bare handler).
func fmtRatio(r float64) string {
	if r >= 0.1 {
		return fmt.Sprintf("%.2f", r)
	}
	return fmt.Sprintf("%.2g", r)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown CPU"
}

// cpusOnline counts the processors of /proc/cpuinfo (nproc without the
// affinity mask, which taskset narrowed), or NumCPU.
func cpusOnline() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.NumCPU()
	}
	n := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "processor" {
			n++
		}
	}
	if n == 0 {
		return runtime.NumCPU()
	}
	return n
}
