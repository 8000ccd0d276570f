package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/callout/callout/auth"
)

// The events benchmark (-events) measures publishing and delivery (README:
// Performance, Events) on SQLite and, with -database-url, on PostgreSQL, in one
// run: Callout in a process of its own, the receivers and the load generator
// in this one.

// The targets of issue 12.
const (
	targetPublishP99      = 5 * time.Millisecond
	targetFirstAttemptP50 = 50 * time.Millisecond
	targetFirstAttemptP99 = 250 * time.Millisecond
	targetDeliveries      = 1000.0
	targetHealthyP99      = time.Second
	pendingMessages       = 100_000
)

// receiver is the manufacturers' event endpoints: every request is
// answered 204 at once, and its arrival kept by event id and path; paths
// under /hang wait until Callout gives up.
type receiver struct {
	mu      sync.Mutex
	arrived map[string]time.Time // "<path> <webhook-id>" of first attempts
	count   atomic.Int64
	srv     *http.Server
	url     string
}

func startReceiver() (*receiver, error) {
	r := &receiver{arrived: make(map[string]time.Time)}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		now := time.Now()
		_, _ = io.Copy(io.Discard, req.Body)
		if strings.HasPrefix(req.URL.Path, "/hang") {
			<-req.Context().Done()
			return
		}
		r.count.Add(1)
		if req.Header.Get("X-Callout-Attempt") == "1" {
			r.mu.Lock()
			r.arrived[req.URL.Path+" "+req.Header.Get("webhook-id")] = now
			r.mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	})
	var err error
	r.srv, r.url, err = serve("event receiver", h)
	return r, err
}

func (r *receiver) at(path, id string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.arrived[path+" "+id]
	return t, ok
}

// eventBench is one store's run.
type eventBench struct {
	opts   options
	hc     *http.Client
	c      *calloutServer
	rcv    *receiver
	header http.Header // the platform's, which publishes to every manufacturer
}

// eventsResult is what one store measured.
type eventsResult struct {
	Store string `json:"store"`
	// Publish is the latency of POST …/events at the fixed rate, each event
	// to two endpoints; FirstAttempt, from sending the publish to each
	// message's first attempt arriving.
	Rate         float64 `json:"rate"`
	Publish      Stats   `json:"publish"`
	FirstAttempt Stats   `json:"first_attempt"`
	Missing      int     `json:"missing"`
	// Deliveries a second, publishing as fast as it goes, to twenty fast
	// endpoints of ten manufacturers.
	Deliveries     int     `json:"deliveries"`
	DeliveriesRate float64 `json:"deliveries_per_second"`
	PublishedRate  float64 `json:"published_events_per_second"`
	// Healthy is the publish-to-delivery latency of one manufacturer while
	// another's endpoint hangs for its whole timeout on every attempt.
	Healthy Stats `json:"healthy_while_other_hangs"`
	// Peak RSS of Callout's process in each phase; Pending with 100,000
	// messages pending for a hanging endpoint.
	RSS map[string]uint64 `json:"peak_rss_bytes"`
}

// measureEvents runs the events benchmark on each store.
func measureEvents(ctx context.Context, opts options, stdout, stderr io.Writer) error {
	rcv, err := startReceiver()
	if err != nil {
		return err
	}
	defer rcv.srv.Close()
	stores := []string{""}
	if opts.databaseURL != "" {
		stores = append(stores, opts.databaseURL)
	}
	var results []*eventsResult
	for _, url := range stores {
		res, err := benchEventsOn(ctx, opts, rcv, url, stderr)
		if err != nil {
			return err
		}
		results = append(results, res)
	}
	if opts.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	writeEvents(stdout, opts, results)
	return nil
}

// benchEventsOn starts Callout on the store url names ("" for SQLite, in a
// schema of its own on PostgreSQL) and measures every phase.
func benchEventsOn(ctx context.Context, opts options, rcv *receiver, url string, stderr io.Writer) (*eventsResult, error) {
	res := &eventsResult{Store: "sqlite", Rate: opts.rate, RSS: map[string]uint64{}}
	if url != "" {
		res.Store = "postgres"
	}
	fmt.Fprintf(stderr, "callout-bench: events on %s\n", res.Store)
	// startCallout makes PostgreSQL's Callout a schema of its own.
	c, err := startCallout(ctx, stderr, url, profileFor(opts.cpuprofile, res.Store))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	b := &eventBench{opts: opts, hc: loadClient(opts.concurrency), c: c, rcv: rcv}
	defer b.hc.CloseIdleConnections()
	proc := fmt.Sprintf("/proc/%d", c.cmd.Process.Pid)
	mark := func(phase string) {
		if rss, err := peakRSS(proc); err == nil {
			res.RSS[phase] = rss
		}
		_ = os.WriteFile(proc+"/clear_refs", []byte("5"), 0)
	}
	if err := b.setUp(ctx); err != nil {
		return nil, err
	}
	mark("setup")
	b.latency(ctx, res)
	mark("latency")
	b.sustained(ctx, res)
	mark("sustained")
	b.isolation(ctx, res)
	mark("isolation")
	b.pending(ctx, res)
	mark("pending")
	return res, ctx.Err()
}

// profileFor names the CPU profile of one store's Callout: "cpu.out" becomes
// "cpu.sqlite.out" and "cpu.postgres.out"; "" stays "".
func profileFor(cpuprofile, store string) string {
	if cpuprofile == "" {
		return ""
	}
	ext := filepath.Ext(cpuprofile)
	return strings.TrimSuffix(cpuprofile, ext) + "." + store + ext
}

// The manufacturers of the events benchmark.
const (
	mfrEvents  = "e1" // two fast endpoints, the latency phase's
	mfrHanging = "h1" // one endpoint that hangs
	mfrPending = "p1" // one hanging endpoint, for the pending backlog
)

// sustainedMfrs are the manufacturers of the sustained phase.
var sustainedMfrs = []string{"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"}

func (b *eventBench) setUp(ctx context.Context) error {
	endpoint := func(m, id, path string) error {
		return b.c.admin(ctx, b.hc, auth.RoleAdmin, m, "PUT", "/v1/manufacturers/"+m+"/endpoints/"+id,
			map[string]any{"url": b.rcv.url + path, "timeout_ms": 5000})
	}
	tok, err := b.c.token(auth.RolePlatform, "")
	if err != nil {
		return err
	}
	b.header = http.Header{"Authorization": {"Bearer " + tok}}
	all := append([]string{mfrEvents, mfrHanging, mfrPending}, sustainedMfrs...)
	for _, m := range all {
		if err := b.c.admin(ctx, b.hc, auth.RolePlatform, "", "PUT", "/v1/manufacturers/"+m, map[string]string{"name": m}); err != nil {
			return err
		}
		var paths []string
		switch m {
		case mfrHanging, mfrPending:
			paths = []string{"/hang/" + m}
		default:
			paths = []string{"/" + m + "/a", "/" + m + "/b"}
		}
		for i, p := range paths {
			if err := endpoint(m, fmt.Sprintf("ep%d", i), p); err != nil {
				return err
			}
		}
	}
	return nil
}

// publish posts one event with the given id to m.
func (b *eventBench) publish(ctx context.Context, m, id string) error {
	body := []byte(`{"event": "moved_to_ready", "id": "` + id + `", "data": {"orderId": 123456, "status": "ready", "amount": 1.0e2}}`)
	return post(ctx, b.hc, b.c.url+"/v1/manufacturers/"+m+"/events", body, b.header, http.StatusAccepted)
}

// awaitArrivals waits until every (path, id) arrived or within passed, and
// returns the latencies from sent, and how many never arrived.
func (b *eventBench) awaitArrivals(paths []string, sent map[string]time.Time, within time.Duration) ([]time.Duration, int) {
	deadline := time.Now().Add(within)
	for {
		var lat []time.Duration
		missing := 0
		for id, at := range sent {
			for _, p := range paths {
				if got, ok := b.rcv.at(p, id); ok {
					lat = append(lat, got.Sub(at))
				} else {
					missing++
				}
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			return lat, missing
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// latency publishes at the fixed rate to the two endpoints of mfrEvents.
func (b *eventBench) latency(ctx context.Context, res *eventsResult) {
	var mu sync.Mutex
	sent := map[string]time.Time{}
	loop := openLoop{rate: b.opts.rate, duration: b.opts.duration, clock: realClock{}}
	r := loop.run(ctx, func(ctx context.Context, i int, due time.Time) (time.Time, error) {
		id := fmt.Sprintf("lat-%s-%d", res.Store, i)
		start := time.Now()
		mu.Lock()
		sent[id] = start
		mu.Unlock()
		err := b.publish(ctx, mfrEvents, id)
		return time.Now(), err
	})
	res.Publish = r.Latency
	lat, missing := b.awaitArrivals([]string{"/" + mfrEvents + "/a", "/" + mfrEvents + "/b"}, sent, 30*time.Second)
	res.FirstAttempt, res.Missing = summarize(lat, missing), missing
}

// sustained publishes as fast as it goes to twenty endpoints and measures
// the deliveries a second, from the first publish to the last delivery.
func (b *eventBench) sustained(ctx context.Context, res *eventsResult) {
	before := b.rcv.count.Load()
	var n atomic.Int64
	start := time.Now()
	loop := closedLoop{workers: b.opts.concurrency, duration: b.opts.duration}
	r := loop.run(ctx, func(ctx context.Context, worker int) error {
		i := n.Add(1)
		m := sustainedMfrs[int(i)%len(sustainedMfrs)]
		return b.publish(ctx, m, fmt.Sprintf("sus-%s-%d", res.Store, i))
	})
	published := time.Since(start)
	want := before + 2*int64(r.Requests-r.Errors)
	deadline := time.Now().Add(60 * time.Second)
	for b.rcv.count.Load() < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	res.Deliveries = int(b.rcv.count.Load() - before)
	res.DeliveriesRate = perSecond(res.Deliveries, elapsed)
	res.PublishedRate = perSecond(r.Requests-r.Errors, published)
}

// isolation publishes to mfrHanging and mfrEvents alike, at half the rate
// each, and measures mfrEvents's publish-to-delivery latency.
func (b *eventBench) isolation(ctx context.Context, res *eventsResult) {
	var mu sync.Mutex
	sent := map[string]time.Time{}
	loop := openLoop{rate: b.opts.rate / 5, duration: b.opts.duration, clock: realClock{}}
	loop.run(ctx, func(ctx context.Context, i int, due time.Time) (time.Time, error) {
		if err := b.publish(ctx, mfrHanging, fmt.Sprintf("hang-%s-%d", res.Store, i)); err != nil {
			return time.Now(), err
		}
		id := fmt.Sprintf("iso-%s-%d", res.Store, i)
		start := time.Now()
		mu.Lock()
		sent[id] = start
		mu.Unlock()
		return time.Now(), b.publish(ctx, mfrEvents, id)
	})
	lat, missing := b.awaitArrivals([]string{"/" + mfrEvents + "/a"}, sent, 30*time.Second)
	res.Healthy = summarize(lat, missing)
}

// pending publishes 100,000 messages for a hanging endpoint, so that they
// wait, and lets them wait a while: the peak RSS of this phase is Callout's
// with that backlog.
func (b *eventBench) pending(ctx context.Context, res *eventsResult) {
	var n atomic.Int64
	loop := closedLoop{workers: b.opts.concurrency, duration: 10 * time.Minute}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	loop.run(lctx, func(ctx context.Context, worker int) error {
		i := n.Add(1)
		if i > pendingMessages {
			cancel()
			return nil
		}
		// Not cancelled with the loop: a publish given up would be an
		// error logged by Callout.
		return b.publish(context.WithoutCancel(ctx), mfrPending, fmt.Sprintf("pend-%s-%d", res.Store, i))
	})
	select {
	case <-ctx.Done():
	case <-time.After(b.opts.duration):
	}
}

func writeEvents(w io.Writer, opts options, results []*eventsResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "Callout events benchmark: %s per phase on loopback, receivers answering 204 at once\n\n", opts.duration)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
	verdict := func(ok bool) string {
		if ok {
			return "pass"
		}
		return "MISS"
	}
	fmt.Fprintf(tw, "figure\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t", r.Store)
	}
	fmt.Fprintf(tw, "target\t\n")
	row := func(name, target string, cell func(r *eventsResult) (string, bool)) {
		fmt.Fprintf(tw, "%s\t", name)
		for _, r := range results {
			v, ok := cell(r)
			fmt.Fprintf(tw, "%s %s\t", v, verdict(ok))
		}
		fmt.Fprintf(tw, "%s\t\n", target)
	}
	row(fmt.Sprintf("publish p50 at %.0f/s, 2 endpoints", opts.rate), "", func(r *eventsResult) (string, bool) {
		return ms(r.Publish.P50), r.Publish.Errors == 0
	})
	row(fmt.Sprintf("publish p99 at %.0f/s, 2 endpoints", opts.rate), "≤ 5 ms", func(r *eventsResult) (string, bool) {
		return ms(r.Publish.P99), r.Publish.P99 <= targetPublishP99 && r.Publish.Errors == 0
	})
	row("publish to first attempt p50", "≤ 50 ms", func(r *eventsResult) (string, bool) {
		return ms(r.FirstAttempt.P50), r.FirstAttempt.P50 <= targetFirstAttemptP50 && r.Missing == 0
	})
	row("publish to first attempt p99", "≤ 250 ms", func(r *eventsResult) (string, bool) {
		return ms(r.FirstAttempt.P99), r.FirstAttempt.P99 <= targetFirstAttemptP99 && r.Missing == 0
	})
	row("sustained deliveries/s (20 endpoints)", "≥ 1,000/s", func(r *eventsResult) (string, bool) {
		return fmt.Sprintf("%.0f/s (publish %.0f ev/s)", r.DeliveriesRate, r.PublishedRate), r.DeliveriesRate >= targetDeliveries
	})
	row("healthy p99 while another hangs", "≤ 1 s", func(r *eventsResult) (string, bool) {
		return ms(r.Healthy.P99), r.Healthy.P99 <= targetHealthyP99 && r.Healthy.Errors == 0
	})
	for _, phase := range []string{"setup", "latency", "sustained", "isolation", "pending"} {
		row("peak RSS, "+phase, "flat", func(r *eventsResult) (string, bool) {
			return fmt.Sprintf("%.0f MB", float64(r.RSS[phase])/1e6), true
		})
	}
	tw.Flush()
}
