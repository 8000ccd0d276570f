package events

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callout/callout"
	"github.com/callout/callout/internal/clocktest"
	"github.com/callout/callout/internal/storetest"
	"github.com/callout/callout/queue"
	"github.com/callout/callout/store"
	"github.com/callout/callout/webhook"
)

var _ Store = (*store.Store)(nil)
var _ Caller = (*webhook.Client)(nil)

const (
	signingSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	bearerToken   = "bearer-token-s3cret-value"
)

// keys is an Enqueuer that hands the test the keys of new messages, which
// the test then delivers itself, run by run, moving its clock between runs.
type keys chan callout.MessageKey

func (k keys) EnqueueTx(_ context.Context, _ *sql.Tx, ks []callout.MessageKey) error {
	for _, key := range ks {
		k <- key
	}
	return nil
}

type env struct {
	t     *testing.T
	ctx   context.Context
	store *storetest.Opened
	clock *clocktest.Clock
	svc   *Service
	keys  keys
}

func newEnv(t *testing.T, dialect string, o Options) *env {
	t.Helper()
	clock := clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s := storetest.Open(t, dialect, store.Options{Now: clock.Now})
	e := &env{t: t, ctx: context.Background(), store: s, clock: clock, keys: make(keys, 1000)}
	s.SetEnqueuer(e.keys)
	o.Store = s.Store
	if o.Caller == nil {
		o.Caller = webhook.New(webhook.Options{
			Policy:    webhook.Policy{AllowPrivateNetworks: true, AllowInsecureHTTP: true},
			UserAgent: "callout/test", Now: clock.Now,
		})
	}
	o.Now = clock.Now
	if o.Jitter == nil {
		o.Jitter = func() float64 { return 0 }
	}
	e.svc = New(o)
	if _, _, err := s.PutManufacturer(e.ctx, "103", "M"); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) endpoint(id, url string, change func(ep *callout.Endpoint)) *callout.Endpoint {
	e.t.Helper()
	ep := &callout.Endpoint{ManufacturerID: "103", ID: id, URL: url, Enabled: true, TimeoutMS: 1000}
	ep.SetDefaults()
	if change != nil {
		change(ep)
	}
	if err := ep.Validate(callout.URLPolicy{AllowInsecureHTTP: true, AllowPrivateNetworks: true}); err != nil {
		e.t.Fatalf("endpoint %s: %v", id, err)
	}
	if err := e.store.PutEndpoint(e.ctx, ep); err != nil {
		e.t.Fatal(err)
	}
	return ep
}

func (e *env) publish(typ, data string) *callout.PublishResult {
	e.t.Helper()
	res, err := e.svc.Publish(e.ctx, Publication{ManufacturerID: "103", Event: typ, Data: json.RawMessage(data)})
	if err != nil {
		e.t.Fatalf("Publish: %v", err)
	}
	return res
}

func (e *env) key() callout.MessageKey {
	e.t.Helper()
	select {
	case k := <-e.keys:
		return k
	default:
		e.t.Fatal("no message was enqueued")
	}
	return callout.MessageKey{}
}

func (e *env) deliver(k callout.MessageKey) (bool, time.Duration) {
	e.t.Helper()
	done, after, err := e.svc.Deliver(e.ctx, k, 0)
	if err != nil {
		e.t.Fatalf("Deliver: %v", err)
	}
	return done, after
}

func (e *env) message(k callout.MessageKey) *callout.EventMessage {
	e.t.Helper()
	_, msgs, err := e.store.GetEvent(e.ctx, k.ManufacturerID, k.EventID)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range msgs {
		if m.EndpointID == k.EndpointID {
			return m
		}
	}
	e.t.Fatalf("no message for %s", k.EndpointID)
	return nil
}

// received is one request a receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is a real HTTP server that records what it gets and answers
// with answer (200 when nil), echoing the request back.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(w http.ResponseWriter, r *http.Request) bool
}

func newReceiver(t *testing.T, answer func(w http.ResponseWriter, r *http.Request) bool) *receiver {
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{r.Header.Clone(), body})
		rc.mu.Unlock()
		if rc.answer != nil && rc.answer(w, r) {
			return
		}
		// Echo everything back, secrets included.
		var b bytes.Buffer
		r.Header.Write(&b)
		b.Write(body)
		w.Write(b.Bytes())
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// verify checks a Standard Webhooks signature independently of Callout's
// signer: HMAC-SHA256 over "id.timestamp.body", base64, "v1," prefix.
func verify(t *testing.T, secret string, h http.Header, body []byte) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", h.Get("webhook-id"), h.Get("webhook-timestamp"), body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if got := h.Get("webhook-signature"); got != want {
		t.Errorf("webhook-signature = %q, want %q", got, want)
	}
}

func forEachStore(t *testing.T, fn func(t *testing.T, dialect string)) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

// TestFormatsSignedByteForByte: each format's exact body reaches a real
// receiver, signed verifiably, with data byte for byte, the event id as
// webhook-id on every endpoint, and no secret in the attempt records even
// though the receiver echoes the request.
func TestFormatsSignedByteForByte(t *testing.T) {
	forEachStore(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, Options{})
		rc := newReceiver(t, nil)
		for _, f := range []callout.EndpointFormat{callout.FormatEnvelope, callout.FormatFlat, callout.FormatData} {
			e.endpoint(string(f), rc.URL+"/"+string(f), func(ep *callout.Endpoint) {
				ep.Format, ep.SigningSecret = f, signingSecret
				ep.Auth = callout.Auth{Type: callout.AuthBearer, BearerToken: bearerToken}
			})
		}
		data := "{\"z\":1.0e2, \"a\":0.10,\n\"s\":\"\\u00e9\u00e9\"}"
		res := e.publish("moved_to_ready", data)
		if res.Messages != 3 {
			t.Fatalf("messages = %d, want 3", res.Messages)
		}
		for range 3 {
			if done, _ := e.deliver(e.key()); !done {
				t.Fatal("a 200 did not finish the message")
			}
		}
		ts := callout.FormatEventTime(res.Event.Timestamp)
		want := map[string]string{
			"/envelope": `{"id":"` + res.Event.ID + `","event":"moved_to_ready","timestamp":"` + ts + `","webhook_id":"envelope","data":` + data + `}`,
			"/flat":     "{\"z\":1.0e2, \"a\":0.10,\n\"s\":\"\\u00e9\u00e9\"" + `,"event":"moved_to_ready","webhook_id":"flat","created_timestamp":` + fmt.Sprint(res.Event.Timestamp.Unix()) + `}`,
			"/data":     data,
		}
		got := rc.requests()
		if len(got) != 3 {
			t.Fatalf("receiver got %d requests, want 3", len(got))
		}
		seen := map[string]bool{}
		for _, r := range got {
			var path string
			for p, body := range want {
				if string(r.body) == body {
					path = p
				}
			}
			if path == "" {
				t.Errorf("unexpected body %s", r.body)
				continue
			}
			seen[path] = true
			verify(t, signingSecret, r.header, r.body)
			h := r.header
			if h.Get("webhook-id") != res.Event.ID || h.Get("X-Callout-Event") != "moved_to_ready" || h.Get("X-Callout-Attempt") != "1" ||
				h.Get("Authorization") != "Bearer "+bearerToken || h.Get("User-Agent") != "callout/test" || h.Get("Content-Type") != "application/json" {
				t.Errorf("headers of %s = %v", path, h)
			}
		}
		if len(seen) != 3 {
			t.Errorf("formats received: %v", seen)
		}
		for _, f := range []string{"envelope", "flat", "data"} {
			atts, _, err := e.store.ListAttempts(e.ctx, callout.AttemptFilter{ManufacturerID: "103", EndpointID: f})
			if err != nil || len(atts) != 1 {
				t.Fatalf("attempts of %s = %v, %v", f, atts, err)
			}
			a := atts[0]
			if a.Outcome != callout.AttemptSucceeded || a.HTTPStatus != 200 || a.RequestHeaders["Authorization"] != callout.Redacted ||
				a.RequestHeaders["Webhook-Signature"] != callout.Redacted || a.RequestHeaders["Webhook-Id"] != res.Event.ID {
				t.Errorf("attempt of %s = %+v", f, a)
			}
			record, _ := json.Marshal(a)
			for _, secret := range []string{bearerToken, strings.TrimPrefix(signingSecret, "whsec_"), verifiedSignature(got, f)} {
				if secret != "" && bytes.Contains(record, []byte(secret)) {
					t.Errorf("attempt of %s holds a secret %q: %s", f, secret, record)
				}
			}
			if !bytes.Contains(a.ResponseBody, []byte("Bearer "+callout.Redacted)) {
				t.Errorf("the echoed request was not kept, redacted: %s", a.ResponseBody)
			}
		}
	})
}

func verifiedSignature(got []received, webhookID string) string {
	for _, r := range got {
		if bytes.Contains(r.body, []byte(`"webhook_id":"`+webhookID+`"`)) {
			return strings.TrimPrefix(r.header.Get("webhook-signature"), "v1,")
		}
	}
	return ""
}

// TestRetrySchedule: every kind of failure is retried on the schedule, on
// the injected clock; 410 ends at once; Retry-After is honoured; the last
// attempt leaves the message failed.
func TestRetrySchedule(t *testing.T) {
	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String()
		ln.Close()
		return url
	}()
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	status := func(code int, header ...string) func(w http.ResponseWriter, r *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			w.WriteHeader(code)
			return true
		}
	}
	tests := []struct {
		name    string
		answer  func(w http.ResponseWriter, r *http.Request) bool
		url     string
		outcome string
		first   time.Duration // the wait after the first attempt; 0: none
	}{
		{"5xx", status(500), "", callout.AttemptHTTPError, 5 * time.Second},
		{"timeout", func(w http.ResponseWriter, r *http.Request) bool {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
			return true
		}, "", string(callout.OutcomeTimeout), 5 * time.Second},
		{"refused", nil, refused, string(callout.OutcomeUnreachable), 5 * time.Second},
		{"3xx", status(302, "Location", "https://elsewhere.example.com"), "", callout.AttemptHTTPError, 5 * time.Second},
		{"4xx", status(400), "", callout.AttemptHTTPError, 5 * time.Second},
		{"410", status(410), "", callout.AttemptGone, 0},
		{"429 Retry-After", status(429, "Retry-After", "90"), "", callout.AttemptHTTPError, 90 * time.Second},
		{"503 Retry-After too long", status(503, "Retry-After", "86400"), "", callout.AttemptHTTPError, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, storetest.Dialects()[0], Options{})
			url := tt.url
			if url == "" {
				url = newReceiver(t, tt.answer).URL
			}
			e.endpoint("ep", url, nil)
			e.publish("a", "{}")
			k := e.key()
			done, after := e.deliver(k)
			m := e.message(k)
			if m.Attempts != 1 || m.LastOutcome != tt.outcome {
				t.Errorf("after the first attempt: %d attempts, outcome %q; want 1, %q", m.Attempts, m.LastOutcome, tt.outcome)
			}
			if tt.first == 0 {
				if !done || m.Status != callout.MessageFailed {
					t.Errorf("410: done %v, status %s; want done, failed", done, m.Status)
				}
				return
			}
			if done || after != tt.first || m.Status != callout.MessagePending || m.NextAttemptAt == nil ||
				!m.NextAttemptAt.Equal(e.clock.Now().Add(tt.first)) {
				t.Errorf("after the first attempt: done %v, wait %s, %+v; want a wait of %s", done, after, m, tt.first)
			}
		})
	}
}

// TestMaxAttempts walks a failing message through the whole schedule of
// max_attempts 3 (seed 000) and of the default 8.
func TestMaxAttempts(t *testing.T) {
	e := newEnv(t, storetest.Dialects()[0], Options{DisableAfter: 365 * 24 * time.Hour})
	// A 404 is retried like a 5xx, without opening the breaker, whose
	// open period runs on the real clock.
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) bool { w.WriteHeader(404); return true })
	e.endpoint("three", rc.URL, func(ep *callout.Endpoint) { ep.MaxAttempts = 3 })
	e.endpoint("eight", rc.URL+"/8", nil)
	e.publish("a", "{}")
	want := map[string][]time.Duration{
		"three": {5 * time.Second, 5 * time.Minute},
		"eight": {5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour},
	}
	for range 2 {
		k := e.key()
		tt := struct{ want []time.Duration }{want[k.EndpointID]}
		var waits []time.Duration
		for len(waits) < 10 {
			done, after := e.deliver(k)
			if done {
				break
			}
			waits = append(waits, after)
			e.clock.Add(after)
		}
		if fmt.Sprint(waits) != fmt.Sprint(tt.want) {
			t.Errorf("%s: waits %v, want %v", k.EndpointID, waits, tt.want)
		}
		m := e.message(k)
		if m.Status != callout.MessageFailed || m.Attempts != len(tt.want)+1 {
			t.Errorf("%s: %s after %d attempts, want failed after %d", k.EndpointID, m.Status, m.Attempts, len(tt.want)+1)
		}
	}
}

// TestBreakerAndRateLimitUseNoAttempts: while the breaker is open, or the
// rate limit is reached, a message waits without an attempt being made or
// counted.
func TestBreakerAndRateLimitUseNoAttempts(t *testing.T) {
	e := newEnv(t, storetest.Dialects()[0], Options{})
	failing := newReceiver(t, func(w http.ResponseWriter, r *http.Request) bool { w.WriteHeader(503); return true })
	e.endpoint("down", failing.URL, func(ep *callout.Endpoint) { ep.Events = []string{"a"} })
	for range 6 {
		e.publish("a", "{}")
	}
	// Five failures open the breaker (one attempt each of five messages).
	for range 5 {
		if done, _ := e.deliver(e.key()); done {
			t.Fatal("a 503 finished a message")
		}
	}
	k := e.key()
	done, after := e.deliver(k)
	if done || after < time.Second {
		t.Errorf("with the breaker open: done %v, wait %s; want a wait", done, after)
	}
	if m := e.message(k); m.Attempts != 0 || m.Status != callout.MessagePending {
		t.Errorf("with the breaker open the message used %d attempts (%s), want 0", m.Attempts, m.Status)
	}
	if n := len(failing.requests()); n != 5 {
		t.Errorf("the open breaker let %d requests through, want 5", n)
	}

	ok := newReceiver(t, nil)
	e.endpoint("slow", ok.URL, func(ep *callout.Endpoint) { ep.RateLimitPerSecond = 2; ep.Events = []string{"b"} })
	for range 3 {
		e.publish("b", "{}")
	}
	var waited callout.MessageKey
	for range 3 {
		k := e.key()
		if done, after := e.deliver(k); !done {
			waited = k
			if after <= 0 || after > time.Second {
				t.Errorf("rate-limited wait = %s", after)
			}
		}
	}
	if m := e.message(waited); m.Attempts != 0 || len(ok.requests()) != 2 {
		t.Errorf("rate limit 2/s: %d requests, the third message used %d attempts; want 2 and 0", len(ok.requests()), m.Attempts)
	}
	e.clock.Add(time.Second)
	if done, _ := e.deliver(waited); !done {
		t.Error("the rate-limited message was not delivered a second later")
	}
}

// TestAutoDisable: an endpoint whose every attempt failed for the period is
// disabled, with its reason, and its pending messages fail.
func TestAutoDisable(t *testing.T) {
	forEachStore(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, Options{DisableAfter: 2 * time.Hour})
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) bool { w.WriteHeader(404); return true })
		e.endpoint("ep", rc.URL, nil)
		e.publish("a", "{}")
		e.publish("a", "{}")
		first, second := e.key(), e.key()
		for {
			done, after := e.deliver(first)
			if done {
				break
			}
			e.clock.Add(after)
		}
		ep, _ := e.store.GetEndpoint(e.ctx, "103", "ep")
		if ep.Enabled || !strings.Contains(ep.DisabledReason, "every attempt failed") {
			t.Errorf("endpoint after failing 2 h: enabled %v, reason %q", ep.Enabled, ep.DisabledReason)
		}
		if m := e.message(second); m.Status != callout.MessageFailed {
			t.Errorf("a pending message of the disabled endpoint is %s, want failed", m.Status)
		}
		if done, _ := e.deliver(second); !done {
			t.Error("a message of a disabled endpoint is still run")
		}
	})
}

// TestInflightCap: a hanging endpoint holds at most its cap of workers;
// further messages of it wait without an attempt.
func TestInflightCap(t *testing.T) {
	e := newEnv(t, storetest.Dialects()[0], Options{MaxInflightPerEndpoint: 2})
	arrived := make(chan struct{}, 10)
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) bool {
		arrived <- struct{}{}
		<-release
		return false
	})
	e.endpoint("ep", rc.URL, func(ep *callout.Endpoint) { ep.TimeoutMS = 10_000 })
	for range 3 {
		e.publish("a", "{}")
	}
	var wg sync.WaitGroup
	for range 2 {
		k := e.key()
		wg.Go(func() { e.svc.Deliver(e.ctx, k, 0) })
	}
	<-arrived
	<-arrived
	k := e.key()
	done, after := e.deliver(k)
	if done || after != busyWait*3/4 || e.message(k).Attempts != 0 {
		t.Errorf("beyond the cap: done %v, wait %s; want a short wait and no attempt", done, after)
	}
	// A message kept waiting backs off (by 3/4 of the doubled wait, with
	// the test's jitter of 0).
	for waits, want := range map[int]time.Duration{1: 2 * busyWait * 3 / 4, 3: 8 * busyWait * 3 / 4, 40: maxBusyWait * 3 / 4} {
		if _, after, _ := e.svc.Deliver(e.ctx, k, waits); after != want {
			t.Errorf("after %d waits: wait %s, want %s", waits, after, want)
		}
	}
	close(release)
	wg.Wait()
	if done, _ := e.deliver(k); !done {
		t.Error("the waiting message was not delivered once the cap freed")
	}
}

// TestInflightCapWaitsForASlot: a message of an endpoint at its cap waits
// in the process for a slot that frees, and is attempted then, instead of
// going back to the queue; only the cap's number of messages wait so, the
// next goes back to the queue at once.
func TestInflightCapWaitsForASlot(t *testing.T) {
	e := newEnv(t, storetest.Dialects()[0], Options{MaxInflightPerEndpoint: 1})
	e.svc.slotWait = time.Hour // however slow the machine, the slot frees first
	arrived := make(chan struct{}, 10)
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("webhook-id") == "first" {
			arrived <- struct{}{}
			<-release
		}
		return false
	})
	e.endpoint("ep", rc.URL, func(ep *callout.Endpoint) { ep.TimeoutMS = 10_000 })
	var ks []callout.MessageKey
	for _, id := range []string{"first", "second", "third"} {
		if _, err := e.svc.Publish(e.ctx, Publication{ManufacturerID: "103", ID: id, Event: "a", Data: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
		ks = append(ks, e.key())
	}
	type result struct {
		done  bool
		after time.Duration
	}
	first, second := make(chan result, 1), make(chan result, 1)
	go func() { done, after := e.deliver(ks[0]); first <- result{done, after} }()
	<-arrived
	go func() { done, after := e.deliver(ks[1]); second <- result{done, after} }()
	for waiting := false; !waiting; {
		e.svc.mu.Lock()
		sl := e.svc.slots[endpointKey{"103", "ep"}]
		waiting = sl != nil && sl.waiters == 1
		e.svc.mu.Unlock()
		runtime.Gosched()
	}
	if done, after := e.deliver(ks[2]); done || after != busyWait*3/4 || e.message(ks[2]).Attempts != 0 {
		t.Errorf("with the cap taken and one message waiting: done %v, wait %s; want a wait in the queue", done, after)
	}
	close(release)
	for i, r := range []result{<-first, <-second} {
		if !r.done || e.message(ks[i]).Status != callout.MessageSucceeded {
			t.Errorf("message %d: done %v, status %s, want delivered", i+1, r.done, e.message(ks[i]).Status)
		}
	}
}

// TestPublishValidation: bad input is refused with the right code and
// leaves nothing behind.
func TestPublishValidation(t *testing.T) {
	e := newEnv(t, storetest.Dialects()[0], Options{MaxDataBytes: 100})
	e.endpoint("ep", "http://127.0.0.1:1", nil)
	tests := []struct {
		name string
		p    Publication
		code string
	}{
		{"array data", Publication{Event: "a", Data: json.RawMessage(`[1]`)}, callout.ECodeInvalid},
		{"string data", Publication{Event: "a", Data: json.RawMessage(`"x"`)}, callout.ECodeInvalid},
		{"no data", Publication{Event: "a"}, callout.ECodeInvalid},
		{"bad type", Publication{Event: "bad type", Data: json.RawMessage(`{}`)}, callout.ECodeInvalid},
		{"bad id", Publication{ID: "a/b", Event: "a", Data: json.RawMessage(`{}`)}, callout.ECodeInvalid},
		{"too large", Publication{Event: "a", Data: json.RawMessage(`{"a":"` + strings.Repeat("x", 100) + `"}`)}, callout.ECodeTooLarge},
	}
	for _, tt := range tests {
		tt.p.ManufacturerID = "103"
		_, err := e.svc.Publish(e.ctx, tt.p)
		if got := callout.ErrorCode(err); got != tt.code {
			t.Errorf("%s: code %q (%v), want %q", tt.name, got, err, tt.code)
		}
	}
	evs, _, _ := e.store.ListEvents(e.ctx, callout.EventFilter{ManufacturerID: "103"})
	if len(evs) != 0 || len(e.keys) != 0 {
		t.Errorf("bad input left %d events and %d messages", len(evs), len(e.keys))
	}
}

// TestPing: the test route's ping reaches the endpoint synchronously and
// queues nothing.
func TestPing(t *testing.T) {
	e := newEnv(t, storetest.Dialects()[0], Options{})
	rc := newReceiver(t, nil)
	e.endpoint("ep", rc.URL, func(ep *callout.Endpoint) { ep.SigningSecret = signingSecret })
	res, err := e.svc.Test(e.ctx, "103", "ep")
	if err != nil || res.Outcome != callout.AttemptSucceeded || res.HTTPStatus != 200 {
		t.Fatalf("Test = %+v, %v", res, err)
	}
	got := rc.requests()
	if len(got) != 1 || got[0].header.Get("X-Callout-Event") != callout.EventPing {
		t.Fatalf("receiver got %v", got)
	}
	verify(t, signingSecret, got[0].header, got[0].body)
	if len(e.keys) != 0 {
		t.Error("the test queued a message")
	}
	_, err = e.svc.Test(e.ctx, "103", "nope")
	if callout.ErrorCode(err) != callout.ECodeNotFound {
		t.Errorf("Test(unknown) = %v, want not_found", err)
	}
}

// TestIsolation: one manufacturer's endpoint hangs for its whole timeout on
// every attempt while another's answers at once; the healthy one's events
// arrive promptly, through the real queue, on each store.
func TestIsolation(t *testing.T) {
	forEachStore(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		s := storetest.Open(t, dialect, store.Options{})
		svc := New(Options{Store: s.Store, Caller: webhook.New(webhook.Options{
			Policy: webhook.Policy{AllowPrivateNetworks: true, AllowInsecureHTTP: true}})})
		q, err := queue.New(ctx, queue.Options{Store: s.Store, URL: s.URL, Deliverer: svc, Workers: 10})
		if err != nil {
			t.Fatal(err)
		}
		s.SetEnqueuer(q)
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			q.Stop(sctx)
		})
		release := make(chan struct{})
		var inflight, most atomic.Int32
		hanging := newReceiver(t, func(w http.ResponseWriter, r *http.Request) bool {
			n := inflight.Add(1)
			defer inflight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return true
		})
		t.Cleanup(func() { close(release) })
		arrived := make(chan time.Time, 100)
		healthy := newReceiver(t, func(w http.ResponseWriter, r *http.Request) bool {
			arrived <- time.Now()
			return false
		})
		for m, url := range map[string]string{"dead": hanging.URL, "live": healthy.URL} {
			if _, _, err := s.PutManufacturer(ctx, m, m); err != nil {
				t.Fatal(err)
			}
			ep := &callout.Endpoint{ManufacturerID: m, ID: "ep", URL: url, Enabled: true, TimeoutMS: 5000}
			ep.SetDefaults()
			if err := s.PutEndpoint(ctx, ep); err != nil {
				t.Fatal(err)
			}
		}
		for range 50 {
			if _, err := svc.Publish(ctx, Publication{ManufacturerID: "dead", Event: "a", Data: json.RawMessage(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
		var worst time.Duration
		for range 20 {
			published := time.Now()
			if _, err := svc.Publish(ctx, Publication{ManufacturerID: "live", Event: "a", Data: json.RawMessage(`{}`)}); err != nil {
				t.Fatal(err)
			}
			select {
			case at := <-arrived:
				worst = max(worst, at.Sub(published))
			case <-time.After(5 * time.Second):
				t.Fatal("a healthy manufacturer's event did not arrive within 5 s while another's endpoint hangs")
			}
		}
		t.Logf("%s: slowest healthy delivery %s while the other endpoint hangs", dialect, worst)
		// The target of the README's Performance section; under the race detector, below the
		// hanging endpoint's 5 s timeout: nothing waited behind it.
		bound := time.Second
		if raceDetector {
			bound = 4 * time.Second
		}
		if worst > bound {
			t.Errorf("slowest healthy delivery took %s, want at most %s", worst, bound)
		}
		if n := most.Load(); n > DefaultMaxInflightPerEndpoint {
			t.Errorf("the hanging endpoint got %d requests at once, want at most %d", n, DefaultMaxInflightPerEndpoint)
		}
	})
}
