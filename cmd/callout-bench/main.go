// Command callout-bench measures Callout against a plain Go reverse proxy
// doing the same hop (the README's Performance section): both in front of fake webhooks that answer
// alike and at once, on loopback, Callout and the proxy each in a process of
// its own and the load generator and fakes in this one. It reports the
// latency Callout adds at a fixed rate, the highest rate it holds, how fast a
// callout fails while its breaker is open, how many Auth0 token requests a
// burst on a cold cache makes, and the peak memory of Callout's process and
// the proxy's in each phase, each against its target.
//
//	go run ./cmd/callout-bench [-duration 10s] [-rate 500] [-concurrency 64]
//	    [-burst 1000] [-jobs N] [-cpuprofile cpu.out] [-json]
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// options are the command's flags.
type options struct {
	duration    time.Duration
	rate        float64
	concurrency int
	burst       int
	jobs        int
	databaseURL string
	cpuprofile  string
	json        bool
	logs        bool
	events      bool
}

func parseFlags(args []string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("callout-bench", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each latency and saturation phase")
	fs.Float64Var(&o.rate, "rate", 500, "requests per second of the latency phase")
	fs.IntVar(&o.concurrency, "concurrency", 64, "workers of the saturation phase")
	fs.IntVar(&o.burst, "burst", 1000, "simultaneous callouts of the token burst")
	fs.IntVar(&o.jobs, "jobs", 0, "copies of the seed job the prices rotate over (0: one per worker); "+
		"concurrent prices of one job share one callout, so fewer jobs than workers measure fewer callouts")
	fs.StringVar(&o.databaseURL, "database-url", "", "PostgreSQL database to measure Callout on too, in a schema of its own (postgres://…)")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of Callout's process, over the whole run, to this file "+
		"(on PostgreSQL, to the same name with .postgres before its extension)")
	fs.BoolVar(&o.json, "json", false, "print the results as JSON")
	fs.BoolVar(&o.logs, "logs", false, "print Callout's warnings and errors on stderr (by default they are only counted)")
	fs.BoolVar(&o.events, "events", false, "measure event publishing and delivery instead, on SQLite and, with -database-url, on PostgreSQL")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.jobs == 0 {
		o.jobs = o.concurrency
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	case o.duration < time.Second:
		return o, errors.New("-duration must be at least 1s")
	case o.rate <= 0 || o.rate > 100_000:
		return o, errors.New("-rate must be from 1 to 100000")
	case o.concurrency < 1 || o.concurrency > 4096:
		return o, errors.New("-concurrency must be from 1 to 4096")
	case o.burst < 1 || o.burst > 10_000:
		return o, errors.New("-burst must be from 1 to 10000")
	case o.databaseURL != "" && !strings.HasPrefix(o.databaseURL, "postgres://") && !strings.HasPrefix(o.databaseURL, "postgresql://"):
		return o, errors.New("-database-url must start with postgres:// or postgresql://")
	case o.jobs < 1 || o.jobs > 10_000:
		// The copies take the ids after the seed's, which must keep its six
		// digits, and so the payload's size.
		return o, errors.New("-jobs must be from 1 to 10000")
	}
	return o, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	child, err := serveChild(ctx)
	if !child {
		err = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "callout-bench:", err)
		os.Exit(1)
	}
}

// run sets everything up, measures and prints the report. Callout and the
// proxy each run in a process of their own; the load generator and the fakes
// run in this one.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	return measure(ctx, opts, stdout, stderr)
}

func measure(ctx context.Context, opts options, stdout, stderr io.Writer) error {
	if opts.events {
		return measureEvents(ctx, opts, stdout, stderr)
	}
	logs := &logCounter{}
	var logw io.Writer = logs
	if opts.logs {
		logw = io.MultiWriter(stderr, logs)
	}
	b := &bench{opts: opts, hc: loadClient(max(opts.burst, opts.concurrency)), progress: stderr, logs: logw}
	defer b.hc.CloseIdleConnections()

	b.hooks = startWebhooks()
	defer b.hooks.Close()
	b.auth0 = startAuth0()
	defer b.auth0.Close()
	var err error
	if b.refused, err = refusedURL(); err != nil {
		return err
	}
	proxy, err := startChild("proxy", []string{proxyTargetEnv + "=" + b.hooks.proxy.URL}, stderr)
	if err != nil {
		return err
	}
	defer proxy.Close()
	c, err := startCallout(ctx, logw, "", opts.cpuprofile)
	if err != nil {
		return err
	}
	defer c.Close()
	b.callout, b.proxyURL = c, proxy.url
	b.proxyCPU = &cpuMeter{pid: proxy.cmd.Process.Pid}
	b.stores = []*calloutStore{{name: "SQLite", server: c, cpu: &cpuMeter{pid: c.cmd.Process.Pid}}}
	if opts.databaseURL != "" {
		pg, err := startCallout(ctx, logw, opts.databaseURL, postgresProfile(opts.cpuprofile))
		if err != nil {
			return err
		}
		defer pg.Close()
		db, err := sql.Open("pgx", opts.databaseURL)
		if err != nil {
			return err
		}
		defer db.Close()
		b.stores = append(b.stores, &calloutStore{name: "PostgreSQL", server: pg,
			cpu: &cpuMeter{pid: pg.cmd.Process.Pid, db: db, application: pg.schema}})
	}
	mem := newMemoryTracker(c.cmd.Process.Pid, proxy.cmd.Process.Pid)

	b.say("setting up %d+%d jobs, and %d on PostgreSQL", opts.jobs, opts.burst, (len(b.stores)-1)*opts.jobs)
	if err := b.prepare(ctx); err != nil {
		return err
	}
	b.say("warming up")
	b.warmUp(ctx)

	r := &report{
		Go:           runtime.Version(),
		GOMAXPROCS:   runtime.GOMAXPROCS(0),
		Duration:     opts.duration,
		PayloadBytes: len(b.payload),
		Jobs:         opts.jobs,
	}
	phases := []struct {
		name string
		run  func() error
	}{
		{"latency", func() error { r.Latency = b.latency(ctx); return nil }},
		{"saturation", func() (err error) { r.Saturation, err = b.saturation(ctx); return err }},
		{"breaker", func() (err error) { r.Breaker, err = b.breaker(ctx); return err }},
		{"burst", func() error { r.Tokens = b.tokenBurst(ctx); return nil }},
	}
	if err := mem.mark("setup"); err != nil {
		return err
	}
	for _, p := range phases {
		if err := p.run(); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
		if err := mem.mark(p.name); err != nil {
			return err
		}
	}
	if bad := b.hooks.bad.Load(); bad > 0 {
		return fmt.Errorf("the fake webhooks refused %d requests for a wrong credential", bad)
	}
	r.Memory = mem.result
	r.Logs = logs.result()
	r.judge()
	if opts.json {
		return r.writeJSON(stdout)
	}
	return r.writeText(stdout)
}

// postgresProfile is where the CPU profile of Callout on PostgreSQL goes:
// cpu.out becomes cpu.postgres.out.
func postgresProfile(path string) string {
	if path == "" {
		return ""
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + ".postgres" + ext
}
