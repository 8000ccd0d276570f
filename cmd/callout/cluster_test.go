package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callout/callout/auth"
	"github.com/callout/callout/internal/fakemanufacturer"
	"github.com/callout/callout/internal/storetest"
)

// cluster starts n Callout processes sharing one PostgreSQL schema of their
// own. It skips the test when no test database is configured.
func cluster(t *testing.T, n int, env ...string) []*process {
	t.Helper()
	url := storetest.Schema(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env = append([]string{
		"CALLOUT_DATABASE_URL=" + url,
		"CALLOUT_SECRET_KEY=" + base64.StdEncoding.EncodeToString(key),
	}, env...)
	procs := make([]*process, n)
	for i := range procs {
		procs[i] = startProcess(t, t.TempDir(), env...)
	}
	return procs
}

// TestClusterSubmitsOnce fires 30 concurrent submits of one job spread over
// three processes at a slow manufacturer: exactly one request reaches it and
// every caller sees its answer.
func TestClusterSubmitsOnce(t *testing.T) {
	mfr := fakemanufacturer.New()
	defer mfr.Close()
	mfr.Answer(http.StatusOK, `{"success": true, "id": "JPS-990495"}`)
	release := mfr.Hold()
	procs := cluster(t, 3)
	setUp(procs[0], mfr.URL, `{"type": "none"}`)

	const n = 30
	type answer struct {
		status int
		body   []byte
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			status, body := procs[i%3].call(auth.RoleApp, "POST", "/v1/manufacturers/103/jobs/338167/submit", "")
			answers[i] = answer{status, body}
		})
	}
	awaitHeld(t, mfr, 1)
	// The other callers arrive while the callout is held.
	time.AfterFunc(time.Second, release)
	wg.Wait()
	if got := mfr.Requests(); got != 1 {
		t.Fatalf("%d requests reached the manufacturer, want 1", got)
	}
	for i, a := range answers {
		var got struct {
			ExternalID string `json:"external_id"`
		}
		if err := json.Unmarshal(a.body, &got); err != nil || a.status != 200 || got.ExternalID != "JPS-990495" {
			t.Errorf("caller %d (process %d): %d %s", i, i%3, a.status, a.body)
		}
	}
	for _, p := range procs {
		job := p.must(200, auth.RoleApp, "GET", "/v1/manufacturers/103/jobs/338167", "")
		if !strings.Contains(string(job), `"external_id":"JPS-990495"`) {
			t.Errorf("process sees %s", job)
		}
	}
}

// TestClusterProcessDiesMidSubmission kills the process making a submission
// callout; after the claim's lease the job can be submitted through another
// process, and the manufacturer gets the same Idempotency-Key again.
func TestClusterProcessDiesMidSubmission(t *testing.T) {
	mfr := fakemanufacturer.New()
	defer mfr.Close()
	mfr.Answer(http.StatusOK, `{"success": true, "id": "JPS-7"}`)
	// Held until its process is killed: the first attempt never gets an
	// answer.
	release := mfr.Hold()
	const lease = 2 * time.Second
	// A lease this short is allowed only in development mode.
	procs := cluster(t, 2, "CALLOUT_SUBMISSION_LEASE="+lease.String(), "CALLOUT_DEV=true")
	setUp(procs[0], mfr.URL, `{"type": "none"}`)

	go func() {
		// This caller never gets an answer: its process dies.
		_, _, _ = procs[0].send(auth.RoleApp, "POST", "/v1/manufacturers/103/jobs/338167/submit", "")
	}()
	awaitHeld(t, mfr, 1)
	procs[0].kill()
	killed := time.Now()
	release()

	body := procs[1].must(200, auth.RoleApp, "POST", "/v1/manufacturers/103/jobs/338167/submit", "")
	if waited := time.Since(killed); waited < lease/2 {
		t.Errorf("the second submit went through %s after the kill, before the lease could expire", waited)
	}
	if !strings.Contains(string(body), `"external_id":"JPS-7"`) {
		t.Errorf("submit after the lease: %s", body)
	}
	var keys []string
	for _, r := range mfr.Received() {
		keys = append(keys, r.Header.Get("Idempotency-Key"))
	}
	if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
		t.Errorf("Idempotency-Keys sent: %q, want the same key twice", keys)
	}
}

// TestClusterWebhookChangeReachesEveryProcess changes the pricing webhook
// through one process after every process has priced with it: the next price
// through each process calls the new webhook, never the old one.
func TestClusterWebhookChangeReachesEveryProcess(t *testing.T) {
	before, after := fakemanufacturer.New(), fakemanufacturer.New()
	defer before.Close()
	defer after.Close()
	before.Answer(http.StatusOK, `{"cost": 1}`)
	after.Answer(http.StatusOK, `{"cost": 2}`)
	procs := cluster(t, 3)
	setUp(procs[0], before.URL, `{"type": "none"}`)
	const price = "/v1/manufacturers/103/jobs/338167/price"
	putPricing := func(p *process, url string) {
		p.must(200, auth.RoleAdmin, "PUT", "/v1/manufacturers/103/webhooks/pricing", `{"url": "`+url+`", "auth": {"type": "none"}}`)
	}
	putPricing(procs[0], before.URL)
	for i, p := range procs {
		if body := p.must(200, auth.RoleApp, "POST", price, ""); !strings.Contains(string(body), `"cost":1`) {
			t.Fatalf("process %d, first webhook: %s", i, body)
		}
	}
	called := before.Requests()

	putPricing(procs[1], after.URL)
	for i, p := range procs {
		if body := p.must(200, auth.RoleApp, "POST", price, ""); !strings.Contains(string(body), `"cost":2`) {
			t.Errorf("process %d after the change: %s, want the new webhook's cost 2", i, body)
		}
	}
	if got := before.Requests(); got != called {
		t.Errorf("the old webhook got %d requests after the change, want none", got-called)
	}
	if after.Requests() == 0 {
		t.Error("the new webhook was never called")
	}
}

// TestClusterIdenticalPricesShareOneCallout sends 20 identical prices at once
// to a process on PostgreSQL while the first one's callout is held: one
// callout answers them all, including the requests whose reads of the job
// end after it.
func TestClusterIdenticalPricesShareOneCallout(t *testing.T) {
	mfr := fakemanufacturer.New()
	defer mfr.Close()
	mfr.Answer(http.StatusOK, `{"cost": 7}`)
	release := mfr.Hold()
	p := cluster(t, 1)[0]
	setUp(p, mfr.URL, `{"type": "none"}`)
	p.must(200, auth.RoleAdmin, "PUT", "/v1/manufacturers/103/webhooks/pricing", `{"url": "`+mfr.URL+`", "auth": {"type": "none"}}`)
	tok, err := auth.Mint([]byte(testJWTSecret), auth.RoleApp, "103", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	const n = 20
	bodies := make([]string, n)
	var wg, written sync.WaitGroup
	for i := range n {
		written.Add(1)
		wg.Go(func() {
			trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { written.Done() }}
			req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
				"POST", p.url+"/v1/manufacturers/103/jobs/338167/price", nil)
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			bodies[i] = fmt.Sprintf("%d %s", resp.StatusCode, body)
		})
	}
	awaitHeld(t, mfr, 1)
	// Every request is on its way before the callout ends.
	written.Wait()
	release()
	wg.Wait()
	if got := mfr.Requests(); got != 1 {
		t.Errorf("%d callouts, want 1", got)
	}
	for i, b := range bodies {
		if !strings.HasPrefix(b, "200 ") || !strings.Contains(b, `"cost":7`) {
			t.Errorf("caller %d: %s, want the shared cost 7", i, b)
		}
	}
}
