package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callout/callout"
	"github.com/callout/callout/auth"
	"github.com/callout/callout/config"
	"github.com/callout/callout/internal/fakeauth0"
	calloutmetrics "github.com/callout/callout/metrics"
	"github.com/callout/callout/payload"
	"github.com/callout/callout/server"
	"github.com/callout/callout/webhook"
)

// bench is what one run measures: the proxy and Callout on each store in
// front of fake webhooks that answer alike, and the load generator's client.
type bench struct {
	opts     options
	hc       *http.Client
	hooks    *fakeWebhooks
	auth0    *fakeauth0.Server
	callout  *calloutServer // on SQLite, also for the breaker and the burst
	stores   []*calloutStore
	proxyURL string
	proxyCPU *cpuMeter
	refused  string // a webhook URL whose port refuses connections
	progress io.Writer
	logs     io.Writer

	tokens    map[string]string // app token per manufacturer, on SQLite
	burstJobs []int             // of mfrAuth0

	payload []byte      // the bytes Callout sent to the webhook
	header  http.Header // the headers it sent them with, replayed by the proxy's client
}

// calloutStore is Callout on one store, as the latency and saturation
// phases price through it.
type calloutStore struct {
	name      string // the store, as the report names it
	server    *calloutServer
	header    http.Header // the app's, for mfrPricing
	priceURLs []string    // of mfrPricing's jobs, rotated over
	cpu       *cpuMeter
}

// errStatus is a request answered with another status than expected.
type errStatus struct{ got, want int }

func (e *errStatus) Error() string { return fmt.Sprintf("status %d, want %d", e.got, e.want) }

// post sends a POST with hc and discards the answer, failing unless its
// status is want.
func post(ctx context.Context, hc *http.Client, url string, body []byte, header http.Header, want int) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, rd)
	if err != nil {
		return err
	}
	req.Header = header
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return &errStatus{resp.StatusCode, want}
	}
	return nil
}

// priceURL is the price route of a job on SQLite.
func (b *bench) priceURL(m string, job int) string { return b.callout.priceURL(m, job) }

// appHeader is the header of the app's requests for manufacturer m.
func (b *bench) appHeader(m string) http.Header {
	return http.Header{"Authorization": {"Bearer " + b.tokens[m]}}
}

// sendCallout prices the i-th job of the rotation through Callout on s.
func (b *bench) sendCallout(s *calloutStore) func(ctx context.Context, i int) error {
	return func(ctx context.Context, i int) error {
		return post(ctx, b.hc, s.priceURLs[i%len(s.priceURLs)], nil, s.header, http.StatusOK)
	}
}

// sendProxy sends Callout's payload through the proxy.
func (b *bench) sendProxy(ctx context.Context, _ int) error {
	return post(ctx, b.hc, b.proxyURL+"/", b.payload, b.header, http.StatusOK)
}

// prepare creates the manufacturers, makes one price through Callout on
// each store and keeps what Callout sent, for the proxy to send the same.
// The breaker and the burst run on SQLite only, so only it gets their
// manufacturers.
func (b *bench) prepare(ctx context.Context) error {
	b.tokens = make(map[string]string)
	for _, m := range []string{mfrBroken, mfrAuth0} {
		tok, err := b.callout.token(auth.RoleApp, m)
		if err != nil {
			return err
		}
		b.tokens[m] = tok
	}
	pricingJobs := jobIDs(seedJob, b.opts.jobs)
	b.burstJobs = jobIDs(400000, b.opts.burst)
	pricing := manufacturerSetup{id: mfrPricing, jobs: pricingJobs, webhook: map[string]any{
		"url":  b.hooks.bearer.URL + "/price",
		"auth": map[string]any{"type": "bearer", "bearer_token": benchBearer},
	}}
	setups := []manufacturerSetup{
		{id: mfrBroken, jobs: []int{seedJob}, webhook: map[string]any{
			"url":     b.refused,
			"retries": 0,
			"breaker": map[string]any{"consecutive_failures": breakerFailures, "open_seconds": callout.MaxBreakerOpenSeconds},
		}},
		{id: mfrAuth0, jobs: b.burstJobs, webhook: map[string]any{
			"url":     b.hooks.auth0.URL + "/auth0",
			"retries": 0,
			"auth": map[string]any{"type": "auth0", "auth0": map[string]any{
				"tenant_domain": b.auth0.URL,
				"client_id":     "bench-client",
				"client_secret": "bench-client-secret-not-a-secret",
				"audience":      "https://bench.example",
			}},
		}},
	}
	for _, s := range setups {
		if err := b.callout.setUp(ctx, b.hc, s); err != nil {
			return fmt.Errorf("setting up manufacturer %s: %w", s.id, err)
		}
	}
	for _, s := range b.stores {
		if err := s.server.setUp(ctx, b.hc, pricing); err != nil {
			return fmt.Errorf("setting up manufacturer %s on %s: %w", pricing.id, s.name, err)
		}
		tok, err := s.server.token(auth.RoleApp, mfrPricing)
		if err != nil {
			return err
		}
		s.header = http.Header{"Authorization": {"Bearer " + tok}}
		for _, id := range pricingJobs {
			s.priceURLs = append(s.priceURLs, s.server.priceURL(mfrPricing, id))
		}
		if err := b.checkPrice(ctx, s); err != nil {
			return err
		}
	}
	body, header, err := b.hooks.captured()
	if err != nil {
		return err
	}
	// The client sets these itself for each request.
	for _, h := range []string{"Content-Length", "Accept-Encoding", "Connection"} {
		header.Del(h)
	}
	b.payload, b.header = body, header
	return nil
}

// checkPrice prices the seed job through Callout on s and checks the answer
// in full: a benchmark of wrong answers would measure nothing.
func (b *bench) checkPrice(ctx context.Context, s *calloutStore) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.server.priceURL(mfrPricing, seedJob), nil)
	if err != nil {
		return err
	}
	req.Header = s.header
	resp, err := b.hc.Do(req)
	if err != nil {
		return fmt.Errorf("pricing job %d on %s: %w", seedJob, s.name, err)
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("pricing job %d on %s: %w", seedJob, s.name, err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(answer, []byte(`"cost":1234.56`)) {
		return fmt.Errorf("pricing job %d on %s: %s: %.500s", seedJob, s.name, resp.Status, answer)
	}
	return nil
}

// warmUp opens the connections and fills the caches of every side.
func (b *bench) warmUp(ctx context.Context) {
	loop := closedLoop{workers: b.opts.concurrency, duration: time.Second}
	loop.run(ctx, b.sendProxy)
	for _, s := range b.stores {
		loop.run(ctx, b.sendCallout(s))
	}
}

// latencyResult is the open-loop phase of the proxy and of Callout on each
// store.
type latencyResult struct {
	Rate     float64     `json:"rate"`
	Proxy    openResult  `json:"proxy"`
	ProxyCPU cpuUse      `json:"proxy_cpu"`
	Callout  []openStore `json:"callout"`
}

// openStore is the open-loop phase of Callout on one store.
type openStore struct {
	Store string     `json:"store"`
	Load  openResult `json:"load"`
	CPU   cpuUse     `json:"cpu"`
	// Database is PostgreSQL's part, when Callout is on PostgreSQL.
	Database *databaseUse `json:"database,omitempty"`
}

// latency measures the proxy, then Callout on each store, at the fixed rate.
func (b *bench) latency(ctx context.Context) latencyResult {
	loop := openLoop{rate: b.opts.rate, duration: b.opts.duration, clock: realClock{}}
	timed := func(send func(context.Context, int) error) sendFunc {
		return func(ctx context.Context, i int, _ time.Time) (time.Time, error) {
			err := send(ctx, i)
			return time.Now(), err
		}
	}
	r := latencyResult{Rate: b.opts.rate}
	b.say("latency at %.0f/s for %s: proxy", b.opts.rate, b.opts.duration)
	r.ProxyCPU, _ = b.proxyCPU.measure(func() int {
		r.Proxy = loop.run(ctx, timed(b.sendProxy))
		return r.Proxy.Sent
	})
	for _, s := range b.stores {
		b.say("latency at %.0f/s for %s: Callout on %s", b.opts.rate, b.opts.duration, s.name)
		o := openStore{Store: s.name}
		o.CPU, o.Database = s.cpu.measure(func() int {
			o.Load = loop.run(ctx, timed(b.sendCallout(s)))
			return o.Load.Sent
		})
		r.Callout = append(r.Callout, o)
	}
	return r
}

// saturationResult is the closed-loop phase of the proxy and of Callout on
// each store.
type saturationResult struct {
	Workers  int           `json:"workers"`
	Proxy    closedResult  `json:"proxy"`
	ProxyCPU cpuUse        `json:"proxy_cpu"`
	Callout  []closedStore `json:"callout"`
}

// closedStore is the closed-loop phase of Callout on one store.
type closedStore struct {
	Store    string       `json:"store"`
	Load     closedResult `json:"load"`
	CPU      cpuUse       `json:"cpu"`
	Database *databaseUse `json:"database,omitempty"`
	// WebhookHits is how many requests reached the webhook from Callout:
	// one per price unless concurrent prices of one job were shared.
	WebhookHits int64   `json:"webhook_hits"`
	CalloutRate float64 `json:"callout_rate"`
}

// saturation measures the highest rate of the proxy, then of Callout on each
// store.
func (b *bench) saturation(ctx context.Context) (saturationResult, error) {
	loop := closedLoop{workers: b.opts.concurrency, duration: b.opts.duration}
	r := saturationResult{Workers: b.opts.concurrency}
	b.say("saturation with %d workers for %s: proxy", b.opts.concurrency, b.opts.duration)
	r.ProxyCPU, _ = b.proxyCPU.measure(func() int {
		r.Proxy = loop.run(ctx, b.sendProxy)
		return r.Proxy.Requests
	})
	for _, s := range b.stores {
		b.say("saturation with %d workers for %s: Callout on %s", b.opts.concurrency, b.opts.duration, s.name)
		c := closedStore{Store: s.name}
		hits := b.hooks.bearer.Requests()
		c.CPU, c.Database = s.cpu.measure(func() int {
			c.Load = loop.run(ctx, b.sendCallout(s))
			return c.Load.Requests
		})
		c.WebhookHits = b.hooks.bearer.Requests() - hits
		c.CalloutRate = perSecond(int(c.WebhookHits), c.Load.Elapsed)
		r.Callout = append(r.Callout, c)
	}
	return r, nil
}

// breakerResult is how fast callouts fail while a breaker is open.
type breakerResult struct {
	// API is a price through the HTTP API answered 503 circuit_open.
	API Stats `json:"api"`
	// Client is webhook.Client.Call refused by the breaker.
	Client Stats `json:"client"`
	// ClientAllocs is the heap allocations of one refused Call.
	ClientAllocs float64 `json:"client_allocs_per_call"`
}

// Sample sizes of the breaker phase: sequential calls, each well under a
// millisecond.
const (
	breakerAPICalls    = 2000
	breakerClientCalls = 20000
)

// breaker trips the broken webhook's breaker and times the refused callouts.
func (b *bench) breaker(ctx context.Context) (breakerResult, error) {
	var r breakerResult
	b.say("breaker: tripping it through the API, then %d refused prices", breakerAPICalls)
	url, header := b.priceURL(mfrBroken, seedJob), b.appHeader(mfrBroken)
	for i := range breakerFailures {
		if err := post(ctx, b.hc, url, nil, header, http.StatusBadGateway); err != nil {
			return r, fmt.Errorf("tripping the breaker, price %d: %w", i+1, err)
		}
	}
	if err := post(ctx, b.hc, url, nil, header, http.StatusServiceUnavailable); err != nil {
		return r, fmt.Errorf("the breaker did not open after %d failures: %w", breakerFailures, err)
	}
	lat := make([]time.Duration, breakerAPICalls)
	failed := 0
	for i := range lat {
		t0 := time.Now()
		if post(ctx, b.hc, url, nil, header, http.StatusServiceUnavailable) != nil {
			failed++
		}
		lat[i] = time.Since(t0)
	}
	r.API = summarize(lat, failed)

	b.say("breaker: %d refused calls of webhook.Client", breakerClientCalls)
	var err error
	r.Client, r.ClientAllocs, err = breakerClient(ctx, b.refused, b.logs)
	return r, err
}

// breakerClient times webhook.Client.Call on a tripped breaker, with the
// client built as the server builds it (logger, metrics hooks).
func breakerClient(ctx context.Context, refused string, logs io.Writer) (Stats, float64, error) {
	cfg := config.Default()
	cfg.LogLevel = "warn"
	m := calloutmetrics.New(prometheus.NewRegistry())
	policy := webhook.Policy{AllowPrivateNetworks: true, AllowInsecureHTTP: true}
	c := webhook.New(webhook.Options{
		Policy:    policy,
		UserAgent: "callout/bench",
		Logger:    server.NewLogger(cfg, logs),
		OnCallout: func(w *callout.Webhook, r *webhook.Result) {
			m.Callout(w.ManufacturerID, w.Kind, r.Outcome, r.Duration)
		},
		OnBreakerChange: func(mfr string, kind callout.Kind, _, to string) { m.BreakerState(mfr, kind, to) },
	})
	w := callout.NewWebhook("bench", callout.KindPricing)
	w.Enabled, w.URL, w.Retries = true, refused, 0
	w.Auth = callout.Auth{Type: callout.AuthBearer, BearerToken: benchBearer}
	w.Breaker = callout.BreakerSettings{ConsecutiveFailures: breakerFailures, OpenSeconds: callout.MaxBreakerOpenSeconds}
	export, job, customer := payload.Sample()
	body, err := payload.Build(w.ExportFormat, export, job, customer)
	if err != nil {
		return Stats{}, 0, err
	}
	call := func() *webhook.Result {
		return c.Call(ctx, &webhook.Request{Webhook: w, Body: body, DeliveryID: "bench-delivery", RequestID: "bench"})
	}
	for i := range breakerFailures {
		if r := call(); r.Outcome != callout.OutcomeUnreachable {
			return Stats{}, 0, fmt.Errorf("tripping the client's breaker, call %d: outcome %s, want %s", i+1, r.Outcome, callout.OutcomeUnreachable)
		}
	}
	if r := call(); r.Outcome != callout.OutcomeCircuitOpen {
		return Stats{}, 0, fmt.Errorf("the client's breaker did not open: outcome %s", r.Outcome)
	}

	lat := make([]time.Duration, breakerClientCalls)
	failed := 0
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range lat {
		t0 := time.Now()
		r := call()
		lat[i] = time.Since(t0)
		if r.Outcome != callout.OutcomeCircuitOpen {
			failed++
		}
	}
	runtime.ReadMemStats(&after)
	allocs := float64(after.Mallocs-before.Mallocs) / float64(len(lat))
	return summarize(lat, failed), allocs, nil
}

// tokenResult is the token burst.
type tokenResult struct {
	Burst         int           `json:"burst"`
	TokenRequests int64         `json:"token_requests"`
	Priced        int64         `json:"priced"`
	Elapsed       time.Duration `json:"elapsed_ns"`
	// Errors are the distinct failures of the burst's prices, if any.
	Errors []string `json:"errors,omitempty"`
	// The same burst through the proxy, for its memory.
	ProxyForwarded int64         `json:"proxy_forwarded"`
	ProxyElapsed   time.Duration `json:"proxy_elapsed_ns"`
	ProxyErrors    []string      `json:"proxy_errors,omitempty"`
}

// tokenBurst sends as many simultaneous requests through the proxy, then
// prices every burst job at once through the auth0 webhook, whose token
// cache is still cold, and counts the token requests.
func (b *bench) tokenBurst(ctx context.Context) tokenResult {
	r := tokenResult{Burst: len(b.burstJobs)}
	b.say("burst: %d simultaneous requests through the proxy", r.Burst)
	r.ProxyForwarded, r.ProxyElapsed, r.ProxyErrors = burst(r.Burst, func(int) error { return b.sendProxy(ctx, 0) })
	b.say("token burst: %d simultaneous prices on a cold token cache", r.Burst)
	header := b.appHeader(mfrAuth0)
	before := b.auth0.Requests()
	r.Priced, r.Elapsed, r.Errors = burst(r.Burst, func(i int) error {
		return post(ctx, b.hc, b.priceURL(mfrAuth0, b.burstJobs[i]), nil, header, http.StatusOK)
	})
	r.TokenRequests = b.auth0.Requests() - before
	return r
}

// burst makes n calls of send at once, and returns how many succeeded, how
// long they all took, and their distinct errors.
func burst(n int, send func(i int) error) (ok int64, elapsed time.Duration, errs []string) {
	var (
		succeeded atomic.Int64
		wg        sync.WaitGroup
		mu        sync.Mutex
		distinct  = map[string]bool{}
		start     = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := send(i)
			if err == nil {
				succeeded.Add(1)
				return
			}
			mu.Lock()
			distinct[err.Error()] = true
			mu.Unlock()
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	elapsed = time.Since(t0)
	for e := range distinct {
		errs = append(errs, e)
	}
	return succeeded.Load(), elapsed, errs
}

// memoryResult is the memory of Callout's process and of the proxy's.
type memoryResult struct {
	// The most resident memory each had at once (VmHWM).
	CalloutPeakRSS uint64 `json:"callout_peak_rss_bytes"`
	ProxyPeakRSS   uint64 `json:"proxy_peak_rss_bytes"`
	// Phases are the peaks of each phase, in order; when the kernel's peak
	// could not be reset between phases (PerPhase false), each is the peak so
	// far.
	Phases   []phaseMemory `json:"phases"`
	PerPhase bool          `json:"per_phase"`
}

// phaseMemory is the peak RSS of each process in one phase.
type phaseMemory struct {
	Name    string `json:"name"`
	Callout uint64 `json:"callout_peak_rss_bytes"`
	Proxy   uint64 `json:"proxy_peak_rss_bytes"`
}

// memoryTracker records the peak RSS of Callout's and the proxy's processes
// in each phase. The kernel keeps the peak (VmHWM) and lets it be reset
// (clear_refs), which tells which phase needed the memory.
type memoryTracker struct {
	callout, proxy string // /proc/<pid>
	result         memoryResult
}

func newMemoryTracker(callout, proxy int) *memoryTracker {
	t := &memoryTracker{callout: fmt.Sprintf("/proc/%d", callout), proxy: fmt.Sprintf("/proc/%d", proxy)}
	t.result.PerPhase = t.reset() == nil
	return t
}

// mark ends a phase: it records the phase's peaks and starts the next's.
func (t *memoryTracker) mark(name string) error {
	callout, err := peakRSS(t.callout)
	if err != nil {
		return err
	}
	proxy, err := peakRSS(t.proxy)
	if err != nil {
		return err
	}
	t.result.Phases = append(t.result.Phases, phaseMemory{Name: name, Callout: callout, Proxy: proxy})
	t.result.CalloutPeakRSS = max(t.result.CalloutPeakRSS, callout)
	t.result.ProxyPeakRSS = max(t.result.ProxyPeakRSS, proxy)
	if t.result.PerPhase {
		return t.reset()
	}
	return nil
}

// reset sets each process's peak RSS to its current RSS.
func (t *memoryTracker) reset() error {
	for _, proc := range []string{t.callout, t.proxy} {
		if err := os.WriteFile(proc+"/clear_refs", []byte("5"), 0); err != nil {
			return fmt.Errorf("resetting the peak RSS: %w", err)
		}
	}
	return nil
}

// peakRSS reads the peak RSS of the process at proc.
func peakRSS(proc string) (uint64, error) {
	status, err := os.ReadFile(proc + "/status")
	if err != nil {
		return 0, fmt.Errorf("reading the peak RSS: %w", err)
	}
	return vmHWM(status)
}

// vmHWM parses the VmHWM line of a /proc/<pid>/status, in kB, into bytes.
func vmHWM(status []byte) (uint64, error) {
	for line := range strings.Lines(string(status)) {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		kb, ok := strings.CutSuffix(strings.TrimSpace(rest), " kB")
		if !ok {
			break
		}
		n, err := strconv.ParseUint(strings.TrimSpace(kb), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmHWM %q: %w", strings.TrimSpace(rest), err)
		}
		return n << 10, nil
	}
	return 0, errors.New("no VmHWM line in the process status")
}

// logCounter stands for Callout's log output: it counts the lines and keeps
// the first, instead of printing thousands of expected warnings (every price
// refused by the open breaker is one).
type logCounter struct {
	lines atomic.Int64
	mu    sync.Mutex
	first string
}

func (l *logCounter) Write(p []byte) (int, error) {
	n := int64(bytes.Count(p, []byte{'\n'}))
	if n > 0 && l.lines.Add(n) == n {
		l.mu.Lock()
		l.first = strings.TrimSpace(string(p))
		l.mu.Unlock()
	}
	return len(p), nil
}

// logResult is what Callout logged at warn level and above.
type logResult struct {
	Lines int64  `json:"lines"`
	First string `json:"first,omitempty"`
}

func (l *logCounter) result() logResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	return logResult{Lines: l.lines.Load(), First: l.first}
}

// say reports progress.
func (b *bench) say(format string, args ...any) {
	fmt.Fprintf(b.progress, "callout-bench: "+format+"\n", args...)
}
