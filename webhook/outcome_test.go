package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/callout/callout"
	"github.com/callout/callout/internal/fakemanufacturer"
	"github.com/callout/callout/webhook"
)

// TestCallAnswers walks every row and rule of docs/manufacturers.md ("How the answer is read") that a manufacturer's
// answer decides, through a real HTTP server, and checks the result and the
// delivery Fill writes from it.
func TestCallAnswers(t *testing.T) {
	sub, price := callout.KindSubmission, callout.KindPricing
	both := []callout.Kind{sub, price}
	tests := []struct {
		name   string
		kinds  []callout.Kind
		status int
		body   string
		header map[string]string

		outcome        callout.Outcome
		breakerFailure bool
		errors         []string // Answer.Errors
		messages       []string // Answer.Messages
		externalID     string
		cost           string // for pricing; a submission never has one
		breakdown      []callout.BreakdownNode
		warnings       []string // substrings, in order
		detail         string   // substring of Detail
	}{
		// accepted
		{name: "200 empty object", kinds: []callout.Kind{sub}, status: 200, body: `{}`, outcome: callout.OutcomeAccepted},
		{name: "200 empty body", kinds: []callout.Kind{sub}, status: 200, body: ``, outcome: callout.OutcomeAccepted},
		{name: "success true", kinds: both, status: 200, body: `{"success": true, "cost": 10}`, outcome: callout.OutcomeAccepted, cost: "10"},
		{name: "success yes", kinds: both, status: 200, body: `{"success": "yes", "cost": 10}`, outcome: callout.OutcomeAccepted, cost: "10"},
		{name: "success 1", kinds: both, status: 200, body: `{"success": 1, "cost": 10}`, outcome: callout.OutcomeAccepted, cost: "10"},
		{name: "seed submission example", kinds: []callout.Kind{sub}, status: 200,
			body:    `{"success": true, "message": "Order #123456", "id": "JPS-990495"}`,
			outcome: callout.OutcomeAccepted, messages: []string{"Order #123456"}, externalID: "JPS-990495"},
		{name: "numeric id as decimal text", kinds: []callout.Kind{sub}, status: 200, body: `{"id": 123456}`,
			outcome: callout.OutcomeAccepted, externalID: "123456"},
		{name: "message array", kinds: []callout.Kind{sub}, status: 200,
			body:    `{"message": ["Order #123456", "Please contact support for delivery"]}`,
			outcome: callout.OutcomeAccepted, messages: []string{"Order #123456", "Please contact support for delivery"}},
		{name: "pricing minimum", kinds: []callout.Kind{price}, status: 200, body: `{"cost": 1234.56}`,
			outcome: callout.OutcomeAccepted, cost: "1234.56", breakdown: []callout.BreakdownNode{}},
		{name: "pricing cost as string", kinds: []callout.Kind{price}, status: 200, body: `{"cost": "1234.56"}`,
			outcome: callout.OutcomeAccepted, cost: "1234.56", breakdown: []callout.BreakdownNode{}},
		{name: "pricing seed example with trailing comma", kinds: []callout.Kind{price}, status: 200,
			body: `{"success": true, "cost": 1234.56, "message": "10% first order discount applied",
			        "breakdown": [{"name": "Discounts", "items": [{"cost": 123.46, "name": "10% First Order Discount"}]},
			                      {"cost": 101.01, "name": "Tax",}]}`,
			outcome: callout.OutcomeAccepted, cost: "1234.56", messages: []string{"10% first order discount applied"},
			breakdown: []callout.BreakdownNode{
				{Name: "Discounts", Items: []callout.BreakdownNode{{Name: "10% First Order Discount", Cost: "123.46", Items: []callout.BreakdownNode{}}}},
				{Name: "Tax", Cost: "101.01", Items: []callout.BreakdownNode{}},
			},
			warnings: []string{"trailing commas"}},
		{name: "breakdown single object and dropped node", kinds: []callout.Kind{price}, status: 200,
			body:    `{"cost": 5, "breakdown": {"name": "Subtotal", "cost": 5, "collapse": "yes", "items": [{"cost": 1}]}}`,
			outcome: callout.OutcomeAccepted, cost: "5",
			breakdown: []callout.BreakdownNode{{Name: "Subtotal", Cost: "5", Collapse: true, Items: []callout.BreakdownNode{}}},
			warnings:  []string{"breakdown: 1 node dropped"}},
		{name: "BOM and trailing commas", kinds: []callout.Kind{sub}, status: 200,
			body:    "\uFEFF{\"message\": [\"ok\",],}",
			outcome: callout.OutcomeAccepted, messages: []string{"ok"},
			warnings: []string{"byte order mark", "trailing commas"}},

		// rejected
		{name: "success false", kinds: both, status: 200, body: `{"success": false, "errors": ["No Widgets", "User Blocked",]}`,
			outcome: callout.OutcomeRejected, errors: []string{"No Widgets", "User Blocked"}, warnings: []string{"trailing commas"}},
		{name: "success 0", kinds: both, status: 200, body: `{"success": 0}`, outcome: callout.OutcomeRejected},
		{name: `success "0"`, kinds: both, status: 200, body: `{"success": "0"}`, outcome: callout.OutcomeRejected},
		{name: `success "false"`, kinds: both, status: 200, body: `{"success": "false"}`, outcome: callout.OutcomeRejected},
		{name: `success "FALSE"`, kinds: both, status: 200, body: `{"success": "FALSE"}`, outcome: callout.OutcomeRejected},
		{name: `success ""`, kinds: both, status: 200, body: `{"success": ""}`, outcome: callout.OutcomeRejected},
		{name: "success null", kinds: both, status: 200, body: `{"success": null}`, outcome: callout.OutcomeRejected},
		{name: "success []", kinds: both, status: 200, body: `{"success": []}`, outcome: callout.OutcomeRejected},
		{name: "success {}", kinds: both, status: 200, body: `{"success": {}}`, outcome: callout.OutcomeRejected},
		{name: "422 with errors normalised", kinds: both, status: 422,
			body:    `{"errors": ["a", 1, true, {"x": 1}, [2], ""]}`,
			outcome: callout.OutcomeRejected, errors: []string{"a", "1", "true", `{"x":1}`, "[2]"}},
		{name: "422 with errors string", kinds: both, status: 422, body: `{"errors": "User Blocked"}`,
			outcome: callout.OutcomeRejected, errors: []string{"User Blocked"}},
		{name: "success ignored when not 200", kinds: both, status: 400, body: `{"success": true, "errors": ["bad"]}`,
			outcome: callout.OutcomeRejected, errors: []string{"bad"}},
		{name: "500 with errors", kinds: both, status: 500, body: `{"errors": ["down for maintenance"]}`,
			outcome: callout.OutcomeRejected, breakerFailure: true, errors: []string{"down for maintenance"}},

		// webhook_error
		{name: "500 plain text", kinds: both, status: 500, body: `Internal Server Error`,
			outcome: callout.OutcomeWebhookError, breakerFailure: true, detail: "HTTP 500"},
		{name: "404 empty object", kinds: both, status: 404, body: `{}`,
			outcome: callout.OutcomeWebhookError, detail: "HTTP 404"},
		{name: "429 empty", kinds: both, status: 429, body: ``,
			outcome: callout.OutcomeWebhookError, breakerFailure: true, detail: "HTTP 429"},
		{name: "302 not followed", kinds: both, status: 302, body: ``,
			header:  map[string]string{"Location": "https://user:pw@elsewhere.example/next"},
			outcome: callout.OutcomeWebhookError, detail: "redirect to https://elsewhere.example/next not followed"},

		// bad_response
		{name: "200 not json", kinds: both, status: 200, body: `not json`,
			outcome: callout.OutcomeBadResponse, breakerFailure: true, detail: "HTTP 200"},
		{name: "200 array", kinds: both, status: 200, body: `[]`,
			outcome: callout.OutcomeBadResponse, breakerFailure: true},
		{name: "pricing without cost", kinds: []callout.Kind{price}, status: 200, body: `{}`,
			outcome: callout.OutcomeBadResponse, breakerFailure: true, detail: "cost"},
		{name: "pricing with unusable cost", kinds: []callout.Kind{price}, status: 200, body: `{"cost": "a lot"}`,
			outcome: callout.OutcomeBadResponse, breakerFailure: true, detail: "cost"},
		{name: "answer over 1 MiB", kinds: both, status: 200,
			body:    `{"message": "` + strings.Repeat("x", 1<<20) + `"}`,
			outcome: callout.OutcomeBadResponse, breakerFailure: true, detail: "the answer is larger than 1 MiB"},

		// auth_failed
		{name: "401 whatever the body", kinds: both, status: 401, body: `{"success": true, "cost": 1}`,
			outcome: callout.OutcomeAuthFailed, breakerFailure: true, detail: "HTTP 401"},
		{name: "403 with errors", kinds: both, status: 403, body: `{"errors": ["nope"]}`,
			outcome: callout.OutcomeAuthFailed, breakerFailure: true, errors: []string{"nope"}, detail: "HTTP 403"},
	}
	for _, tt := range tests {
		for _, kind := range tt.kinds {
			t.Run(string(kind)+"/"+tt.name, func(t *testing.T) {
				srv := manufacturer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					for k, v := range tt.header {
						w.Header().Set(k, v)
					}
					w.WriteHeader(tt.status)
					io.WriteString(w, tt.body)
				}))
				c := newClient(t, webhook.Options{})
				res := call(t, c, newHook(kind, srv.URL))

				if res.Outcome != tt.outcome {
					t.Fatalf("Outcome = %s (detail %q), want %s", res.Outcome, res.Detail, tt.outcome)
				}
				if res.HTTPStatus != tt.status {
					t.Errorf("HTTPStatus = %d, want %d", res.HTTPStatus, tt.status)
				}
				if res.Attempts != 1 {
					t.Errorf("Attempts = %d, want 1", res.Attempts)
				}
				if got := res.Outcome.BreakerFailure(res.HTTPStatus); got != tt.breakerFailure {
					t.Errorf("breaker failure = %v, want %v", got, tt.breakerFailure)
				}
				a := res.Answer
				if diff := cmp.Diff(tt.errors, a.Errors, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("Answer.Errors (-want +got):\n%s", diff)
				}
				if tt.outcome == callout.OutcomeAccepted {
					if diff := cmp.Diff(tt.messages, a.Messages, cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("Answer.Messages (-want +got):\n%s", diff)
					}
				}
				if a.ExternalID != tt.externalID {
					t.Errorf("Answer.ExternalID = %q, want %q", a.ExternalID, tt.externalID)
				}
				wantCost := tt.cost
				if kind == callout.KindSubmission {
					wantCost = ""
				}
				if string(a.Cost) != wantCost {
					t.Errorf("Answer.Cost = %q, want %q", a.Cost, wantCost)
				}
				if tt.breakdown != nil {
					if diff := cmp.Diff(tt.breakdown, a.Breakdown); diff != "" {
						t.Errorf("Answer.Breakdown (-want +got):\n%s", diff)
					}
				}
				checkWarnings(t, res.Warnings, tt.warnings)
				if tt.outcome == callout.OutcomeAccepted && res.Detail != "" {
					t.Errorf("Detail = %q, want none for accepted", res.Detail)
				}
				if tt.outcome != callout.OutcomeAccepted && tt.outcome != callout.OutcomeRejected && res.Detail == "" {
					t.Errorf("Detail is empty for %s", res.Outcome)
				}
				if !strings.Contains(res.Detail, tt.detail) {
					t.Errorf("Detail = %q, want it to contain %q", res.Detail, tt.detail)
				}
				if strings.Contains(res.Detail, "user:pw") || strings.Contains(res.Detail, "pw@") {
					t.Errorf("Detail = %q carries the redirect's credentials", res.Detail)
				}

				var d callout.Delivery
				res.Fill(&d)
				wantMessages := a.Errors
				if tt.outcome == callout.OutcomeAccepted {
					wantMessages = a.Messages
				}
				wantBody := tt.body
				if len(wantBody) > callout.ResponseBodyLimit {
					wantBody = wantBody[:callout.ResponseBodyLimit]
				}
				want := callout.Delivery{
					StartedAt:    res.StartedAt,
					FinishedAt:   res.StartedAt.Add(res.Duration),
					DurationMS:   float64(res.Duration) / float64(time.Millisecond),
					Attempts:     1,
					HTTPStatus:   tt.status,
					Outcome:      tt.outcome,
					Warnings:     res.Warnings,
					ErrorDetail:  res.Detail,
					Messages:     wantMessages,
					ExternalID:   tt.externalID,
					Cost:         wantCost,
					ResponseBody: wantBody,
				}
				if diff := cmp.Diff(want, d, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("Fill (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// checkWarnings checks that got holds a warning containing each of want, in
// order.
func checkWarnings(t *testing.T, got, want []string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && strings.Contains(g, want[i]) {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("Warnings = %q, want ones containing %q in order", got, want)
	}
	if len(want) == 0 && len(got) != 0 {
		t.Errorf("Warnings = %q, want none", got)
	}
}

// TestCallTimeout checks that a webhook that does not answer, or trickles its
// answer, ends in webhook_timeout when the webhook's timeout passes.
func TestCallTimeout(t *testing.T) {
	const timeoutMS = 300
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
	}{
		{"never answers", func(w http.ResponseWriter, r *http.Request) {
			// The server notices the client going away only once the body
			// is read.
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		}, 0},
		{"trickles its body", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, `{"message": "`)
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-r.Context().Done():
					return
				case <-tick.C:
					io.WriteString(w, "x")
					w.(http.Flusher).Flush()
				}
			}
		}, http.StatusOK},
	}
	for _, tt := range tests {
		for _, kind := range []callout.Kind{callout.KindSubmission, callout.KindPricing} {
			t.Run(string(kind)+"/"+tt.name, func(t *testing.T) {
				srv := manufacturer(t, tt.handler)
				w := newHook(kind, srv.URL)
				w.TimeoutMS = timeoutMS
				w.Retries = 3 // a timeout is never retried: the time is spent
				res := call(t, newClient(t, webhook.Options{}), w)
				if res.Outcome != callout.OutcomeTimeout {
					t.Fatalf("Outcome = %s (%s), want webhook_timeout", res.Outcome, res.Detail)
				}
				if res.HTTPStatus != tt.wantStatus {
					t.Errorf("HTTPStatus = %d, want %d", res.HTTPStatus, tt.wantStatus)
				}
				if res.Attempts != 1 {
					t.Errorf("Attempts = %d, want 1", res.Attempts)
				}
				// The timeout bounds the callout: it ends at the deadline, not
				// before and not long after.
				if res.Duration < timeoutMS*time.Millisecond || res.Duration > timeoutMS*time.Millisecond+2*time.Second {
					t.Errorf("Duration = %s, want about %d ms", res.Duration, timeoutMS)
				}
				if !strings.Contains(res.Detail, "300 ms") {
					t.Errorf("Detail = %q, want it to name the timeout", res.Detail)
				}
				if !res.Outcome.BreakerFailure(res.HTTPStatus) {
					t.Error("a timeout is not counted as a breaker failure")
				}
			})
		}
	}
}

// TestCallUnreachable checks a webhook where nothing listens.
func TestCallUnreachable(t *testing.T) {
	addr := closedPort(t)
	for _, kind := range []callout.Kind{callout.KindSubmission, callout.KindPricing} {
		t.Run(string(kind), func(t *testing.T) {
			res := call(t, newClient(t, webhook.Options{}), newHook(kind, "http://"+addr+"/hook"))
			if res.Outcome != callout.OutcomeUnreachable {
				t.Fatalf("Outcome = %s (%s), want webhook_unreachable", res.Outcome, res.Detail)
			}
			if res.HTTPStatus != 0 {
				t.Errorf("HTTPStatus = %d, want 0", res.HTTPStatus)
			}
			if !strings.Contains(res.Detail, "connection refused") || !strings.Contains(res.Detail, addr) {
				t.Errorf("Detail = %q, want the refused address", res.Detail)
			}
			var d callout.Delivery
			res.Fill(&d)
			if d.Outcome != callout.OutcomeUnreachable || d.ErrorDetail != res.Detail || d.ResponseBody != "" {
				t.Errorf("Fill = %+v", d)
			}
		})
	}
}

// TestCallerCancelled checks that a callout whose caller goes away ends at
// once and says so.
func TestCallerCancelled(t *testing.T) {
	arrived := make(chan struct{})
	srv := manufacturer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		close(arrived)
		<-r.Context().Done()
	}))
	c := newClient(t, webhook.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	res := c.Call(ctx, &webhook.Request{Webhook: newHook(callout.KindSubmission, srv.URL), Body: payload(samplePayload)})
	if res.Outcome != callout.OutcomeUnreachable || !strings.Contains(res.Detail, "cancelled") {
		t.Errorf("Outcome = %s, Detail = %q, want webhook_unreachable saying the caller cancelled", res.Outcome, res.Detail)
	}
}

// TestFillResponseBody checks that the delivery keeps the start of the answer
// as valid UTF-8 of at most 4 KiB.
func TestFillResponseBody(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"short", `{"errors": ["x"]}`, `{"errors": ["x"]}`},
		{"cut on a rune boundary", strings.Repeat("a", 4095) + "é", strings.Repeat("a", 4095)},
		{"invalid UTF-8 replaced", "ab\xffcd", "ab\uFFFDcd"},
		{"NUL replaced", "a\x00b", "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := manufacturer(t, nil)
			srv.Answer(http.StatusBadRequest, tt.body)
			res := call(t, newClient(t, webhook.Options{}), newHook(callout.KindSubmission, srv.URL))
			var d callout.Delivery
			res.Fill(&d)
			if d.ResponseBody != tt.want {
				t.Errorf("ResponseBody = %q (%d bytes), want %q", abbreviate(d.ResponseBody), len(d.ResponseBody), abbreviate(tt.want))
			}
			if len(d.ResponseBody) > callout.ResponseBodyLimit {
				t.Errorf("ResponseBody has %d bytes, over %d", len(d.ResponseBody), callout.ResponseBodyLimit)
			}
			if _, err := json.Marshal(d); err != nil {
				t.Errorf("the delivery does not encode: %v", err)
			}
		})
	}
}

func abbreviate(s string) string {
	if len(s) > 40 {
		return s[:20] + "…" + s[len(s)-20:]
	}
	return s
}

// TestHugeHeaders checks that an answer whose headers exceed what the
// transport reads (64 KiB) is bad_response, an answer that came but cannot be
// used, not webhook_unreachable, and is not retried.
func TestHugeHeaders(t *testing.T) {
	for _, kind := range []callout.Kind{callout.KindSubmission, callout.KindPricing} {
		t.Run(string(kind), func(t *testing.T) {
			srv := manufacturer(t, nil)
			srv.Answers(fakemanufacturer.Answer{Header: http.Header{"X-Padding": {strings.Repeat("a", 65<<10)}}, Body: `{"cost": 1}`})
			w := newHook(kind, srv.URL)
			if kind == callout.KindPricing {
				w.Retries = 1
			}
			res := call(t, newClient(t, webhook.Options{}), w)
			if res.Outcome != callout.OutcomeBadResponse {
				t.Fatalf("Outcome = %s (%s), want bad_response", res.Outcome, res.Detail)
			}
			if want := "the answer's headers are larger than Callout accepts"; !strings.Contains(res.Detail, want) {
				t.Errorf("Detail = %q, want it to contain %q", res.Detail, want)
			}
			if strings.Contains(res.Detail, srv.URL) {
				t.Errorf("Detail = %q names the URL", res.Detail)
			}
			if res.Attempts != 1 || len(srv.Received()) != 1 {
				t.Errorf("Attempts = %d, requests = %d, want 1", res.Attempts, len(srv.Received()))
			}
			if !res.Outcome.BreakerFailure(res.HTTPStatus) {
				t.Error("bad_response is not counted as a breaker failure")
			}
		})
	}
}
