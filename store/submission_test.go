package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/callout/callout"
)

func wantHeld(t *testing.T, err error, claimID string, until time.Time) {
	t.Helper()
	var held *callout.HeldError
	if !errors.As(err, &held) {
		t.Fatalf("error %v, want *callout.HeldError", err)
	}
	if held.ClaimID != claimID || !held.Until.Equal(utc(until)) {
		t.Errorf("held by %s until %v, want %s until %v", held.ClaimID, held.Until, claimID, utc(until))
	}
}

func testClaim(t *testing.T, open opener) {
	e := newEnv(t, open)
	_, err := e.ClaimSubmission(e.ctx, "103", "j1", "a", start.Add(time.Minute))
	wantCode(t, err, callout.ECodeNotFound)
	stored := e.jobWithCustomer(t, "103", "j1")

	until := start.Add(time.Minute)
	j, err := e.ClaimSubmission(e.ctx, "103", "j1", "a", until)
	if err != nil {
		t.Fatalf("ClaimSubmission(a): %v", err)
	}
	if diff := cmp.Diff(stored, j, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("claimed job (-stored +got):\n%s", diff)
	}

	_, err = e.ClaimSubmission(e.ctx, "103", "j1", "b", start.Add(time.Hour))
	wantHeld(t, err, "a", until)

	// The holder may extend its own lease.
	until = start.Add(2 * time.Minute)
	if _, err := e.ClaimSubmission(e.ctx, "103", "j1", "a", until); err != nil {
		t.Fatalf("ClaimSubmission(a) extending its lease: %v", err)
	}
	e.clock.Add(time.Minute)
	_, err = e.ClaimSubmission(e.ctx, "103", "j1", "b", start.Add(time.Hour))
	wantHeld(t, err, "a", until)

	// An expired lease can be taken over.
	e.clock.Add(time.Minute)
	untilB := e.clock.Now().Add(time.Minute)
	if _, err := e.ClaimSubmission(e.ctx, "103", "j1", "b", untilB); err != nil {
		t.Fatalf("ClaimSubmission(b) after a's lease expired: %v", err)
	}
	_, err = e.ClaimSubmission(e.ctx, "103", "j1", "a", untilB)
	wantHeld(t, err, "b", untilB)

	finish(t, e.Store, &callout.SubmissionResult{ManufacturerID: "103", JobID: "j1", ClaimID: "b", Accepted: true})
	_, err = e.ClaimSubmission(e.ctx, "103", "j1", "c", untilB)
	wantCode(t, err, callout.ECodeAlreadySubmitted)
}

func finish(t *testing.T, s *Store, r *callout.SubmissionResult) {
	t.Helper()
	if r.Response.Status == 0 {
		r.Response = callout.Response{Status: 200, Body: []byte(`{"submitted":true}`)}
	}
	if err := s.FinishSubmission(t.Context(), r); err != nil {
		t.Fatalf("FinishSubmission(%s): %v", r.ClaimID, err)
	}
}

// testClaimConcurrent claims one job from 20 goroutines spread over two
// stores on one database, as two processes would: exactly one wins.
func testClaimConcurrent(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.jobWithCustomer(t, "103", "j1")
	stores := []*Store{e.Store, e.another(t)}
	until := start.Add(time.Minute)

	const n = 20
	var (
		wg      sync.WaitGroup
		ready   = make(chan struct{})
		errs    = make([]error, n)
		winners []string
		mu      sync.Mutex
	)
	for i := range n {
		wg.Go(func() {
			<-ready
			id := fmt.Sprintf("claim-%02d", i)
			_, err := stores[i%2].ClaimSubmission(e.ctx, "103", "j1", id, until)
			errs[i] = err
			if err == nil {
				mu.Lock()
				winners = append(winners, id)
				mu.Unlock()
			}
		})
	}
	close(ready)
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d claims won (%v), want exactly 1", len(winners), winners)
	}
	for i, err := range errs {
		if err == nil {
			continue
		}
		var held *callout.HeldError
		if !errors.As(err, &held) || held.ClaimID != winners[0] {
			t.Errorf("claim %d: error %v, want *callout.HeldError naming %s", i, err, winners[0])
		}
	}
}

func testFinishAccepted(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.jobWithCustomer(t, "103", "j1")
	if _, err := e.ClaimSubmission(e.ctx, "103", "j1", "a", start.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, err := e.GetSubmissionResponse(e.ctx, "103", "j1", "a")
	wantCode(t, err, callout.ECodeNotFound)

	e.clock.Add(3 * time.Second)
	d := delivery("103", "d1", start)
	r := &callout.SubmissionResult{
		ManufacturerID: "103", JobID: "j1", ClaimID: "a", Accepted: true, ExternalID: "JPS-990495",
		Messages: []callout.Message{
			{Text: "Order #123456", Source: callout.KindSubmission, At: start.Add(time.Second)},
			{Text: "Delivery in 2 weeks", Source: callout.KindSubmission, At: start.Add(time.Second)},
		},
		SubmittedAt:    start.Add(2 * time.Second),
		Response:       callout.Response{Status: 200, Body: []byte("{\"submitted\": true,\n \"external_id\":\"JPS-990495\"}")},
		IdempotencyKey: "key-1",
		Delivery:       d,
	}
	finish(t, e.Store, r)

	j := e.getJob(t, "103", "j1")
	submittedAt := utc(r.SubmittedAt)
	want := &callout.Job{ID: "j1", ManufacturerID: "103", CustomerID: "c1", Status: callout.JobSubmitted,
		SubmittedAt: &submittedAt, ExternalID: "JPS-990495", Revision: 1, UpdatedAt: utc(e.clock.Now()),
		Messages: []callout.Message{
			{Text: "Order #123456", Source: callout.KindSubmission, At: utc(start.Add(time.Second))},
			{Text: "Delivery in 2 weeks", Source: callout.KindSubmission, At: utc(start.Add(time.Second))},
		}}
	if diff := cmp.Diff(want, j, cmpopts.IgnoreFields(callout.Job{}, "Document", "Export")); diff != "" {
		t.Errorf("job after an accepted submission (-want +got):\n%s", diff)
	}
	resp, err := e.GetSubmissionResponse(e.ctx, "103", "j1", "a")
	if err != nil {
		t.Fatalf("GetSubmissionResponse: %v", err)
	}
	if diff := cmp.Diff(&r.Response, resp); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	if _, err := e.GetDelivery(e.ctx, "103", "d1"); err != nil {
		t.Errorf("GetDelivery of the submission's delivery: %v", err)
	}
	rec, err := e.GetIdempotency(e.ctx, "103", "key-1")
	if err != nil {
		t.Fatalf("GetIdempotency: %v", err)
	}
	wantRec := &callout.IdempotencyRecord{JobID: "j1", Response: r.Response, CreatedAt: utc(e.clock.Now())}
	if diff := cmp.Diff(wantRec, rec); diff != "" {
		t.Errorf("idempotency record (-want +got):\n%s", diff)
	}
	_, err = e.ClaimSubmission(e.ctx, "103", "j1", "b", e.clock.Now().Add(time.Minute))
	wantCode(t, err, callout.ECodeAlreadySubmitted)
	_, err = e.GetSubmissionResponse(e.ctx, "103", "j1", "b")
	wantCode(t, err, callout.ECodeNotFound)

	// Finishing the same claim twice is refused: its lease was released.
	err = e.FinishSubmission(e.ctx, &callout.SubmissionResult{ManufacturerID: "103", JobID: "j1", ClaimID: "a", Accepted: true})
	if !errors.Is(err, ErrClaimLost) {
		t.Errorf("second FinishSubmission: error %v, want ErrClaimLost", err)
	}
	if got := e.getJob(t, "103", "j1"); len(got.Messages) != 2 {
		t.Errorf("messages after a refused second finish: %d, want 2", len(got.Messages))
	}
	wantCode(t, e.FinishSubmission(e.ctx, &callout.SubmissionResult{ManufacturerID: "103", JobID: "nope", ClaimID: "a"}), callout.ECodeNotFound)
}

func testFinishRejected(t *testing.T, open opener) {
	e := newEnv(t, open)
	before := e.jobWithCustomer(t, "103", "j1")
	if _, err := e.ClaimSubmission(e.ctx, "103", "j1", "a", start.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	r := &callout.SubmissionResult{ManufacturerID: "103", JobID: "j1", ClaimID: "a", Accepted: false,
		ExternalID: "ignored", Messages: []callout.Message{{Text: "Out of stock", Source: callout.KindSubmission, At: start}},
		Response: callout.Response{Status: 422, Body: []byte(`{"code":"rejected","errors":["Out of stock"]}`)},
		Delivery: delivery("103", "d1", start)}
	finish(t, e.Store, r)

	got := e.getJob(t, "103", "j1")
	if diff := cmp.Diff(before, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("job changed by a rejected submission (-before +after):\n%s", diff)
	}
	resp, err := e.GetSubmissionResponse(e.ctx, "103", "j1", "a")
	if err != nil || resp.Status != 422 || string(resp.Body) != string(r.Response.Body) {
		t.Errorf("GetSubmissionResponse = %+v, %v; want the rejection", resp, err)
	}
	if _, err := e.GetDelivery(e.ctx, "103", "d1"); err != nil {
		t.Errorf("GetDelivery: %v", err)
	}
	// The lease was released: another claim succeeds at once.
	if _, err := e.ClaimSubmission(e.ctx, "103", "j1", "b", start.Add(time.Minute)); err != nil {
		t.Errorf("ClaimSubmission after a rejection: %v", err)
	}
}

func testFinishClaimLost(t *testing.T, open opener) {
	e := newEnv(t, open)
	before := e.jobWithCustomer(t, "103", "j1")
	if _, err := e.ClaimSubmission(e.ctx, "103", "j1", "a", start.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(2 * time.Minute)
	if _, err := e.ClaimSubmission(e.ctx, "103", "j1", "b", e.clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	err := e.FinishSubmission(e.ctx, &callout.SubmissionResult{ManufacturerID: "103", JobID: "j1", ClaimID: "a",
		Accepted: true, ExternalID: "X-1", Messages: []callout.Message{{Text: "m", Source: callout.KindSubmission, At: start}},
		Response: callout.Response{Status: 200, Body: []byte(`{}`)}, IdempotencyKey: "key", Delivery: delivery("103", "d1", start)})
	if !errors.Is(err, ErrClaimLost) {
		t.Fatalf("FinishSubmission of a lost claim: error %v, want ErrClaimLost", err)
	}
	wantCode(t, err, callout.ECodeSubmitInProgress)

	if diff := cmp.Diff(before, e.getJob(t, "103", "j1"), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("job changed by a lost claim (-before +after):\n%s", diff)
	}
	_, err = e.GetSubmissionResponse(e.ctx, "103", "j1", "a")
	wantCode(t, err, callout.ECodeNotFound)
	_, err = e.GetDelivery(e.ctx, "103", "d1")
	wantCode(t, err, callout.ECodeNotFound)
	_, err = e.GetIdempotency(e.ctx, "103", "key")
	wantCode(t, err, callout.ECodeNotFound)
	// b still holds the claim.
	_, err = e.ClaimSubmission(e.ctx, "103", "j1", "c", e.clock.Now())
	wantHeld(t, err, "b", e.clock.Now().Add(time.Minute))
}

func testIdempotency(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.manufacturer(t, "103")
	_, err := e.GetIdempotency(e.ctx, "103", "key")
	wantCode(t, err, callout.ECodeNotFound)

	first := callout.Response{Status: 200, Body: []byte("{\"a\":1}\n\xff\x00")}
	second := callout.Response{Status: 422, Body: []byte(`{"b":2}`)}
	get := func() *callout.IdempotencyRecord {
		t.Helper()
		rec, err := e.GetIdempotency(e.ctx, "103", "key")
		if err != nil {
			t.Fatalf("GetIdempotency: %v", err)
		}
		return rec
	}
	put := func(key, job string, r callout.Response) {
		t.Helper()
		if err := e.PutIdempotency(e.ctx, "103", key, job, r); err != nil {
			t.Fatalf("PutIdempotency: %v", err)
		}
	}
	put("key", "j1", first)
	put("old", "j0", second)
	want := &callout.IdempotencyRecord{JobID: "j1", Response: first, CreatedAt: utc(start)}
	if diff := cmp.Diff(want, get()); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}

	// Within the window the first record stays.
	e.clock.Add(callout.IdempotencyWindow - time.Second)
	put("key", "j2", second)
	if diff := cmp.Diff(want, get()); diff != "" {
		t.Errorf("record after a put within the window (-want +got):\n%s", diff)
	}

	// After it, the key is reused.
	e.clock.Add(2 * time.Second)
	put("key", "j2", second)
	want = &callout.IdempotencyRecord{JobID: "j2", Response: second, CreatedAt: utc(e.clock.Now())}
	if diff := cmp.Diff(want, get()); diff != "" {
		t.Errorf("record after a put past the window (-want +got):\n%s", diff)
	}

	n, err := e.PruneIdempotency(e.ctx, e.clock.Now().Add(-time.Hour))
	if err != nil || n != 1 {
		t.Errorf("PruneIdempotency = %d, %v; want 1 (the old key)", n, err)
	}
	_, err = e.GetIdempotency(e.ctx, "103", "old")
	wantCode(t, err, callout.ECodeNotFound)
	get()
}

func testPricing(t *testing.T, open opener) {
	e := newEnv(t, open)
	wantCode(t, e.SavePricing(e.ctx, "103", "j1", &callout.Pricing{Cost: "1"}, nil), callout.ECodeNotFound)
	e.jobWithCustomer(t, "103", "j1")
	wantCode(t, e.SavePricing(e.ctx, "103", "nope", &callout.Pricing{Cost: "1"}, nil), callout.ECodeNotFound)

	p := &callout.Pricing{
		Cost:     "1234.560",
		Messages: []string{"Includes freight"},
		Breakdown: []callout.BreakdownNode{
			{Name: "Subtotal", Cost: "123.45", Items: []callout.BreakdownNode{}},
			{Name: "Discounts", Collapse: true, Items: []callout.BreakdownNode{
				{Name: "Free freight", Cost: "-1E2", Items: []callout.BreakdownNode{}},
				{Name: "10% coupon", Cost: "-12.340", Items: []callout.BreakdownNode{}},
			}},
		},
		Source:   callout.PricingWebhook,
		PricedAt: start,
		Revision: 1,
	}
	e.clock.Add(time.Second)
	if err := e.SavePricing(e.ctx, "103", "j1", p, delivery("103", "d1", start)); err != nil {
		t.Fatalf("SavePricing: %v", err)
	}
	j := e.getJob(t, "103", "j1")
	want := *p
	want.PricedAt = utc(start)
	if diff := cmp.Diff(&want, j.Pricing); diff != "" {
		t.Errorf("pricing (-want +got):\n%s", diff)
	}
	if j.Revision != 1 {
		t.Errorf("revision after SavePricing = %d, want 1", j.Revision)
	}
	if _, err := e.GetDelivery(e.ctx, "103", "d1"); err != nil {
		t.Errorf("GetDelivery of the pricing's delivery: %v", err)
	}
	body, err := j.Pricing.Cost.Float64()
	if err != nil || body != 1234.56 {
		t.Errorf("cost %q parses to %v, %v", j.Pricing.Cost, body, err)
	}

	if err := e.SavePricing(e.ctx, "103", "j1", nil, nil); err != nil {
		t.Fatalf("SavePricing(nil): %v", err)
	}
	if j := e.getJob(t, "103", "j1"); j.Pricing != nil {
		t.Errorf("pricing after SavePricing(nil) = %+v, want nil", j.Pricing)
	}
}

// testPricingInputs checks that the one read pricing makes returns what
// GetJob, GetCustomer and GetWebhook return, and nil for what is missing.
func testPricingInputs(t *testing.T, open opener) {
	e := newEnv(t, open)
	_, _, _, err := e.GetPricingInputs(e.ctx, "103", "j1", callout.KindPricing)
	wantCode(t, err, callout.ECodeNotFound)
	e.jobWithCustomer(t, "103", "j1")

	job, customer, wh, err := e.GetPricingInputs(e.ctx, "103", "j1", callout.KindPricing)
	if err != nil {
		t.Fatalf("GetPricingInputs without a webhook: %v", err)
	}
	if wh != nil {
		t.Errorf("webhook = %+v, want nil when there is none", wh)
	}
	if diff := cmp.Diff(e.getJob(t, "103", "j1"), job); diff != "" {
		t.Errorf("job (-GetJob +GetPricingInputs):\n%s", diff)
	}
	wantCustomer, err := e.GetCustomer(e.ctx, "103", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantCustomer, customer); diff != "" {
		t.Errorf("customer (-GetCustomer +GetPricingInputs):\n%s", diff)
	}

	// Only the webhook of the kind asked for is returned.
	if err := e.PutWebhook(e.ctx, fullWebhook("103", callout.KindSubmission)); err != nil {
		t.Fatal(err)
	}
	if _, _, wh, err := e.GetPricingInputs(e.ctx, "103", "j1", callout.KindPricing); err != nil || wh != nil {
		t.Errorf("with only a submission webhook: webhook %+v, error %v; want nil, nil", wh, err)
	}
	e.clock.Add(time.Second)
	if err := e.PutWebhook(e.ctx, fullWebhook("103", callout.KindPricing)); err != nil {
		t.Fatal(err)
	}
	_, _, wh, err = e.GetPricingInputs(e.ctx, "103", "j1", callout.KindPricing)
	if err != nil {
		t.Fatalf("GetPricingInputs with a webhook: %v", err)
	}
	wantWebhook, err := e.GetWebhook(e.ctx, "103", callout.KindPricing)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantWebhook, wh); diff != "" {
		t.Errorf("webhook (-GetWebhook +GetPricingInputs):\n%s", diff)
	}
	if wh.Auth.BearerToken == "" || wh.Auth.Auth0.ClientSecret == "" || wh.SigningSecret == "" {
		t.Error("the webhook's secrets are not opened")
	}

	// Another manufacturer's job is not found.
	e.manufacturer(t, "104")
	_, _, _, err = e.GetPricingInputs(e.ctx, "104", "j1", callout.KindPricing)
	wantCode(t, err, callout.ECodeNotFound)
}

// testPutJobWhileClaimed checks that a job's documents cannot change under a
// live submission claim, since the manufacturer receives the documents the
// claim returned, and that a claim whose process died blocks nothing.
func testPutJobWhileClaimed(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.jobWithCustomer(t, "103", "j1")
	replace := func(doc string) (*callout.Job, error) {
		j := &callout.Job{ManufacturerID: "103", ID: "j1", CustomerID: "c1", Document: json.RawMessage(doc)}
		return j, e.PutJob(e.ctx, j, nil)
	}
	claimed, err := e.ClaimSubmission(e.ctx, "103", "j1", "a", start.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("live claim refuses", func(t *testing.T) {
		e.clock.Add(time.Minute - time.Microsecond)
		err := e.PutJob(e.ctx, &callout.Job{ManufacturerID: "103", ID: "j1", CustomerID: "c1", Document: json.RawMessage(`{"v":2}`)},
			&callout.Customer{ManufacturerID: "103", ID: "c1", Document: json.RawMessage(`{"changed":true}`)})
		wantCode(t, err, callout.ECodeSubmitInProgress)
		if diff := cmp.Diff(claimed, e.getJob(t, "103", "j1"), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("job changed by a refused PutJob (-claimed +after):\n%s", diff)
		}
		c, err := e.GetCustomer(e.ctx, "103", "c1")
		if err != nil {
			t.Fatal(err)
		}
		if string(c.Document) != `{"id": "c1"}` {
			t.Errorf("inline customer of a refused PutJob was stored: %s", c.Document)
		}
	})

	t.Run("expired claim does not block", func(t *testing.T) {
		e.clock.Add(time.Microsecond)
		j, err := replace(`{"v":2}`)
		if err != nil {
			t.Fatalf("PutJob after the claim expired: %v", err)
		}
		if j.Revision != 2 || string(e.getJob(t, "103", "j1").Document) != `{"v":2}` {
			t.Errorf("job after PutJob: revision %d, want 2 with the new document", j.Revision)
		}
	})

	t.Run("the expired claim cannot freeze documents it did not send", func(t *testing.T) {
		err := e.FinishSubmission(e.ctx, &callout.SubmissionResult{ManufacturerID: "103", JobID: "j1", ClaimID: "a",
			Accepted: true, Response: callout.Response{Status: 200, Body: []byte(`{}`)}})
		if !errors.Is(err, ErrClaimLost) {
			t.Fatalf("FinishSubmission of a claim on replaced documents: error %v, want ErrClaimLost", err)
		}
		if got := e.getJob(t, "103", "j1"); got.Status != callout.JobProcessing || got.Revision != 2 {
			t.Errorf("job after the refused finish: %s at revision %d, want processing at 2", got.Status, got.Revision)
		}
	})

	t.Run("a rejection releases the claim", func(t *testing.T) {
		if _, err := e.ClaimSubmission(e.ctx, "103", "j1", "b", e.clock.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		finish(t, e.Store, &callout.SubmissionResult{ManufacturerID: "103", JobID: "j1", ClaimID: "b",
			Response: callout.Response{Status: 422, Body: []byte(`{}`)}})
		if j, err := replace(`{"v":3}`); err != nil || j.Revision != 3 {
			t.Fatalf("PutJob after a rejection: revision %d, error %v; want 3, nil", j.Revision, err)
		}
	})

	t.Run("submitted job refused", func(t *testing.T) {
		if _, err := e.ClaimSubmission(e.ctx, "103", "j1", "c", e.clock.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		finish(t, e.Store, &callout.SubmissionResult{ManufacturerID: "103", JobID: "j1", ClaimID: "c", Accepted: true})
		_, err := replace(`{"v":4}`)
		wantCode(t, err, callout.ECodeJobSubmitted)
	})
}

// testPutJobClaimedElsewhere checks that a claim taken by one process holds
// off a PutJob of another, and that when both race, the job a claim freezes
// as submitted has the documents that claim returned: the PutJob either lands
// before the claim (which then returns the new documents) or is refused.
func testPutJobClaimedElsewhere(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.jobWithCustomer(t, "103", "j1")
	other := e.another(t)
	if _, err := e.ClaimSubmission(e.ctx, "103", "j1", "a", start.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	err := other.PutJob(e.ctx, &callout.Job{ManufacturerID: "103", ID: "j1", CustomerID: "c1", Document: json.RawMessage(`{"v":2}`)}, nil)
	wantCode(t, err, callout.ECodeSubmitInProgress)
	if got := e.getJob(t, "103", "j1"); got.Revision != 1 {
		t.Errorf("revision after a refused PutJob = %d, want 1", got.Revision)
	}

	const rounds = 20
	for i := range rounds {
		id := fmt.Sprintf("race%d", i)
		e.job(t, "103", id, "c1")
		var (
			wg            sync.WaitGroup
			claimed       *callout.Job
			claimErr, put error
			ready         = make(chan struct{})
		)
		wg.Go(func() {
			<-ready
			claimed, claimErr = e.ClaimSubmission(e.ctx, "103", id, "claim", start.Add(time.Minute))
		})
		wg.Go(func() {
			<-ready
			put = other.PutJob(e.ctx, &callout.Job{ManufacturerID: "103", ID: id, CustomerID: "c1", Document: json.RawMessage(`{"v":2}`)}, nil)
		})
		close(ready)
		wg.Wait()
		if claimErr != nil {
			t.Fatalf("round %d: ClaimSubmission: %v", i, claimErr)
		}
		if put != nil {
			wantCode(t, put, callout.ECodeSubmitInProgress)
		}
		finish(t, e.Store, &callout.SubmissionResult{ManufacturerID: "103", JobID: id, ClaimID: "claim", Accepted: true})
		got := e.getJob(t, "103", id)
		if got.Revision != claimed.Revision || !bytes.Equal(got.Document, claimed.Document) {
			t.Errorf("round %d: submitted at revision %d with %s; the claim sent revision %d with %s (PutJob: %v)",
				i, got.Revision, got.Document, claimed.Revision, claimed.Document, put)
		}
	}
}

// testPricingOfReplacedDocuments checks that a price of documents the job no
// longer has, one whose callout was in flight when they were replaced, is not
// saved as the job's pricing (its delivery is kept), and never replaces the
// pricing of newer documents.
func testPricingOfReplacedDocuments(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.jobWithCustomer(t, "103", "j1")
	priced := func(cost json.Number, revision int64) *callout.Pricing {
		return &callout.Pricing{Cost: cost, Messages: []string{}, Breakdown: []callout.BreakdownNode{},
			Source: callout.PricingWebhook, PricedAt: utc(e.clock.Now()), Revision: revision}
	}
	current := priced("1", 1)
	if err := e.SavePricing(e.ctx, "103", "j1", current, nil); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Second)
	inFlight := priced("2", 1) // its callout started before the PutJob
	e.job(t, "103", "j1", "c1")

	e.clock.Add(time.Second)
	if err := e.SavePricing(e.ctx, "103", "j1", inFlight, delivery("103", "d1", start)); err != nil {
		t.Fatalf("SavePricing of revision 1 after revision 2 was stored: %v", err)
	}
	if diff := cmp.Diff(current, e.getJob(t, "103", "j1").Pricing); diff != "" {
		t.Errorf("pricing after a price of replaced documents (-kept +got):\n%s", diff)
	}
	if _, err := e.GetDelivery(e.ctx, "103", "d1"); err != nil {
		t.Errorf("GetDelivery of the unsaved price's callout: %v", err)
	}

	newer := priced("3", 2)
	if err := e.SavePricing(e.ctx, "103", "j1", newer, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.SavePricing(e.ctx, "103", "j1", inFlight, nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(newer, e.getJob(t, "103", "j1").Pricing); diff != "" {
		t.Errorf("pricing of revision 2 after a late price of revision 1 (-want +got):\n%s", diff)
	}
}
