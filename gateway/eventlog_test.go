package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

// TestEventLogAndRecover drives the reading and replaying routes through
// every state a message shows, each exchange checked against the OpenAPI
// document: a failed message (410), one pending with its next attempt
// time, the log's filters and pages, attempts by outcome, and a recover
// that delivers the failed message.
func TestEventLogAndRecover(t *testing.T) {
	tn := eventTenant(t)
	var status atomic.Int32
	status.Store(http.StatusGone)
	got := make(chan struct{}, 100)
	rx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
		got <- struct{}{}
	}))
	t.Cleanup(rx.Close)
	expect(t, tn.admin.do("PUT", endpoints+"/erp", map[string]any{"url": rx.URL, "max_attempts": 2}), 200, "")
	log := "/v1/manufacturers/103/events"
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)

	expect(t, tn.platform.do("POST", log, `{"event": "moved_to_ready", "id": "gone-1", "data": {"n": 1}}`), 202, "")
	<-got
	message := func(id string) map[string]any {
		ev := expect(t, tn.admin.do("GET", log+"/"+id, nil), 200, "")
		eps := ev["endpoints"].([]any)
		if len(eps) != 1 {
			t.Fatalf("event %s went to %d endpoints, want 1", id, len(eps))
		}
		return eps[0].(map[string]any)
	}
	tn.eventually("a 410 failed the message at once", func() bool { return message("gone-1")["status"] == "failed" })
	if m := message("gone-1"); m["attempts"] != 1.0 || m["last_http_status"] != 410.0 || m["last_outcome"] != "gone" || m["next_attempt_at"] != nil {
		t.Errorf("after a 410: %v, want 1 attempt, 410, gone, no next attempt", m)
	}

	status.Store(http.StatusInternalServerError)
	expect(t, tn.platform.do("POST", log, `{"event": "job.held", "id": "held-1", "data": {}}`), 202, "")
	<-got
	tn.eventually("a 500 left the message pending", func() bool { return message("held-1")["attempts"] == 1.0 })
	if m := message("held-1"); m["status"] != "pending" || m["last_outcome"] != "http_error" || m["next_attempt_at"] == nil {
		t.Errorf("after a 500: %v, want pending, http_error, a next attempt", m)
	}

	list := func(query string) []any {
		return expect(t, tn.admin.do("GET", log+"?"+query, nil), 200, "")["events"].([]any)
	}
	if evs := list("event=job.held"); len(evs) != 1 || evs[0].(map[string]any)["id"] != "held-1" {
		t.Errorf("event=job.held: %v", evs)
	}
	if evs := list("since=" + url.QueryEscape(since)); len(evs) != 2 {
		t.Errorf("since a minute ago: %d events, want 2", len(evs))
	}
	if evs := list("until=" + url.QueryEscape(since)); len(evs) != 0 {
		t.Errorf("until a minute ago: %d events, want 0", len(evs))
	}
	first := expect(t, tn.admin.do("GET", log+"?limit=1", nil), 200, "")
	cursor, _ := first["next_cursor"].(string)
	if evs := list("limit=1&cursor=" + url.QueryEscape(cursor)); cursor == "" || len(evs) != 1 || evs[0].(map[string]any)["id"] != "gone-1" {
		t.Errorf("the second page of one: %v (cursor %q), want gone-1", evs, cursor)
	}
	expect(t, tn.admin.do("GET", log+"?since=yesterday", nil), 422, "validation_failed")
	expect(t, tn.admin.do("GET", log+"/nothing", nil), 404, "not_found")
	expect(t, tn.as("admin", "104").do("GET", log+"/gone-1", nil), 404, "not_found")

	atts := expect(t, tn.admin.do("GET", endpoints+"/erp/attempts?status=gone", nil), 200, "")["attempts"].([]any)
	if len(atts) != 1 || atts[0].(map[string]any)["event_id"] != "gone-1" {
		t.Errorf("attempts with status=gone: %v, want the one of gone-1", atts)
	}

	expect(t, tn.admin.do("POST", endpoints+"/erp/recover", `{}`), 422, "validation_failed")
	expect(t, tn.admin.do("POST", endpoints+"/nothing/recover", map[string]any{"since": since}), 404, "not_found")
	expect(t, tn.admin.do("POST", log+"/gone-1/redeliver", map[string]any{"endpoint_id": "nothing"}), 404, "not_found")
	status.Store(http.StatusOK)
	r := expect(t, tn.admin.do("POST", endpoints+"/erp/recover", map[string]any{"since": since}), 202, "")
	if r["messages"] != 1.0 {
		t.Errorf("recover queued %v messages, want 1 (the failed one)", r["messages"])
	}
	tn.eventually("the recovered message succeeded", func() bool { return message("gone-1")["status"] == "succeeded" })
}
