// Package dispatch makes one callout for a job: it builds the payload from the
// stored documents, calls the manufacturer's webhook through the outbound
// client and writes up the result and its delivery record in the domain's
// words. Submission, pricing and the webhook test share it.
package dispatch

import (
	"context"

	"github.com/callout/callout"
	"github.com/callout/callout/payload"
	"github.com/callout/callout/webhook"
)

// Dispatcher prepares and makes callouts.
type Dispatcher struct {
	client     *webhook.Client
	newID      func() string
	maxPayload int64
}

// New returns a Dispatcher that calls through client, names deliveries with
// newID and refuses payloads over maxPayload bytes (0 for the default).
func New(client *webhook.Client, newID func() string, maxPayload int64) *Dispatcher {
	if maxPayload <= 0 {
		maxPayload = callout.DefaultMaxPayloadBytes
	}
	return &Dispatcher{client: client, newID: newID, maxPayload: maxPayload}
}

// Call builds the payload and makes the callout. The result's delivery
// records the callout and must be stored by the caller. The error is for a
// payload that cannot be built; then no callout is made.
func (d *Dispatcher) Call(ctx context.Context, c callout.Call) (*callout.Result, error) {
	body, err := payload.Build(c.Webhook.ExportFormat, c.Job.Export, c.Job.Document, c.Customer)
	if err != nil {
		return nil, &callout.Error{Code: callout.ECodeInvalid, Message: "the job's export cannot be rendered as " + string(c.Webhook.ExportFormat), Err: err}
	}
	if body.Len() > d.maxPayload {
		return nil, callout.Errorf(callout.ECodeTooLarge, "the job's payload is %d bytes, over the %d-byte limit for webhooks", body.Len(), d.maxPayload)
	}
	delivery := &callout.Delivery{
		ID:             d.newID(),
		ManufacturerID: c.Webhook.ManufacturerID,
		Kind:           c.Webhook.Kind,
		JobID:          c.Job.ID,
		RequestID:      c.RequestID,
		Test:           c.Test,
		URL:            c.Webhook.URL,
	}
	r := d.client.Call(ctx, &webhook.Request{
		Webhook:        c.Webhook,
		Body:           body,
		DeliveryID:     delivery.ID,
		RequestID:      c.RequestID,
		IdempotencyKey: c.IdempotencyKey,
	})
	r.Fill(delivery)
	a := r.Answer
	return &callout.Result{
		Outcome:    r.Outcome,
		HTTPStatus: r.HTTPStatus,
		Attempts:   r.Attempts,
		Errors:     a.Errors,
		Messages:   a.Messages,
		ExternalID: a.ExternalID,
		Cost:       a.Cost,
		Breakdown:  a.Breakdown,
		Warnings:   r.Warnings,
		Detail:     r.Detail,
		RetryAfter: r.RetryAfter,
		Delivery:   delivery,
	}, nil
}
