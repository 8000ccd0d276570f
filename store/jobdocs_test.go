package store

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/callout/callout"
)

// testPricingInputsSeeEveryChange prices a job through one store, whose
// documents it then keeps, while another store on the same database (another
// process) replaces the job's documents and changes its customer
// and webhook: every read of the first store returns what GetJob returns
// then, never the documents it read before.
func testPricingInputsSeeEveryChange(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.jobWithCustomer(t, "103", "j1")
	other := e.another(t)
	read := func(step string) (*callout.Job, *callout.Customer, *callout.Webhook) {
		t.Helper()
		job, c, wh, err := e.GetPricingInputs(e.ctx, "103", "j1", callout.KindPricing)
		if err != nil {
			t.Fatalf("%s: GetPricingInputs: %v", step, err)
		}
		want, err := other.GetJob(e.ctx, "103", "j1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, job); diff != "" {
			t.Errorf("%s: job (-GetJob +GetPricingInputs):\n%s", step, diff)
		}
		return job, c, wh
	}
	read("first read")
	read("second read")

	replaced := &callout.Job{ManufacturerID: "103", ID: "j1", CustomerID: "c1",
		Document: json.RawMessage(`{"id": "j1", "replaced": true}`), Export: json.RawMessage(`{"JobNumber": 2}`)}
	if err := other.PutJob(e.ctx, replaced, nil); err != nil {
		t.Fatal(err)
	}
	if job, _, _ := read("after another process replaced the documents"); string(job.Export) != `{"JobNumber": 2}` {
		t.Errorf("export %s, want the replacement's", job.Export)
	}

	if _, err := other.PutCustomer(e.ctx, &callout.Customer{ManufacturerID: "103", ID: "c1", Document: json.RawMessage(`{"v": 2}`)}); err != nil {
		t.Fatal(err)
	}
	if _, c, _ := read("after another process changed the customer"); string(c.Document) != `{"v": 2}` {
		t.Errorf("customer %s, want the new one", c.Document)
	}

	w := fullWebhook("103", callout.KindPricing)
	if err := other.PutWebhook(e.ctx, w); err != nil {
		t.Fatal(err)
	}
	w.URL = "https://erp.example.com/hooks/changed"
	e.clock.Add(1)
	if err := other.PutWebhook(e.ctx, w); err != nil {
		t.Fatal(err)
	}
	if _, _, wh := read("after another process changed the webhook"); wh == nil || wh.URL != w.URL {
		t.Errorf("webhook %+v, want URL %s", wh, w.URL)
	}
}
