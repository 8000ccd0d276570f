package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// report is everything one run measured.
type report struct {
	Go           string           `json:"go"`
	GOMAXPROCS   int              `json:"gomaxprocs"`
	Duration     time.Duration    `json:"duration_ns"`
	PayloadBytes int              `json:"payload_bytes"`
	Jobs         int              `json:"jobs"`
	Latency      latencyResult    `json:"latency"`
	Saturation   saturationResult `json:"saturation"`
	Breaker      breakerResult    `json:"breaker"`
	Tokens       tokenResult      `json:"tokens"`
	Memory       memoryResult     `json:"memory"`
	Logs         logResult        `json:"callout_logs"`
	Targets      []target         `json:"targets"`
}

// target is one figure the README or an issue sets a bound on.
type target struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Limit float64 `json:"limit"`
	Unit  string  `json:"unit"`
	// AtLeast marks a lower bound; otherwise Limit is an upper bound.
	AtLeast bool `json:"at_least"`
	Pass    bool `json:"pass"`
	// Note says why a figure that meets its bound still does not pass.
	Note string `json:"note,omitempty"`
}

// The targets (the README's Performance section and issue 13), per store
// where they differ.
const (
	targetAddedP50     = 300 * time.Microsecond // SQLite
	targetCPUPerPrice  = 200 * time.Microsecond // at saturation
	targetBreakerP99   = 100 * time.Microsecond
	targetTokenRequest = 1
	targetPeakRSS      = 100_000_000 // bytes: 100 MB
)

// storeTargets are the targets that depend on the store.
var storeTargets = map[string]struct {
	addedP99 time.Duration
	ratio    float64
}{
	"SQLite":     {time.Millisecond, 0.7},
	"PostgreSQL": {2 * time.Millisecond, 0.5},
}

// judge fills in the targets from the measurements. A phase with failed
// requests misses its target whatever its figures: they would not be of
// the work that was meant.
func (r *report) judge() {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	add := func(t target, failures int, what string) {
		if t.AtLeast {
			t.Pass = t.Value >= t.Limit
		} else {
			t.Pass = t.Value <= t.Limit
		}
		if failures > 0 {
			t.Pass = false
			t.Note = fmt.Sprintf("%d %s failed", failures, what)
		}
		r.Targets = append(r.Targets, t)
	}
	lat := r.Latency
	for _, c := range lat.Callout {
		failed := lat.Proxy.Latency.Errors + c.Load.Latency.Errors + (lat.Proxy.Due - lat.Proxy.Sent) + (c.Load.Due - c.Load.Sent)
		if c.Store == "SQLite" {
			add(target{Name: fmt.Sprintf("%s: added latency p50 at %.0f/s", c.Store, lat.Rate), Unit: "ms",
				Value: ms(c.Load.Latency.P50 - lat.Proxy.Latency.P50), Limit: ms(targetAddedP50)}, failed, "requests")
		}
		add(target{Name: fmt.Sprintf("%s: added latency p99 at %.0f/s", c.Store, lat.Rate), Unit: "ms",
			Value: ms(c.Load.Latency.P99 - lat.Proxy.Latency.P99), Limit: ms(storeTargets[c.Store].addedP99)}, failed, "requests")
	}
	sat := r.Saturation
	for _, c := range sat.Callout {
		add(target{Name: c.Store + ": throughput, Callout / proxy", Unit: "×", AtLeast: true,
			Value: ratio(c.Load.Rate, sat.Proxy.Rate), Limit: storeTargets[c.Store].ratio},
			sat.Proxy.Errors+c.Load.Errors, "requests")
		add(target{Name: c.Store + ": Callout's CPU per price at saturation", Unit: "µs",
			Value: us(c.CPU.PerRequest), Limit: us(targetCPUPerPrice)}, 0, "")
	}

	add(target{Name: "breaker open: fail-fast p99 (client)", Unit: "µs",
		Value: us(r.Breaker.Client.P99), Limit: us(targetBreakerP99)}, r.Breaker.Client.Errors, "calls")

	tok := r.Tokens
	add(target{Name: fmt.Sprintf("token requests, burst of %d", tok.Burst), Unit: "",
		Value: float64(tok.TokenRequests), Limit: targetTokenRequest}, tok.Burst-int(tok.Priced), "prices")

	add(target{Name: "peak RSS of Callout's process", Unit: "MB",
		Value: float64(r.Memory.CalloutPeakRSS) / 1e6, Limit: targetPeakRSS / 1e6}, 0, "")
}

// ratio is a/b, 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// writeJSON writes the report as indented JSON.
func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeText writes the report as tables.
func (r *report) writeText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	line := func(format string, args ...any) {
		tw.Flush()
		fmt.Fprintf(w, format, args...)
	}

	line("Callout benchmark: %s per phase on loopback, %s, GOMAXPROCS=%d\n", r.Duration, r.Go, r.GOMAXPROCS)
	line("Callout prices job %d (and %d copies, rotated) of manufacturer %s; the proxy forwards the same %d-byte payload.\n",
		seedJob, r.Jobs-1, mfrPricing, r.PayloadBytes)
	line("Callout and the proxy each run in a process of their own; the load generator and the fake webhooks run in a third.\n\n")

	lat := r.Latency
	line("Latency at %.0f requests/s, open loop, from each request's due time\n", lat.Rate)
	p("\tp50\tp90\tp99\tmax\tsent\terrors\tgenerator lag p99\tCPU\tdatabase: CPU\tcommits\tWAL flushes\t\n")
	row := func(name string, o openResult, cpu cpuUse, db *databaseUse) {
		s := o.Latency
		p("%s\t%s\t%s\t%s\t%s\t%d/%d\t%d\t%s\t%s\t%s\t\n", name, dur(s.P50), dur(s.P90), dur(s.P99), dur(s.Max),
			o.Sent, o.Due, s.Errors, dur(o.Lag.P99), dur(cpu.PerRequest), databaseCells(db))
	}
	row("proxy", lat.Proxy, lat.ProxyCPU, nil)
	x := lat.Proxy.Latency
	for _, o := range lat.Callout {
		row("Callout, "+o.Store, o.Load, o.CPU, o.Database)
		c := o.Load.Latency
		p("  added\t%s\t%s\t%s\t%s\t\t\t\t\t\t\t\t\n", dur(c.P50-x.P50), dur(c.P90-x.P90), dur(c.P99-x.P99), dur(c.Max-x.Max))
		p("  ratio\t%.2f×\t%.2f×\t%.2f×\t%.2f×\t\t\t\t\t\t\t\t\n", ratio(float64(c.P50), float64(x.P50)), ratio(float64(c.P90), float64(x.P90)),
			ratio(float64(c.P99), float64(x.P99)), ratio(float64(c.Max), float64(x.Max)))
	}

	sat := r.Saturation
	line("\nSaturation, closed loop, %d workers\n", sat.Workers)
	p("\trequests/s\tvs proxy\tp50\tp99\trequests\terrors\twebhook calls/s\tCPU\tdatabase: CPU\tcommits\tWAL flushes\t\n")
	p("proxy\t%.0f\t\t%s\t%s\t%d\t%d\t\t%s\t\t\t\t\n", sat.Proxy.Rate, dur(sat.Proxy.Latency.P50), dur(sat.Proxy.Latency.P99),
		sat.Proxy.Requests, sat.Proxy.Errors, dur(sat.ProxyCPU.PerRequest))
	for _, c := range sat.Callout {
		p("Callout, %s\t%.0f\t%.2f×\t%s\t%s\t%d\t%d\t%.0f\t%s\t%s\t\n", c.Store, c.Load.Rate, ratio(c.Load.Rate, sat.Proxy.Rate),
			dur(c.Load.Latency.P50), dur(c.Load.Latency.P99), c.Load.Requests, c.Load.Errors, c.CalloutRate,
			dur(c.CPU.PerRequest), databaseCells(c.Database))
	}
	line("CPU is per request, of the serving process; the database's CPU is its backends' serving Callout, and its commits\n" +
		"and WAL flushes (of the whole server, other clients included) are per request too.\n")

	br := r.Breaker
	line("\nBreaker open, sequential refused callouts\n")
	p("\tp50\tp99\tmax\tcalls\terrors\t\n")
	p("API: price → 503\t%s\t%s\t%s\t%d\t%d\t\n", dur(br.API.P50), dur(br.API.P99), dur(br.API.Max), br.API.Count, br.API.Errors)
	p("webhook.Client.Call\t%s\t%s\t%s\t%d\t%d\t\n", dur(br.Client.P50), dur(br.Client.P99), dur(br.Client.Max), br.Client.Count, br.Client.Errors)
	line("webhook.Client.Call allocates %.1f times per refused call\n", br.ClientAllocs)

	tok := r.Tokens
	line("\nBurst of %d simultaneous requests\n", tok.Burst)
	line("  through the proxy: %d forwarded, in %s\n", tok.ProxyForwarded, dur(tok.ProxyElapsed))
	for _, e := range tok.ProxyErrors {
		line("    failure: %s\n", e)
	}
	line("  Callout, prices on a cold token cache: %d token request(s), %d priced, in %s\n",
		tok.TokenRequests, tok.Priced, dur(tok.Elapsed))
	for _, e := range tok.Errors {
		line("    failure: %s\n", e)
	}

	mem := r.Memory
	line("\nPeak RSS of each process: proxy %s, Callout %s (%.2f×)\n",
		mb(mem.ProxyPeakRSS), mb(mem.CalloutPeakRSS), ratio(float64(mem.CalloutPeakRSS), float64(mem.ProxyPeakRSS)))
	if mem.PerPhase {
		p("phase\tproxy\tCallout\tratio\t\n")
	} else {
		p("phase\tproxy so far\tCallout so far\tratio\t\n")
	}
	for _, ph := range mem.Phases {
		p("%s\t%s\t%s\t%.2f×\t\n", ph.Name, mb(ph.Proxy), mb(ph.Callout), ratio(float64(ph.Callout), float64(ph.Proxy)))
	}

	line("\nCallout logged %d lines at warn level or above", r.Logs.Lines)
	if r.Logs.First != "" {
		line("; the first:\n  %.300s", r.Logs.First)
	}
	line("\n")

	line("\nTargets\n")
	for _, t := range r.Targets {
		bound := "≤"
		if t.AtLeast {
			bound = "≥"
		}
		verdict := "MISS"
		if t.Pass {
			verdict = "PASS"
		}
		p("%s\t%s %s\t%s %s %s\t%s\t%s\n", t.Name, num(t.Value), t.Unit, bound, num(t.Limit), t.Unit, verdict, t.Note)
	}
	return tw.Flush()
}

// dur prints a latency with a unit that suits its size.
func dur(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%s%.0fµs", sign, float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%s%.2fms", sign, float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%s%.2fs", sign, d.Seconds())
}

// databaseCells prints the database's CPU, commits and WAL flushes per
// request as three cells, empty when there is no database.
func databaseCells(u *databaseUse) string {
	if u == nil {
		return "\t\t"
	}
	return fmt.Sprintf("%s\t%.2f\t%.2f", dur(u.CPU.PerRequest), u.Transactions, u.WALSyncs)
}

// mb prints a size in megabytes (10⁶ bytes, as the targets count them).
func mb(n uint64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// num prints a target's figure without needless digits.
func num(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}
