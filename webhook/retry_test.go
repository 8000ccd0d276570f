package webhook_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callout/callout"
	"github.com/callout/callout/internal/fakemanufacturer"
	"github.com/callout/callout/webhook"
)

// TestRetries checks SPEC §5: pricing is repeated after a failure to connect,
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
			res := call(t, newClient(t, webhook.Options{}), w)
			if res.Outcome != tt.outcome {
				t.Errorf("Outcome = %s (%s), want %s", res.Outcome, res.Detail, tt.outcome)
			}
			if res.Attempts != tt.attempts {
				t.Errorf("Attempts = %d, want %d", res.Attempts, tt.attempts)
			}
			if mfr != nil && len(mfr.Requests()) != tt.attempts {
				t.Errorf("the webhook got %d requests, want %d", len(mfr.Requests()), tt.attempts)
			}
			checkWarnings(t, res.Warnings, tt.warnings)
		})
	}
}

// TestRetryNeedsTime checks that pricing is not retried when the time left
// would not allow another attempt like the last one, and that the callout
// then ends well within its timeout.
func TestRetryNeedsTime(t *testing.T) {
	const timeoutMS = 500
	srv := manufacturer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		// Each attempt takes most of the timeout.
		select {
		case <-time.After(300 * time.Millisecond):
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	w := newHook(callout.KindPricing, srv.URL)
	w.Retries = 3
	w.TimeoutMS = timeoutMS
	res := call(t, newClient(t, webhook.Options{}), w)
	if res.Outcome != callout.OutcomeWebhookError || res.HTTPStatus != http.StatusServiceUnavailable {
		t.Errorf("Outcome = %s, HTTP %d (%s), want webhook_error, HTTP 503", res.Outcome, res.HTTPStatus, res.Detail)
	}
	if res.Attempts != 1 || len(srv.Requests()) != 1 {
		t.Errorf("Attempts = %d, requests = %d, want 1", res.Attempts, len(srv.Requests()))
	}
	if res.Duration >= timeoutMS*time.Millisecond {
		t.Errorf("Duration = %s, want less than the %d ms timeout: a retry was started that could not finish", res.Duration, timeoutMS)
	}
	checkWarnings(t, res.Warnings, []string{"not retried"})
}

// TestRetryAfterHeader checks that a Retry-After longer than the time left
// stops the retry.
func TestRetryAfterHeader(t *testing.T) {
	srv := manufacturer(t, nil)
	srv.Answers(
		fakemanufacturer.Answer{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"120"}}},
		fakemanufacturer.Answer{Status: http.StatusOK, Body: `{"cost": 1}`},
	)
	w := newHook(callout.KindPricing, srv.URL)
	w.Retries = 1
	res := call(t, newClient(t, webhook.Options{}), w)
	if res.Outcome != callout.OutcomeWebhookError || res.Attempts != 1 {
		t.Errorf("Outcome = %s after %d attempts, want webhook_error after 1", res.Outcome, res.Attempts)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "not retried") {
		t.Errorf("Warnings = %q, want one saying it was not retried", res.Warnings)
	}
}
