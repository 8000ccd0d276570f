package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/callout/callout/config"
)

// inbox is a real receiver of event deliveries that echoes each request.
type inbox struct {
	*httptest.Server
	mu   sync.Mutex
	got  []*http.Request
	body [][]byte
	ch   chan struct{}
}

func newInbox(t *testing.T) *inbox {
	in := &inbox{ch: make(chan struct{}, 1000)}
	in.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		in.mu.Lock()
		in.got, in.body = append(in.got, r), append(in.body, b)
		in.mu.Unlock()
		var echo bytes.Buffer
		r.Header.Write(&echo)
		echo.Write(b)
		w.Write(echo.Bytes())
		in.ch <- struct{}{}
	}))
	t.Cleanup(in.Close)
	return in
}

func (in *inbox) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		<-in.ch
	}
}

func (in *inbox) bodies() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for _, b := range in.body {
		out = append(out, string(b))
	}
	return out
}

// eventTenant is a tenant whose Callout delivers events.
func eventTenant(t *testing.T, configure ...func(*config.Config)) *tenant {
	tn := newTenant(t, configure...)
	if err := tn.srv.StartEvents(context.Background()); err != nil {
		t.Fatal(err)
	}
	return tn
}

const endpoints = "/v1/manufacturers/103/endpoints"

func TestEndpointsAPI(t *testing.T) {
	tn := newTenant(t)
	cfg := map[string]any{
		"url": "https://erp.example.com/hooks", "events": []string{"job.*"},
		"auth":           map[string]any{"type": "bearer", "bearer_token": "tok-s3cr3t-value"},
		"signing_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	}
	created := expect(t, tn.admin.do("POST", endpoints, cfg), 201, "")
	id, _ := created["id"].(string)
	r := tn.admin.do("GET", endpoints+"/"+id, nil)
	got := expect(t, r, 200, "")
	if strings.Contains(string(r.body), "tok-s3cr3t") || strings.Contains(string(r.body), "MfKQ9r8G") ||
		got["signing_secret_set"] != true || got["format"] != "envelope" || got["max_attempts"] != 8.0 || got["timeout_ms"] != 15000.0 {
		t.Errorf("endpoint read back: %s", r.body)
	}
	// PATCH keeps omitted secrets; platform may configure too.
	expect(t, tn.platform.do("PATCH", endpoints+"/"+id, map[string]any{"format": "flat"}), 200, "")
	got = expect(t, tn.admin.do("GET", endpoints+"/"+id, nil), 200, "")
	if got["format"] != "flat" || got["signing_secret_set"] != true {
		t.Errorf("after PATCH: %v", got)
	}
	// 422 per field, nothing changed.
	bad := expect(t, tn.admin.do("PUT", endpoints+"/"+id, map[string]any{"url": "ftp://x", "timeout_ms": 5, "events": []string{"a b"}}), 422, "validation_failed")
	var fields []string
	for _, f := range bad["fields"].([]any) {
		fields = append(fields, f.(map[string]any)["field"].(string))
	}
	if strings.Join(fields, ",") != "url,events[0],timeout_ms" {
		t.Errorf("422 fields = %v, want url, events[0], timeout_ms", fields)
	}
	if got := expect(t, tn.admin.do("GET", endpoints+"/"+id, nil), 200, ""); got["format"] != "flat" {
		t.Errorf("a refused PUT changed the endpoint: %v", got)
	}
	expect(t, tn.admin.do("POST", endpoints, map[string]any{"url": "https://x.example.com", "colour": "red"}), 422, "validation_failed")
	expect(t, tn.app.do("GET", endpoints, nil), 403, "forbidden")
	other := tn.as("admin", "104")
	expect(t, other.do("GET", endpoints+"/"+id, nil), 404, "not_found")

	// Replace-all: the array becomes the endpoints.
	list := expect(t, tn.admin.do("PUT", endpoints, []map[string]any{
		{"id": "erp", "url": "https://erp.example.com/a", "events": []string{"moved_to_ready"}, "format": "data"},
		{"url": "https://erp.example.com/b"},
	}), 200, "")
	if n := len(list["endpoints"].([]any)); n != 2 {
		t.Fatalf("replace-all returned %d endpoints", n)
	}
	expect(t, tn.admin.do("GET", endpoints+"/"+id, nil), 404, "not_found")
	bad = expect(t, tn.admin.do("PUT", endpoints, []map[string]any{{"url": "https://ok.example.com"}, {"url": ""}}), 422, "validation_failed")
	if !strings.Contains(mustJSON(t, bad), `"[1].url"`) {
		t.Errorf("replace-all 422 does not name the element: %v", bad)
	}
	got = expect(t, tn.admin.do("GET", endpoints, nil), 200, "")
	if n := len(got["endpoints"].([]any)); n != 2 {
		t.Errorf("a refused replace-all changed the endpoints: %d", n)
	}
	expect(t, tn.admin.do("DELETE", endpoints+"/erp", nil), 204, "")
	expect(t, tn.admin.do("DELETE", endpoints+"/erp", nil), 404, "not_found")
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPublishAPI(t *testing.T) {
	tn := eventTenant(t, func(c *config.Config) { c.Events.MaxDataBytes = 1000 })
	in := newInbox(t)
	expect(t, tn.admin.do("PUT", endpoints+"/erp", map[string]any{"url": in.URL, "format": "data"}), 200, "")
	publish := "/v1/manufacturers/103/events"

	data := "{\"z\": 1.0e2, \"a\": 0.10}"
	body := `{"event": "moved_to_ready", "id": "order-1", "data": ` + data + `}`
	first := tn.platform.do("POST", publish, body)
	got := expect(t, first, 202, "")
	if got["id"] != "order-1" || got["event"] != "moved_to_ready" || got["messages"] != 1.0 {
		t.Fatalf("publish: %s", first.body)
	}
	in.wait(t, 1)
	if b := in.bodies(); len(b) != 1 || b[0] != data {
		t.Errorf("received %q, want data byte for byte %q", b, data)
	}
	again := tn.app.do("POST", publish, body)
	if again.status != 202 || !bytes.Equal(again.body, first.body) {
		t.Errorf("a repeated id answered %d %s, want the first answer %s", again.status, again.body, first.body)
	}
	k1 := tn.app.do("POST", publish, `{"event": "x", "data": {}}`, "Idempotency-Key", "k-1")
	k2 := tn.app.do("POST", publish, `{"event": "x", "data": {}}`, "Idempotency-Key", "k-1")
	if k1.status != 202 || !bytes.Equal(k1.body, k2.body) {
		t.Errorf("a repeated Idempotency-Key answered %s, then %s", k1.body, k2.body)
	}
	for _, tt := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"event": "a", "data": [1]}`, 422, "validation_failed"},
		{`{"event": "a b", "data": {}}`, 422, "validation_failed"},
		{`{"event": "a", "data": {"big": "` + strings.Repeat("x", 1000) + `"}}`, 413, "payload_too_large"},
		{`{"event": "a", "data": {}, "extra": 1}`, 422, "validation_failed"},
	} {
		expect(t, tn.app.do("POST", publish, tt.body), tt.status, tt.code)
	}
	log := expect(t, tn.admin.do("GET", publish, nil), 200, "")
	if n := len(log["events"].([]any)); n != 2 {
		t.Errorf("the log holds %d events, want 2 (repeats and bad input add none)", n)
	}
	expect(t, tn.admin.do("POST", publish, body), 403, "forbidden")

	// The event with its message, the endpoint's attempts (secrets
	// redacted), and a redelivery.
	tn.eventually("the message succeeded", func() bool {
		ev := expect(t, tn.admin.do("GET", publish+"/order-1", nil), 200, "")
		eps := ev["endpoints"].([]any)
		return len(eps) == 1 && eps[0].(map[string]any)["status"] == "succeeded"
	})
	atts := expect(t, tn.admin.do("GET", endpoints+"/erp/attempts", nil), 200, "")
	if n := len(atts["attempts"].([]any)); n < 1 {
		t.Errorf("attempts: %v", atts)
	}
	expect(t, tn.admin.do("POST", publish+"/order-1/redeliver", `{}`), 202, "")
	in.wait(t, 1)

	types := tn.app.do("GET", "/v1/event-types", nil)
	if !strings.Contains(string(types.body), `"job.submitted"`) || !strings.Contains(string(types.body), `"callout.ping"`) {
		t.Errorf("catalogue: %s", types.body)
	}
	expect(t, tn.platform.do("PUT", "/v1/event-types/moved_to_ready", `{"description": "An order moved to ready.", "example": {"b": 1, "a": 2}}`), 200, "")
	if types := tn.app.do("GET", "/v1/event-types", nil); !strings.Contains(string(types.body), `{"b":1,"a":2}`) {
		t.Errorf("declared type missing: %s", types.body)
	}
	expect(t, tn.admin.do("PUT", "/v1/event-types/x", `{}`), 403, "forbidden")
	expect(t, tn.platform.do("PUT", "/v1/event-types/job.submitted", `{}`), 422, "validation_failed")
}

// TestEndpointTestAndSecrets: the test route pings synchronously; no
// secret reaches a response or the logs, though the receiver echoes the
// request.
func TestEndpointTestAndSecrets(t *testing.T) {
	tn := eventTenant(t)
	in := newInbox(t)
	expect(t, tn.admin.do("PUT", endpoints+"/erp", map[string]any{"url": in.URL,
		"auth": map[string]any{"type": "bearer", "bearer_token": "tok-s3cr3t-value"}, "signing_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}), 200, "")
	r := tn.admin.do("POST", endpoints+"/erp/test", nil)
	got := expect(t, r, 200, "")
	if got["outcome"] != "succeeded" || got["http_status"] != 200.0 {
		t.Errorf("test: %s", r.body)
	}
	if in.got[0].Header.Get("X-Callout-Event") != "callout.ping" {
		t.Errorf("the test sent %v", in.got[0].Header)
	}
	tn.platform.do("POST", "/v1/manufacturers/103/events", `{"event": "a", "data": {}}`)
	in.wait(t, 2)
	var all []byte
	for _, p := range []string{endpoints + "/erp/test", endpoints + "/erp/attempts", endpoints + "/erp", endpoints} {
		all = append(all, tn.admin.do("GET", p, nil).body...)
	}
	tn.eventually("the attempt recorded", func() bool {
		return strings.Contains(string(tn.admin.do("GET", endpoints+"/erp/attempts", nil).body), `"succeeded"`)
	})
	all = append(all, tn.admin.do("GET", endpoints+"/erp/attempts", nil).body...)
	all = append(all, r.body...)
	all = append(all, tn.logs.String()...)
	for _, secret := range []string{"tok-s3cr3t-value", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"} {
		if bytes.Contains(all, []byte(secret)) {
			t.Errorf("a secret reached a response or a log line: %s", secret)
		}
	}
}

// TestJobSubmittedEvent: an accepted submission publishes job.submitted.
func TestJobSubmittedEvent(t *testing.T) {
	tn := eventTenant(t)
	in := newInbox(t)
	expect(t, tn.admin.do("PUT", endpoints+"/erp", map[string]any{"url": in.URL, "events": []string{"job.submitted"}}), 200, "")
	tn.hook("submission", nil)
	tn.storeSeed()
	tn.mfr.Answer(200, `{"success": "yes", "id": 123456, "message": ["Order #123456"]}`)
	expect(t, tn.app.do("POST", "/v1/manufacturers/103/jobs/338167/submit", nil), 200, "")
	in.wait(t, 1)
	var env map[string]any
	if err := json.Unmarshal([]byte(in.bodies()[0]), &env); err != nil {
		t.Fatal(err)
	}
	data, _ := env["data"].(map[string]any)
	if env["event"] != "job.submitted" || data["job_id"] != "338167" || data["external_id"] != "123456" {
		t.Errorf("job.submitted = %v", env)
	}
}
