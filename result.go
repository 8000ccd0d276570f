package callout

import (
	"encoding/json"
	"fmt"
	"time"
)

// Call is one callout to make: a job's documents to one webhook.
type Call struct {
	Webhook  *Webhook
	Job      *Job            // with its documents; the sample's for a test
	Customer json.RawMessage // the customer document as stored
	// RequestID is the platform's request id, carried to the manufacturer.
	RequestID string
	// IdempotencyKey is the same on every attempt of one job's submission.
	IdempotencyKey string
	// Test marks a callout made from the webhook test route.
	Test bool
}

// Result is how one callout went, in the domain's words: the outcome, what
// the manufacturer said, normalised, and the record of the callout. It never
// holds a secret.
type Result struct {
	Outcome Outcome
	// HTTPStatus is the status of the last answer; 0 when none came.
	HTTPStatus int
	// Attempts counts the requests made, retries included.
	Attempts int
	// Errors are the manufacturer's normalised errors: what a customer sees
	// of a rejection.
	Errors []string
	// Messages are the manufacturer's normalised messages.
	Messages []string
	// ExternalID is an accepted submission's id; "" for none.
	ExternalID string
	// Cost is an accepted pricing's cost, exactly as written.
	Cost json.Number
	// Breakdown is an accepted pricing's normalised tree.
	Breakdown []BreakdownNode
	// Warnings note leniency, dropped parts and retries.
	Warnings []string
	// Detail tells an administrator why the callout failed.
	Detail string
	// RetryAfter is, for circuit_open, the time until the breaker lets a
	// trial callout through.
	RetryAfter time.Duration
	// Delivery records the callout. The caller stores it when it is Kept,
	// with the job's new state where there is one.
	Delivery *Delivery
}

// Failure is the error a caller is answered with when a callout of w did not
// end accepted: the manufacturer's messages for a rejection (or the webhook's
// generic message), Callout's own message otherwise. what names the callout
// for people: "pricing" or "submission".
func (r *Result) Failure(w *Webhook, what string) *Error {
	e := &Error{
		Code:    string(r.Outcome),
		Message: failureMessage(r.Outcome, what),
		Errors:  CustomerErrors(r.Outcome, r.Errors, w.GenericErrorMessage),
	}
	if r.Outcome == OutcomeCircuitOpen {
		e.RetryAfter = max(r.RetryAfter, time.Second)
	}
	return e
}

func failureMessage(o Outcome, what string) string {
	switch o {
	case OutcomeRejected:
		return fmt.Sprintf("The manufacturer declined the %s.", what)
	case OutcomeCircuitOpen:
		return fmt.Sprintf("The manufacturer's %s webhook is failing; Callout is not calling it for a while.", what)
	case OutcomeTimeout:
		return fmt.Sprintf("The manufacturer's %s webhook did not answer in time.", what)
	}
	return fmt.Sprintf("The manufacturer's %s webhook failed (%s).", what, o)
}
