package webhook_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callout/callout"
	"github.com/callout/callout/internal/clocktest"
	"github.com/callout/callout/internal/fakemanufacturer"
	"github.com/callout/callout/webhook"
)

// testJitter is the pause before a retry in these tests.
const testJitter = 75 * time.Millisecond

// fakeTime is the client's clock in retry tests: a pause moves it instead of
// sleeping, and is recorded.
type fakeTime struct {
	*clocktest.Clock
	mu     sync.Mutex
	pauses []time.Duration
}

func newFakeTime() *fakeTime {
	return &fakeTime{Clock: clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
}

// After moves the clock by d and fires at once.
func (f *fakeTime) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	f.pauses = append(f.pauses, d)
	f.mu.Unlock()
	f.Add(d)
	ch := make(chan time.Time, 1)
	ch <- f.Now()
	return ch
}

func (f *fakeTime) paused() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.pauses)
}

// options makes a client run on f, with testJitter before each retry.
func (f *fakeTime) options() webhook.Options {
	return webhook.Options{Now: f.Now, After: f.After, Jitter: func() time.Duration { return testJitter }}
}

// TestRetries checks the retries docs/manufacturers.md promises: pricing is repeated after a failure to connect,
// a 5xx or a 429; a submission only when its connection could not be made.
func TestRetries(t *testing.T) {
	tests := []struct {
		name    string
		kind    callout.Kind
		retries int
		answers []fakemanufacturer.Answer // nil: nothing listens

		outcome  callout.Outcome
		attempts int
		warnings []string
	}{
		{name: "pricing 503 then 200", kind: callout.KindPricing, retries: 1,
			answers: []fakemanufacturer.Answer{{Status: 503}, {Status: 200, Body: `{"cost": 12.5}`}},
			outcome: callout.OutcomeAccepted, attempts: 2, warnings: []string{"retried after HTTP 503"}},
		{name: "pricing 429 then 200", kind: callout.KindPricing, retries: 1,
			answers: []fakemanufacturer.Answer{{Status: 429}, {Status: 200, Body: `{"cost": 12.5}`}},
			outcome: callout.OutcomeAccepted, attempts: 2, warnings: []string{"retried after HTTP 429"}},
		{name: "pricing 500 with errors then 200", kind: callout.KindPricing, retries: 1,
			answers: []fakemanufacturer.Answer{{Status: 500, Body: `{"errors": ["busy"]}`}, {Status: 200, Body: `{"cost": 12.5}`}},
			outcome: callout.OutcomeAccepted, attempts: 2, warnings: []string{"retried after HTTP 500"}},
		{name: "pricing retries used up", kind: callout.KindPricing, retries: 2,
			answers: []fakemanufacturer.Answer{{Status: 502}},
			outcome: callout.OutcomeWebhookError, attempts: 3, warnings: []string{"retried after HTTP 502", "retried after HTTP 502"}},
		{name: "pricing without retries", kind: callout.KindPricing, retries: 0,
			answers: []fakemanufacturer.Answer{{Status: 503}, {Status: 200, Body: `{"cost": 1}`}},
			outcome: callout.OutcomeWebhookError, attempts: 1},
		{name: "pricing 422 not retried", kind: callout.KindPricing, retries: 1,
			answers: []fakemanufacturer.Answer{{Status: 422, Body: `{"errors": ["no"]}`}, {Status: 200, Body: `{"cost": 1}`}},
			outcome: callout.OutcomeRejected, attempts: 1},
		{name: "pricing bad response not retried", kind: callout.KindPricing, retries: 1,
			answers: []fakemanufacturer.Answer{{Status: 200, Body: `nope`}, {Status: 200, Body: `{"cost": 1}`}},
			outcome: callout.OutcomeBadResponse, attempts: 1},
		{name: "pricing refused port", kind: callout.KindPricing, retries: 1,
			outcome: callout.OutcomeUnreachable, attempts: 2, warnings: []string{"retried after could not connect"}},
		{name: "submission 503 not retried", kind: callout.KindSubmission,
			answers: []fakemanufacturer.Answer{{Status: 503}, {Status: 200, Body: `{}`}},
			outcome: callout.OutcomeWebhookError, attempts: 1},
		{name: "submission refused port retried", kind: callout.KindSubmission,
			outcome: callout.OutcomeUnreachable, attempts: 3,
			warnings: []string{"retried after could not connect", "retried after could not connect"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := "http://" + closedPort(t) + "/hook"
			var mfr *fakemanufacturer.Server
			if tt.answers != nil {
				mfr = manufacturer(t, nil)
				mfr.Answers(tt.answers...)
				url = mfr.URL
			}
			w := newHook(tt.kind, url)
			w.Retries = tt.retries
			clock := newFakeTime()
			res := call(t, newClient(t, clock.options()), w)
			if res.Outcome != tt.outcome {
				t.Errorf("Outcome = %s (%s), want %s", res.Outcome, res.Detail, tt.outcome)
			}
			if res.Attempts != tt.attempts {
				t.Errorf("Attempts = %d, want %d", res.Attempts, tt.attempts)
			}
			if mfr != nil && len(mfr.Received()) != tt.attempts {
				t.Errorf("the webhook got %d requests, want %d", len(mfr.Received()), tt.attempts)
			}
			checkWarnings(t, res.Warnings, tt.warnings)
			if got, want := clock.paused(), slices.Repeat([]time.Duration{testJitter}, tt.attempts-1); !slices.Equal(got, want) {
				t.Errorf("pauses = %v, want %v", got, want)
			}
		})
	}
}

// TestRetryNeedsTime checks that pricing is not retried when the time left
// would not allow another attempt like the last one, and that the callout
// then ends well within its timeout.
func TestRetryNeedsTime(t *testing.T) {
	const timeoutMS = 500
	clock := newFakeTime()
	srv := manufacturer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		// Each attempt takes most of the timeout.
		clock.Add(300 * time.Millisecond)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	w := newHook(callout.KindPricing, srv.URL)
	w.Retries = 3
	w.TimeoutMS = timeoutMS
	res := call(t, newClient(t, clock.options()), w)
	if res.Outcome != callout.OutcomeWebhookError || res.HTTPStatus != http.StatusServiceUnavailable {
		t.Errorf("Outcome = %s, HTTP %d (%s), want webhook_error, HTTP 503", res.Outcome, res.HTTPStatus, res.Detail)
	}
	if res.Attempts != 1 || len(srv.Received()) != 1 {
		t.Errorf("Attempts = %d, requests = %d, want 1", res.Attempts, len(srv.Received()))
	}
	if res.Duration >= timeoutMS*time.Millisecond {
		t.Errorf("Duration = %s, want less than the %d ms timeout: a retry was started that could not finish", res.Duration, timeoutMS)
	}
	checkWarnings(t, res.Warnings, []string{"not retried: 200ms of the 500 ms timeout left"})
	if p := clock.paused(); len(p) != 0 {
		t.Errorf("pauses = %v, want none", p)
	}
}

// TestRetryAfterHeader checks that a Retry-After within the time left is
// waited for before the retry, and that a longer one stops the retry.
func TestRetryAfterHeader(t *testing.T) {
	tests := []struct {
		retryAfter string
		outcome    callout.Outcome
		attempts   int
		pauses     []time.Duration
		warning    string
	}{
		{retryAfter: "2", outcome: callout.OutcomeAccepted, attempts: 2, pauses: []time.Duration{2 * time.Second}, warning: "retried after HTTP 429"},
		{retryAfter: "0", outcome: callout.OutcomeAccepted, attempts: 2, pauses: []time.Duration{testJitter}, warning: "retried after HTTP 429"},
		{retryAfter: "120", outcome: callout.OutcomeWebhookError, attempts: 1, warning: "not retried: 5s of the 5000 ms timeout left"},
	}
	for _, tt := range tests {
		t.Run(tt.retryAfter, func(t *testing.T) {
			srv := manufacturer(t, nil)
			srv.Answers(
				fakemanufacturer.Answer{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {tt.retryAfter}}},
				fakemanufacturer.Answer{Status: http.StatusOK, Body: `{"cost": 1}`},
			)
			w := newHook(callout.KindPricing, srv.URL)
			w.Retries = 1
			clock := newFakeTime()
			res := call(t, newClient(t, clock.options()), w)
			if res.Outcome != tt.outcome || res.Attempts != tt.attempts {
				t.Errorf("Outcome = %s after %d attempts (%s), want %s after %d", res.Outcome, res.Attempts, res.Detail, tt.outcome, tt.attempts)
			}
			if got := clock.paused(); !slices.Equal(got, tt.pauses) {
				t.Errorf("pauses = %v, want %v", got, tt.pauses)
			}
			if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], tt.warning) {
				t.Errorf("Warnings = %q, want one saying %q", res.Warnings, tt.warning)
			}
		})
	}
}
