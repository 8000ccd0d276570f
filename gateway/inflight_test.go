package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestPutJobDuringSubmission replaces a job's documents while its submission
// is with the manufacturer: the replacement is refused, and the job is
// submitted with the documents the manufacturer received.
func TestPutJobDuringSubmission(t *testing.T) {
	tn := newTenant(t)
	tn.hook("submission", nil)
	export, jobDoc, _ := tn.storeSeed()
	const job = "/v1/manufacturers/103/jobs/338167"

	arrived, release := make(chan struct{}), make(chan struct{})
	signal, answer := sync.OnceFunc(func() { close(arrived) }), sync.OnceFunc(func() { close(release) })
	// Registered after the servers' cleanup, so it runs first: a failed test
	// does not leave the manufacturer holding a request its server waits on.
	t.Cleanup(answer)
	tn.mfr.mu.Lock()
	tn.mfr.answer = func(w http.ResponseWriter, _ *http.Request) {
		signal()
		<-release
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id": "JPS-990495"}`)
	}
	tn.mfr.mu.Unlock()

	submitted := make(chan *response, 1)
	go func() { submitted <- tn.app.do("POST", job+"/submit", nil) }()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the submission did not reach the manufacturer within 10 s")
	}

	changed := fmt.Sprintf(`{"job": %s, "export": {"changed": true}}`, jobDoc)
	expect(t, tn.app.do("PUT", job, changed), 409, "submission_in_progress")
	if got := expect(t, tn.app.do("GET", job, nil), 200, ""); got["revision"] != 1.0 {
		t.Errorf("revision during the submission = %v, want 1", got["revision"])
	}

	answer()
	r := <-submitted
	if got := expect(t, r, 200, ""); got["external_id"] != "JPS-990495" {
		t.Errorf("submit: %s", r.body)
	}
	got := expect(t, tn.app.do("GET", job, nil), 200, "")
	if got["status"] != "submitted" || got["revision"] != 1.0 {
		t.Errorf("job after the submission: status %v, revision %v; want submitted at revision 1", got["status"], got["revision"])
	}
	if in := tn.mfr.received(); len(in) != 1 || !bytes.Contains(in[0].body, export) {
		t.Errorf("the manufacturer did not get revision 1's export: %d requests", len(in))
	}
	expect(t, tn.app.do("PUT", job, changed), 409, "job_submitted")
}
