package gateway_test

import (
	"bytes"
	"fmt"
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

	tn.mfr.Answer(200, `{"id": "JPS-990495"}`)
	release := tn.mfr.Hold()

	submitted := make(chan *response, 1)
	go func() { submitted <- tn.app.do("POST", job+"/submit", nil) }()
	select {
	case <-tn.mfr.Held(1):
	case <-time.After(10 * time.Second):
		t.Fatal("the submission did not reach the manufacturer within 10 s")
	}

	changed := fmt.Sprintf(`{"job": %s, "export": {"changed": true}}`, jobDoc)
	expect(t, tn.app.do("PUT", job, changed), 409, "submission_in_progress")
	if got := expect(t, tn.app.do("GET", job, nil), 200, ""); got["revision"] != 1.0 {
		t.Errorf("revision during the submission = %v, want 1", got["revision"])
	}

	release()
	r := <-submitted
	if got := expect(t, r, 200, ""); got["external_id"] != "JPS-990495" {
		t.Errorf("submit: %s", r.body)
	}
	got := expect(t, tn.app.do("GET", job, nil), 200, "")
	if got["status"] != "submitted" || got["revision"] != 1.0 {
		t.Errorf("job after the submission: status %v, revision %v; want submitted at revision 1", got["status"], got["revision"])
	}
	if in := tn.mfr.Received(); len(in) != 1 || !bytes.Contains(in[0].Body, export) {
		t.Errorf("the manufacturer did not get revision 1's export: %d requests", len(in))
	}
	expect(t, tn.app.do("PUT", job, changed), 409, "job_submitted")
}
