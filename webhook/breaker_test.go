package webhook_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/callout/callout"
	"github.com/callout/callout/internal/buffertest"
	"github.com/callout/callout/webhook"
)

// fakeWebhook is an in-memory manufacturer whose answer can change, for
// breaker tests inside a synctest bubble, where time is virtual.
type fakeWebhook struct {
	requests atomic.Int64
	mu       sync.Mutex
	status   int
	body     string
	hold     chan struct{} // when set, requests wait for it to close
	err      error         // when set, requests fail with it, unanswered
}

func (f *fakeWebhook) answer(status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.body = status, body
}

func (f *fakeWebhook) client() *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		f.requests.Add(1)
		f.mu.Lock()
		status, body, hold, err := f.status, f.body, f.hold, f.err
		f.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return nil, r.Context().Err()
			}
		}
		return inMemoryAnswer(r, status, body), nil
	})}
}

// breakerChanges records what OnBreakerChange reports.
type breakerChanges struct {
	mu      sync.Mutex
	changes []string
}

func (b *breakerChanges) record(manufacturer string, kind callout.Kind, from, to string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.changes = append(b.changes, manufacturer+"/"+string(kind)+": "+from+" -> "+to)
}

func (b *breakerChanges) get() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.changes...)
}

// TestBreaker checks the breaker's life: it opens after 5 breaker failures;
// while open it fails at once without a request; after open_seconds it lets
// one trial through, refusing others meanwhile; a success closes it.
func TestBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := &fakeWebhook{status: http.StatusServiceUnavailable}
		var changes breakerChanges
		c := webhook.New(webhook.Options{HTTPClient: fake.client(), OnBreakerChange: changes.record})
		w := newHook(callout.KindPricing, "https://erp.example.com/price")

		for i := range 5 {
			if res := call(t, c, w); res.Outcome != callout.OutcomeWebhookError {
				t.Fatalf("callout %d: Outcome = %s, want webhook_error", i+1, res.Outcome)
			}
		}
		if got := fake.requests.Load(); got != 5 {
			t.Fatalf("the webhook got %d requests, want 5", got)
		}

		// Open: no request, no wait, and when to come back.
		time.Sleep(10 * time.Second)
		res := call(t, c, w)
		if res.Outcome != callout.OutcomeCircuitOpen {
			t.Fatalf("after 5 failures: Outcome = %s, want circuit_open", res.Outcome)
		}
		if got := fake.requests.Load(); got != 5 {
			t.Errorf("the webhook got %d requests, want still 5", got)
		}
		if res.Attempts != 0 || res.HTTPStatus != 0 {
			t.Errorf("Attempts = %d, HTTPStatus = %d, want 0 and 0", res.Attempts, res.HTTPStatus)
		}
		// In the synctest bubble time moves only while goroutines wait, so a
		// refusal that took no time waited on nothing: no dial, no token, no
		// pause. How fast it is in real time, the benchmark measures.
		if res.Duration != 0 {
			t.Errorf("Duration = %s of virtual time, want 0: the refusal waited on something", res.Duration)
		}
		if res.RetryAfter != 20*time.Second {
			t.Errorf("RetryAfter = %s, want 20s (30 s open, 10 s gone)", res.RetryAfter)
		}
		if res.Detail == "" {
			t.Error("Detail is empty")
		}

		// Half-open: one trial; another callout meanwhile is refused.
		time.Sleep(20*time.Second + time.Millisecond)
		fake.answer(http.StatusOK, `{"cost": 1}`)
		hold := make(chan struct{})
		fake.mu.Lock()
		fake.hold = hold
		fake.mu.Unlock()
		trial := make(chan *webhook.Result)
		go func() { trial <- call(t, c, w) }()
		synctest.Wait() // the trial is waiting for its answer
		if res := call(t, c, w); res.Outcome != callout.OutcomeCircuitOpen {
			t.Errorf("during the trial: Outcome = %s, want circuit_open", res.Outcome)
		}
		close(hold)
		if res := <-trial; res.Outcome != callout.OutcomeAccepted {
			t.Fatalf("trial: Outcome = %s (%s), want accepted", res.Outcome, res.Detail)
		}

		// Closed again.
		for i := range 3 {
			if res := call(t, c, w); res.Outcome != callout.OutcomeAccepted {
				t.Fatalf("after the trial, callout %d: Outcome = %s, want accepted", i+1, res.Outcome)
			}
		}
		want := []string{
			"103/pricing: closed -> open",
			"103/pricing: open -> half-open",
			"103/pricing: half-open -> closed",
		}
		if diff := cmp.Diff(want, changes.get()); diff != "" {
			t.Errorf("breaker changes (-want +got):\n%s", diff)
		}
	})
}

// TestBreakerFailedTrial checks that a failed trial opens the breaker again
// for another open period.
func TestBreakerFailedTrial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := &fakeWebhook{status: http.StatusBadGateway}
		c := webhook.New(webhook.Options{HTTPClient: fake.client()})
		w := newHook(callout.KindSubmission, "https://erp.example.com/submit")
		w.Breaker = callout.BreakerSettings{ConsecutiveFailures: 2, OpenSeconds: 5}
		call(t, c, w)
		call(t, c, w)
		if res := call(t, c, w); res.Outcome != callout.OutcomeCircuitOpen {
			t.Fatalf("Outcome = %s, want circuit_open after 2 failures", res.Outcome)
		}
		time.Sleep(5*time.Second + time.Millisecond)
		if res := call(t, c, w); res.Outcome != callout.OutcomeWebhookError {
			t.Fatalf("trial: Outcome = %s, want webhook_error", res.Outcome)
		}
		res := call(t, c, w)
		if res.Outcome != callout.OutcomeCircuitOpen || res.RetryAfter != 5*time.Second {
			t.Errorf("after a failed trial: Outcome = %s, RetryAfter = %s, want circuit_open, 5s", res.Outcome, res.RetryAfter)
		}
		if got := fake.requests.Load(); got != 3 {
			t.Errorf("the webhook got %d requests, want 3", got)
		}
	})
}

// TestBreakerCounts checks which answers count as breaker failures: 5xx and
// 429 whatever their body, never a rejection or a 4xx.
func TestBreakerCounts(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	tests := []struct {
		name   string
		status int
		body   string
		err    error // the transport fails instead of answering
		hang   bool  // the webhook never answers
		opens  bool
	}{
		{"422 with errors", 422, `{"errors": ["no widgets"]}`, nil, false, false},
		{"200 success false", 200, `{"success": false}`, nil, false, false},
		{"404", 404, `{}`, nil, false, false},
		{"400 plain", 400, `bad`, nil, false, false},
		{"500 with errors", 500, `{"errors": ["down"]}`, nil, false, true},
		{"503 plain", 503, ``, nil, false, true},
		{"429", 429, `{"errors": ["slow down"]}`, nil, false, true},
		{"200 not json", 200, `<html>`, nil, false, true},
		{"401", 401, ``, nil, false, true},
		{"connection reset: unreachable", 0, ``, reset, false, true},
		{"no answer: timeout", 0, ``, nil, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := &fakeWebhook{status: tt.status, body: tt.body, err: tt.err}
				if tt.hang {
					fake.hold = make(chan struct{})
				}
				c := webhook.New(webhook.Options{HTTPClient: fake.client()})
				w := newHook(callout.KindSubmission, "https://erp.example.com/submit")
				w.TimeoutMS = callout.MinTimeoutMS
				for range 10 {
					call(t, c, w)
				}
				open := call(t, c, w).Outcome == callout.OutcomeCircuitOpen
				if open != tt.opens {
					t.Errorf("breaker open = %v after 11 callouts, want %v", open, tt.opens)
				}
				wantRequests := int64(11)
				if tt.opens {
					wantRequests = 5
				}
				if got := fake.requests.Load(); got != wantRequests {
					t.Errorf("the webhook got %d requests, want %d", got, wantRequests)
				}
			})
		})
	}
}

// TestBreakerSuccessResets checks that the failures must be consecutive.
func TestBreakerSuccessResets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := &fakeWebhook{}
		c := webhook.New(webhook.Options{HTTPClient: fake.client()})
		w := newHook(callout.KindSubmission, "https://erp.example.com/submit")
		for range 3 {
			for range 4 {
				fake.answer(503, ``)
				call(t, c, w)
			}
			fake.answer(200, `{}`)
			if res := call(t, c, w); res.Outcome != callout.OutcomeAccepted {
				t.Fatalf("Outcome = %s, want accepted: 4 failures then a success must not open", res.Outcome)
			}
		}
	})
}

// TestBreakerPerWebhook checks that each manufacturer and kind has its own
// breaker, and that a changed webhook gets a fresh one.
func TestBreakerPerWebhook(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := &fakeWebhook{status: 503}
		var changes breakerChanges
		c := webhook.New(webhook.Options{HTTPClient: fake.client(), OnBreakerChange: changes.record})
		w := newHook(callout.KindPricing, "https://erp.example.com/price")
		for range 5 {
			call(t, c, w)
		}
		if res := call(t, c, w); res.Outcome != callout.OutcomeCircuitOpen {
			t.Fatalf("Outcome = %s, want circuit_open", res.Outcome)
		}
		fake.answer(200, `{"cost": 1}`)

		other := newHook(callout.KindSubmission, w.URL)
		if res := call(t, c, other); res.Outcome != callout.OutcomeAccepted {
			t.Errorf("the same manufacturer's other kind: Outcome = %s, want accepted", res.Outcome)
		}
		otherMfr := newHook(callout.KindPricing, w.URL)
		otherMfr.ManufacturerID = "104"
		if res := call(t, c, otherMfr); res.Outcome != callout.OutcomeAccepted {
			t.Errorf("another manufacturer: Outcome = %s, want accepted", res.Outcome)
		}

		fixed := *w
		fixed.URL = "https://erp.example.com/price/v2"
		if res := call(t, c, &fixed); res.Outcome != callout.OutcomeAccepted {
			t.Errorf("after a URL change: Outcome = %s, want accepted (a fresh breaker)", res.Outcome)
		}
		want := []string{"103/pricing: closed -> open", "103/pricing: open -> closed"}
		if diff := cmp.Diff(want, changes.get()); diff != "" {
			t.Errorf("breaker changes (-want +got):\n%s", diff)
		}
	})
}

// TestBreakerIgnoresCancelledCallers checks that callouts abandoned by their
// callers never open the breaker.
func TestBreakerIgnoresCancelledCallers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := &fakeWebhook{status: 200, body: `{}`, hold: make(chan struct{})}
		c := webhook.New(webhook.Options{HTTPClient: fake.client()})
		w := newHook(callout.KindSubmission, "https://erp.example.com/submit")
		for range 10 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			res := c.Call(ctx, &webhook.Request{Webhook: w, Body: payload(samplePayload)})
			cancel()
			if res.Outcome != callout.OutcomeTimeout {
				t.Fatalf("Outcome = %s (%s), want webhook_timeout", res.Outcome, res.Detail)
			}
		}
		close(fake.hold)
		if res := call(t, c, w); res.Outcome != callout.OutcomeAccepted {
			t.Errorf("Outcome = %s, want accepted: the caller's own deadline is not the webhook's failure", res.Outcome)
		}
	})
}

// TestBreakerRefusalLogNamesNoDelivery checks that the log line of a callout
// the open breaker refused names no delivery id: such a callout is not
// stored, so the id could never be fetched. A failed callout's line names
// its delivery.
func TestBreakerRefusalLogNamesNoDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := &fakeWebhook{status: http.StatusServiceUnavailable}
		var logs buffertest.Buffer
		c := webhook.New(webhook.Options{HTTPClient: fake.client(), Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		w := newHook(callout.KindPricing, "https://erp.example.com/price")
		for range 5 {
			call(t, c, w)
		}
		if res := call(t, c, w); res.Outcome != callout.OutcomeCircuitOpen {
			t.Fatalf("after 5 failures: Outcome = %s, want circuit_open", res.Outcome)
		}
		for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
			var entry map[string]any
			if err := json.Unmarshal([]byte(line), &entry); err != nil || entry["msg"] != "callout" {
				continue
			}
			_, named := entry["delivery_id"]
			if refused := entry["outcome"] == string(callout.OutcomeCircuitOpen); named == refused {
				t.Errorf("outcome %v: delivery_id given = %v, want %v", entry["outcome"], named, !refused)
			}
		}
	})
}
