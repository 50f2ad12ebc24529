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
	fmt.Fprintln(w, "\ntargets (ratio = ops/s over the reference's req/s in this run):")
	type target struct {
		name, what string
		ratio      float64
		rps        float64
	}
	targets := []target{
		{"cc-jwt", "issue: client_credentials JWT vs the signing reference", 0.8, 0},
		{"rs-jwt", "issue: rs middleware, reused JWT, vs the same handler unprotected", 0.8, 0},
		{"rs-jwt", "SECURITY.md c.7: RS middleware validating a JWT AT (cached JWKS), vs an unprotected handler here", 0.3, 0},
		{"introspect-opaque", "issue: opaque introspection vs the bare handler (on SQLite)", 0.4, 0},
		{"jwks", "SECURITY.md c.7: JWKS", 0.5, 10000},
		{"metadata", "SECURITY.md c.7: discovery", 0.5, 10000},
		{"introspect-opaque", "SECURITY.md c.7: /introspect opaque", 0.1, 2000},
		{"cc-jwt", "SECURITY.md c.7: client_credentials JWT (vs the signing reference here)", 0.1, 2000},
		{"cc-opaque", "SECURITY.md c.7: client_credentials opaque", 0, 500},
		{"sso-code-flow", "SECURITY.md c.7: full code flow, pre-authenticated session (flows/s; consent remembered)", 0, 100},
		{"sso-code-flow-es256", "SECURITY.md c.7: the same with ES256 ID tokens", 0, 100},
	}
	for _, t := range targets {
		r, ok := byName[t.name]
		if !ok {
			continue
		}
		var want []string
		pass := true
		if t.ratio > 0 {
			want = append(want, fmt.Sprintf("ratio >= %.2g (got %.2f vs %s)", t.ratio, r.Ratio, r.Ref))
			pass = pass && r.Ratio >= t.ratio
		}
		if t.rps > 0 {
			want = append(want, fmt.Sprintf(">= %.0f ops/s (got %.0f)", t.rps, r.RPS))
			pass = pass && r.RPS >= t.rps
		}
		verdict := "met"
		if !pass {
			verdict = "NOT MET"
		}
		fmt.Fprintf(w, "  %-7s %-19s %s; %s\n", verdict, t.name, strings.Join(want, ", "), t.what)
	}

	if len(rep.Memory) > 0 {
		fmt.Fprintln(w, "\nserver memory (after a forced GC):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "when                     \ttokens issued\theap MiB\tRSS MiB\tgoroutines\t")
		for _, m := range rep.Memory {
			fmt.Fprintf(tw, "%-25s\t%d\t%.1f\t%.1f\t%d\t\n", m.When, m.Issued, mib(int64(m.HeapAlloc)), mib(m.RSS), m.Goroutines)
		}
		tw.Flush()
	}
	for _, r := range rep.Results {
		if r.Profile != "" {
			fmt.Fprintf(w, "\nCPU profile of %s: go tool pprof -top %s\n", r.Name, r.Profile)
		}
	}
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
