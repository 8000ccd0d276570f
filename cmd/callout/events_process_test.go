package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/callout/callout/auth"
)

// eventReceiver is a real receiver of event deliveries that counts each
// event id (webhook-id) it gets, after an optional pause per request.
type eventReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string]int
}

func newEventReceiver(t *testing.T, pause time.Duration) *eventReceiver {
	r := &eventReceiver{seen: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		time.Sleep(pause) // a slow receiver, so that the kill lands mid-stream
		r.mu.Lock()
		r.seen[req.Header.Get("webhook-id")]++
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

// missing returns the ids not received yet, and how many were received
// more than once.
func (r *eventReceiver) missing(ids []string) (missing []string, duplicates int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if r.seen[id] == 0 {
			missing = append(missing, id)
		}
	}
	for _, n := range r.seen {
		if n > 1 {
			duplicates++
		}
	}
	return missing, duplicates
}

// awaitAll waits until every id was received, for at most within.
func (r *eventReceiver) awaitAll(t *testing.T, ids []string, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		missing, duplicates := r.missing(ids)
		if len(missing) == 0 {
			return duplicates
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d of %d events answered 202 were never received (first %s)", within, len(missing), len(ids), missing[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// subscribe creates manufacturer 103 with one endpoint at url.
func subscribe(p *process, url string) {
	p.must(201, auth.RolePlatform, "PUT", "/v1/manufacturers/103", `{"name": "Example"}`)
	p.must(200, auth.RoleAdmin, "PUT", "/v1/manufacturers/103/endpoints/erp", `{"url": "`+url+`", "timeout_ms": 1000}`)
}

// publish publishes one event and returns its id, or "" when the process
// did not answer 202.
func publish(p *process, n int) string {
	status, body, err := p.send(auth.RolePlatform, "POST", "/v1/manufacturers/103/events",
		fmt.Sprintf(`{"event": "moved_to_ready", "data": {"n": %d}}`, n))
	if err != nil || status != http.StatusAccepted {
		return ""
	}
	var out struct{ ID string }
	if json.Unmarshal(body, &out) != nil {
		return ""
	}
	return out.ID
}

// eventEnv makes a killed process's messages available again after 3 s,
// plus River's rescuer interval (30 s), instead of the 75 s lease.
var eventEnv = []string{"CALLOUT_DEV=true", "CALLOUT_EVENTS_LEASE=3s"}

// TestKilledMidStreamLosesNoEvent publishes 200 events to a slow receiver,
// SIGKILLs Callout half-way, restarts it on the same data: every event
// answered 202 is received at least once.
func TestKilledMidStreamLosesNoEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for River's rescuer")
	}
	dir := t.TempDir()
	rc := newEventReceiver(t, 20*time.Millisecond)
	p := startProcess(t, dir, eventEnv...)
	subscribe(p, rc.URL)
	var acked []string
	for n := range 200 {
		if n == 100 {
			p.kill()
		}
		if id := publish(p, n); id != "" {
			acked = append(acked, id)
		}
	}
	if len(acked) != 100 {
		t.Fatalf("%d events answered 202, want the 100 before the kill", len(acked))
	}
	before, _ := rc.missing(acked)
	t.Logf("at the kill: %d of 100 events not yet received", len(before))
	startProcess(t, dir, eventEnv...)
	dups := rc.awaitAll(t, acked, 90*time.Second)
	t.Logf("every event received after the restart; %d received twice (in flight at the kill)", dups)
}

// TestClusterDeliversEveryEvent: two processes on one PostgreSQL database
// deliver 300 events published through both, none missing, none twice.
func TestClusterDeliversEveryEvent(t *testing.T) {
	procs := cluster(t, 2, eventEnv...)
	rc := newEventReceiver(t, 0)
	subscribe(procs[0], rc.URL)
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	for i, p := range procs {
		wg.Go(func() {
			for n := range 150 {
				id := publish(p, i*1000+n)
				if id == "" {
					t.Errorf("process %d did not accept event %d", i, n)
					return
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if dups := rc.awaitAll(t, acked, 60*time.Second); dups != 0 {
		t.Errorf("%d events received twice without any process dying", dups)
	}
}
