package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/callout/callout/auth"
)

// receiver is a manufacturer's event endpoint: it answers 200 and reports
// the event type of each request it gets.
type receiver struct {
	*httptest.Server
	got chan http.Header
}

func newReceiver(t *testing.T) *receiver {
	rx := &receiver{got: make(chan http.Header, 100)}
	rx.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"received": true}`))
		rx.got <- r.Header.Clone()
	}))
	t.Cleanup(rx.Close)
	return rx
}

// next waits for the receiver's next request and returns its headers.
func (rx *receiver) next(t *testing.T) http.Header {
	t.Helper()
	select {
	case h := <-rx.got:
		return h
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver got nothing within 10 s")
		return nil
	}
}

// until reloads the page at path until the JavaScript condition holds, for
// at most 10 s: event deliveries happen in the background.
func until(t *testing.T, ctx context.Context, url, page, cond string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		do(t, ctx, chromedp.Navigate(url), onPage(page))
		if eval[bool](t, ctx, cond) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s, %s still shows not %s", url, cond)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// text reads the text of the element sel.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return eval[string](t, ctx, `document.querySelector(`+jsString(sel)+`).textContent.trim()`)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// events drives the event pages in the signed-in tab me of manufacturer
// 103: an endpoint created (a field error first) pointed at a receiver,
// its test, an event published through the API seen in the log with its
// message's status, a redelivery, the attempts, recover and the catalogue.
func events(t *testing.T, c *site, me context.Context) {
	if err := c.srv.StartEvents(context.Background()); err != nil {
		t.Fatal(err)
	}
	rx := newReceiver(t)
	m := c.url + "/console/m/103"

	do(t, me, chromedp.Navigate(m+"/endpoints"), onPage("endpoints"))
	submit(t, me, `a[href$="/endpoints/new"]`, "#url")
	do(t, me,
		chromedp.SendKeys(chromedp.CSS("#url"), rx.URL),
		chromedp.SendKeys(chromedp.CSS("#description"), "ERP events"),
		chromedp.SendKeys(chromedp.CSS("#events"), "moved_to_ready, bad!name"),
		chromedp.SetValue(chromedp.CSS("#auth-type"), "bearer"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#auth-type").dispatchEvent(new Event("change"))`),
		chromedp.SendKeys(chromedp.CSS("#auth-bearer_token"), "typed-endpoint-s3cr3t"),
		chromedp.Click(chromedp.CSS(`[data-generate="signing_secret"]`)),
		chromedp.SetValue(chromedp.CSS("#timeout_ms"), "5"),
	)
	generated := eval[string](t, me, `document.querySelector("#signing_secret").value`)
	if !strings.HasPrefix(generated, "whsec_") {
		t.Fatalf("the generate button made %q, want a whsec_ secret", generated)
	}
	submit(t, me, `.editor button[type=submit]`, "#timeout_ms-error")
	for id, want := range map[string]string{"timeout_ms": "must be from 1000 to 60000", "events": "must be an event type name"} {
		if got := text(t, me, "#"+id+"-error"); !strings.Contains(got, want) {
			t.Errorf("#%s's error reads %q, want %q", id, got, want)
		}
		if !eval[bool](t, me, `document.querySelector("#`+id+`").parentElement.contains(document.querySelector("#`+id+`-error"))`) {
			t.Errorf("the error of %s is not beside its input", id)
		}
	}
	if got := eval[int](t, me, `JSON.parse(`+jsString(string(c.api("GET", "/v1/manufacturers/103/endpoints", auth.RoleAdmin, "103", "", http.StatusOK)))+`).endpoints.length`); got != 0 {
		t.Fatalf("a refused form created %d endpoints", got)
	}
	if html := eval[string](t, me, `document.documentElement.outerHTML`); strings.Contains(html, "typed-endpoint-s3cr3t") || strings.Contains(html, generated) {
		t.Fatal("the refused form shows a secret typed into it")
	}
	do(t, me,
		chromedp.SetValue(chromedp.CSS("#timeout_ms"), "5000"),
		chromedp.SetValue(chromedp.CSS("#events"), "moved_to_ready"),
		chromedp.SetValue(chromedp.CSS("#auth-type"), "bearer"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#auth-type").dispatchEvent(new Event("change"))`),
		chromedp.SendKeys(chromedp.CSS("#auth-bearer_token"), "typed-endpoint-s3cr3t"),
		chromedp.SetValue(chromedp.CSS("#signing_secret"), generated),
	)
	submit(t, me, `.editor button[type=submit]`, ".notice")
	var list struct {
		Endpoints []struct {
			ID               string   `json:"id"`
			URL              string   `json:"url"`
			Events           []string `json:"events"`
			SigningSecretSet bool     `json:"signing_secret_set"`
			TimeoutMS        int      `json:"timeout_ms"`
			Auth             struct {
				BearerTokenSet bool `json:"bearer_token_set"`
			} `json:"auth"`
		} `json:"endpoints"`
	}
	if err := json.Unmarshal(c.api("GET", "/v1/manufacturers/103/endpoints", auth.RoleAdmin, "103", "", http.StatusOK), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Endpoints) != 1 {
		t.Fatalf("%d endpoints after saving, want 1", len(list.Endpoints))
	}
	ep := list.Endpoints[0]
	if ep.URL != rx.URL || strings.Join(ep.Events, ",") != "moved_to_ready" || !ep.SigningSecretSet || !ep.Auth.BearerTokenSet || ep.TimeoutMS != 5000 {
		t.Fatalf("the endpoint saved: %+v", ep)
	}
	if got := text(t, me, "#signing_secret-state"); !strings.Contains(got, "set") {
		t.Errorf("the signing secret's state reads %q, want set", got)
	}
	screenshot(t, me, "endpoint")

	// Send test: one callout.ping, its attempt shown.
	submit(t, me, "#send-test", "#outcome")
	if h := rx.next(t); h.Get("X-Callout-Event") != "callout.ping" || h.Get("Authorization") != "Bearer typed-endpoint-s3cr3t" || h.Get("Webhook-Signature") == "" {
		t.Errorf("the test sent %v, want callout.ping with the bearer token and a signature", h)
	}
	if got, status := text(t, me, "#outcome"), text(t, me, "#http-status"); got != "succeeded" || status != "200" {
		t.Errorf("the test shows %s, HTTP %s; want succeeded, 200", got, status)
	}
	if got := text(t, me, ".response-body"); !strings.Contains(got, `"received": true`) {
		t.Errorf("the test shows the answer %q", got)
	}
	screenshot(t, me, "endpoint-test")

	// An event published through the API, in the log with its message's
	// status.
	c.api("POST", "/v1/manufacturers/103/events", auth.RolePlatform, "", `{"event": "moved_to_ready", "id": "order-123456", "data": {"orderId": 123456}}`, http.StatusAccepted)
	if h := rx.next(t); h.Get("Webhook-Id") != "order-123456" || h.Get("X-Callout-Attempt") != "1" {
		t.Errorf("the delivery sent %v, want webhook-id order-123456, attempt 1", h)
	}
	until(t, me, m+"/events", "events", `document.querySelector("td.messages .badge")?.textContent === "succeeded"`)
	if got := text(t, me, "tbody tr td:nth-child(3)"); got != "order-123456" {
		t.Errorf("the log's first event is %q, want order-123456", got)
	}
	screenshot(t, me, "events")

	submit(t, me, `tbody tr:first-child td:first-child a`, "#messages")
	if got, n := text(t, me, "#messages .status"), text(t, me, "#messages .attempts"); got != "succeeded" || n != "1" {
		t.Errorf("the event's message: %s after %s attempts, want succeeded after 1", got, n)
	}
	submit(t, me, "#redeliver", ".notice")
	if got := text(t, me, ".notice"); !strings.Contains(got, "1 message") {
		t.Errorf("after redelivering: %q, want 1 message queued", got)
	}
	if h := rx.next(t); h.Get("Webhook-Id") != "order-123456" {
		t.Errorf("the redelivery sent webhook-id %q, want order-123456", h.Get("Webhook-Id"))
	}
	// A redelivery starts a fresh schedule: its message counts attempts
	// from 1 again, and the endpoint's attempts show both.
	until(t, me, m+"/endpoints/"+ep.ID+"/attempts", "attempts", `document.querySelectorAll("li.attempt").length === 2`)
	until(t, me, m+"/events/order-123456", "event", `document.querySelector("#messages .status").textContent === "succeeded"`)
	screenshot(t, me, "event")

	do(t, me, chromedp.Navigate(m+"/endpoints/"+ep.ID+"/attempts"), onPage("attempts"))
	if n := eval[int](t, me, `document.querySelectorAll("li.attempt").length`); n != 2 {
		t.Errorf("%d attempts listed, want 2: the test is not recorded", n)
	}
	html := eval[string](t, me, `document.documentElement.outerHTML`)
	if strings.Contains(html, "typed-endpoint-s3cr3t") || strings.Contains(html, generated) || !strings.Contains(html, "[redacted]") {
		t.Error("the attempts page shows a secret, or does not show the redacted headers")
	}
	do(t, me, chromedp.Click(chromedp.CSS("li.attempt summary")))
	screenshot(t, me, "attempts")

	// Recover: a missing window start is refused beside its field.
	do(t, me, chromedp.Navigate(m+"/endpoints/"+ep.ID), onPage("endpoint"), chromedp.SetValue(chromedp.CSS("#since"), ""))
	submit(t, me, `.recover-form button[type=submit]`, "#since-error")
	if got := text(t, me, "#since-error"); got != "is required" {
		t.Errorf("recover without a start: %q, want is required", got)
	}
	do(t, me, chromedp.SetValue(chromedp.CSS("#since"), time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")))
	submit(t, me, `.recover-form button[type=submit]`, ".notice")
	if got := text(t, me, ".notice"); !strings.Contains(got, "queued again: 0") {
		t.Errorf("recovering with no failed message: %q, want 0 queued", got)
	}

	do(t, me, chromedp.Navigate(m+"/event-types"), onPage("eventtypes"))
	if got := eval[[]string](t, me, `[...document.querySelectorAll(".event-type h2")].map(h => h.textContent)`); strings.Join(got, ",") != "job.submitted,callout.ping" {
		t.Errorf("the catalogue lists %v, want job.submitted, callout.ping", got)
	}
	screenshot(t, me, "event-types")
}
