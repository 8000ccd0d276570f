// Package probe tests a manufacturer's webhook: one real callout with the
// sample job, or with a stored job, that saves nothing on any job. The
// callout's delivery is recorded, marked test, so the administrator finds it
// among the others.
package probe

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/callout/callout"
	"github.com/callout/callout/payload"
)

// Store is what a probe reads and writes.
type Store interface {
	GetWebhook(ctx context.Context, manufacturerID string, kind callout.Kind) (*callout.Webhook, error)
	GetJob(ctx context.Context, manufacturerID, jobID string) (*callout.Job, error)
	GetCustomer(ctx context.Context, manufacturerID, customerID string) (*callout.Customer, error)
	InsertDelivery(ctx context.Context, d *callout.Delivery) error
}

// Caller makes callouts; *dispatch.Dispatcher is one.
type Caller interface {
	Call(ctx context.Context, c callout.Call) (*callout.Result, error)
}

// Service tests webhooks.
type Service struct {
	store  Store
	caller Caller
	newID  func() string
}

// New returns a Service that names each test's outbound Idempotency-Key with
// newID, so that a manufacturer never takes a test for a repeat.
func New(store Store, caller Caller, newID func() string) *Service {
	return &Service{store: store, caller: caller, newID: newID}
}

// Request is one test.
type Request struct {
	ManufacturerID string
	Kind           callout.Kind
	// JobID names a stored job to send; "" sends the sample job.
	JobID     string
	RequestID string
}

// Report is how a test callout went: its interpreted outcome, HTTP status
// and timing, and what the manufacturer said.
type Report struct {
	DeliveryID string                  `json:"delivery_id,omitempty"` // none when the breaker refused the callout
	Outcome    callout.Outcome         `json:"outcome"`
	HTTPStatus int                     `json:"http_status"`
	DurationMS float64                 `json:"duration_ms"`
	Attempts   int                     `json:"attempts"`
	Errors     []string                `json:"errors"`
	Messages   []string                `json:"messages"`
	ExternalID *string                 `json:"external_id,omitempty"`
	Cost       json.Number             `json:"cost,omitempty"`
	Breakdown  []callout.BreakdownNode `json:"breakdown,omitempty"`
	Warnings   []string                `json:"warnings"`
	Detail     string                  `json:"detail,omitempty"`
}

// Test makes one real callout of the webhook r names and reports how it
// went. The error is for a test that made no callout: no such webhook or
// job, or a payload that cannot be built.
func (s *Service) Test(ctx context.Context, r Request) (*Report, error) {
	w, err := s.store.GetWebhook(ctx, r.ManufacturerID, r.Kind)
	if err != nil {
		return nil, fmt.Errorf("testing the %s webhook: %w", r.Kind, err)
	}
	job, customer, err := s.job(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("testing the %s webhook: %w", r.Kind, err)
	}
	res, err := s.caller.Call(ctx, callout.Call{
		Webhook:        w,
		Job:            job,
		Customer:       customer,
		RequestID:      r.RequestID,
		IdempotencyKey: "callout-test-" + s.newID(),
		Test:           true,
	})
	if err != nil {
		return nil, fmt.Errorf("testing the %s webhook: %w", r.Kind, err)
	}
	d := res.Delivery
	out := &Report{
		Outcome:    res.Outcome,
		HTTPStatus: res.HTTPStatus,
		DurationMS: d.DurationMS,
		Attempts:   res.Attempts,
		Errors:     nonNil(callout.CustomerErrors(res.Outcome, res.Errors, w.GenericErrorMessage)),
		Messages:   nonNil(res.Messages),
		Cost:       res.Cost,
		Breakdown:  res.Breakdown,
		Warnings:   nonNil(res.Warnings),
		Detail:     res.Detail,
	}
	if d.Kept() {
		if err := s.store.InsertDelivery(ctx, d); err != nil {
			return nil, fmt.Errorf("testing the %s webhook: recording the delivery: %w", r.Kind, err)
		}
		out.DeliveryID = d.ID
	}
	if res.ExternalID != "" {
		out.ExternalID = &res.ExternalID
	}
	return out, nil
}

// job returns the stored job and customer document r names, or the sample.
func (s *Service) job(ctx context.Context, r Request) (*callout.Job, json.RawMessage, error) {
	if r.JobID == "" {
		export, doc, customer := payload.Sample()
		return &callout.Job{ManufacturerID: r.ManufacturerID, Document: doc, Export: export}, customer, nil
	}
	if err := callout.CheckID("job_id", r.JobID); err != nil {
		return nil, nil, err
	}
	job, err := s.store.GetJob(ctx, r.ManufacturerID, r.JobID)
	if err != nil {
		return nil, nil, err
	}
	customer, err := s.store.GetCustomer(ctx, r.ManufacturerID, job.CustomerID)
	if err != nil {
		return nil, nil, err
	}
	return job, customer.Document, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
