// Package dispatch makes one callout for a job: it builds the payload from the
// stored documents, calls the manufacturer's webhook and writes up the
// delivery record. Submission, pricing and the webhook test route share it.
package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

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

// Call is one callout to make.
type Call struct {
	Webhook  *callout.Webhook
	Job      *callout.Job    // with its documents; the job of the sample for a test
	Customer json.RawMessage // the customer document as stored
	// RequestID is the platform's request id, carried to the manufacturer.
	RequestID string
	// IdempotencyKey is the same on every attempt of one job's submission.
	IdempotencyKey string
	// Test marks a callout made from the webhook test route.
	Test bool
}

// Do builds the payload and makes the callout. The delivery it returns records
// the callout and must be stored by the caller, with the job's new state where
// there is one. The error is for a payload that cannot be built; then no
// callout is made.
func (d *Dispatcher) Do(ctx context.Context, c Call) (*webhook.Result, *callout.Delivery, error) {
	body, err := payload.Build(c.Webhook.ExportFormat, c.Job.Export, c.Job.Document, c.Customer)
	if err != nil {
		return nil, nil, &callout.Error{Code: callout.ECodeInvalid, Message: "the job's export cannot be rendered as " + string(c.Webhook.ExportFormat), Err: err}
	}
	if body.Len() > d.maxPayload {
		return nil, nil, callout.Errorf(callout.ECodeTooLarge, "the job's payload is %d bytes, over the %d-byte limit for webhooks", body.Len(), d.maxPayload)
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
	result := d.client.Call(ctx, &webhook.Request{
		Webhook:        c.Webhook,
		Body:           body,
		DeliveryID:     delivery.ID,
		RequestID:      c.RequestID,
		IdempotencyKey: c.IdempotencyKey,
	})
	result.Fill(delivery)
	return result, delivery, nil
}

// Failure is the error a caller is answered with when a callout did not end
// accepted: the manufacturer's messages for a rejection (or the webhook's
// generic message), Callout's own message otherwise.
func Failure(w *callout.Webhook, r *webhook.Result, what string) *callout.Error {
	e := &callout.Error{
		Code:    string(r.Outcome),
		Message: failureMessage(r.Outcome, what),
		Errors:  callout.CustomerErrors(r.Outcome, r.Answer.Errors, w.GenericErrorMessage),
	}
	if r.Outcome == callout.OutcomeCircuitOpen {
		e.RetryAfter = max(r.RetryAfter, time.Second)
	}
	return e
}

func failureMessage(o callout.Outcome, what string) string {
	switch o {
	case callout.OutcomeRejected:
		return fmt.Sprintf("The manufacturer declined the %s.", what)
	case callout.OutcomeCircuitOpen:
		return fmt.Sprintf("The manufacturer's %s webhook is failing; Callout is not calling it for a while.", what)
	case callout.OutcomeTimeout:
		return fmt.Sprintf("The manufacturer's %s webhook did not answer in time.", what)
	}
	return fmt.Sprintf("The manufacturer's %s webhook failed (%s).", what, o)
}
