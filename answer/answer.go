// Package answer reads a manufacturer's answer to a callout: it decides the
// outcome from the HTTP status and body and normalises errors, messages, the
// external id, the cost and the breakdown tree (SPEC §3).
package answer

import (
	"encoding/json"

	"github.com/callout/callout"
)

// Answer is a manufacturer's answer, interpreted.
type Answer struct {
	// Outcome is accepted, rejected, webhook_error, bad_response, or
	// auth_failed (status 401 or 403, whatever the body).
	Outcome callout.Outcome
	// Errors are the normalised "errors" of a failed answer (empty when none).
	Errors []string
	// Messages are the normalised "message" of an accepted answer.
	Messages []string
	// ExternalID is the submission's "id" as text; "" when none.
	ExternalID string
	// Cost is the pricing "cost" exactly as written; "" when absent or unusable.
	Cost json.Number
	// Breakdown is the normalised pricing tree; never nil for accepted pricing.
	Breakdown []callout.BreakdownNode
	// Warnings note leniency and dropped parts, for the delivery record.
	Warnings []string
	// Detail explains a bad_response or webhook_error to an administrator.
	Detail string
}

// Read interprets an answer with the given HTTP status and complete body
// (the caller enforces the size limit) for a webhook of the given kind.
func Read(kind callout.Kind, status int, body []byte) Answer {
	panic("not implemented")
}
