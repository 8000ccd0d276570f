// Package answer reads a manufacturer's answer to a callout: it decides the
// outcome from the HTTP status and body and normalises errors, messages, the
// external id, the cost and the breakdown tree (docs/manufacturers.md, "How the answer is read").
package answer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/callout/callout"
)

// Answer is a manufacturer's answer, interpreted.
type Answer struct {
	// Outcome is accepted, rejected, webhook_error, bad_response, or
	// auth_failed (status 401 or 403, whatever the body).
	Outcome callout.Outcome
	// Errors are the normalised "errors" of the answer (empty when none). They
	// are what a customer sees of a rejected answer; for other outcomes they
	// are kept for the delivery record only.
	Errors []string
	// Messages are the normalised "message" of the answer, whatever its
	// outcome; the caller shows and saves those of an accepted answer.
	Messages []string
	// ExternalID is the submission's "id" as text; "" when none, and always
	// "" unless the answer is an accepted submission.
	ExternalID string
	// Cost is the pricing "cost" exactly as written; "" when absent or
	// unusable, and always "" unless the answer is an accepted pricing.
	Cost json.Number
	// Breakdown is the normalised pricing tree; never nil for accepted
	// pricing, and always nil otherwise.
	Breakdown []callout.BreakdownNode
	// Warnings note leniency and dropped parts, for the delivery record.
	Warnings []string
	// Detail explains a bad_response, webhook_error or auth_failed to an
	// administrator. It never quotes the body, which may hold anything, nor
	// the status, which the caller has.
	Detail string
}

// object reads body as a JSON object, or says why it is not one. Members are
// looked up by their exact names, as PHP does; a repeated name keeps its last
// value, as PHP does too. A well-formed object, the common answer, is parsed
// once; anything else goes through the lenient reader, which notes its
// leniency in a.Warnings and explains a failure.
func (a *Answer) object(body []byte) (obj map[string]json.RawMessage, notObject string) {
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '{' {
		if json.Unmarshal(body, &obj) == nil {
			return obj, ""
		}
		obj = nil
	}
	raw, warnings, err := decodeBody(body)
	a.Warnings = warnings
	switch {
	case err != nil:
		return nil, err.Error()
	case bytes.HasPrefix(raw, []byte("{")):
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil, fmt.Sprintf("the answer could not be read: %v", err)
		}
		return obj, ""
	}
	return nil, "the answer is not a JSON object: " + kindOf(raw)
}

// Read interprets an answer with the given HTTP status and complete body
// (the caller enforces the size limit) for a webhook of the given kind.
// Transport problems are the caller's to decide before calling Read, which
// only ever returns one of the HTTP-level outcomes: accepted, rejected,
// webhook_error, bad_response and auth_failed.
//
// Read never panics, and its memory stays proportional to the body.
func Read(kind callout.Kind, status int, body []byte) Answer {
	var a Answer
	obj, notObject := a.object(body)
	if obj != nil {
		a.Errors = a.texts("errors", obj["errors"])
		a.Messages = a.texts("message", obj["message"])
	}

	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		a.Outcome = callout.OutcomeAuthFailed
		a.Detail = "the webhook refused Callout's credentials"
	case status != http.StatusOK:
		// Any "errors" member counts, even null or empty: the manufacturer
		// answered in the contract's shape, so the customer gets the
		// webhook's generic message rather than Callout's own.
		if _, ok := obj["errors"]; ok {
			a.Outcome = callout.OutcomeRejected
			return a
		}
		a.Outcome = callout.OutcomeWebhookError
		why := notObject
		switch {
		case isBlank(body):
			why = "the body is empty"
		case obj != nil:
			why = "it has no errors member"
		}
		a.Detail = "the body is not a JSON object with an errors member: " + why
	case obj == nil:
		a.Outcome = callout.OutcomeBadResponse
		a.Detail = notObject
	case hasFalsy(obj, "success"):
		a.Outcome = callout.OutcomeRejected
	case kind == callout.KindPricing:
		a.readPricing(obj)
	default:
		a.Outcome = callout.OutcomeAccepted
		if kind == callout.KindSubmission {
			id, warning := externalID(obj["id"])
			a.ExternalID = id
			a.warn(warning)
		}
	}
	return a
}

// readPricing decides a pricing answer of status 200 with a truthy or absent
// success: accepted with its cost and breakdown, or bad_response without a
// usable cost.
func (a *Answer) readPricing(obj map[string]json.RawMessage) {
	raw, ok := obj["cost"]
	if !ok {
		a.Outcome = callout.OutcomeBadResponse
		a.Detail = "the pricing answer has no usable cost: it has no cost member"
		return
	}
	cost, ok := ParseCost(raw)
	if !ok {
		a.Outcome = callout.OutcomeBadResponse
		a.Detail = "the pricing answer has no usable cost: " + unusableCost(raw)
		return
	}
	a.Outcome = callout.OutcomeAccepted
	a.Cost = cost
	nodes, warnings := breakdown(obj["breakdown"])
	a.Breakdown = nodes
	a.Warnings = append(a.Warnings, warnings...)
}

// texts normalises a member into messages and keeps the warnings.
func (a *Answer) texts(field string, raw json.RawMessage) []string {
	msgs, warnings := texts(field, raw)
	a.Warnings = append(a.Warnings, warnings...)
	return msgs
}

// warn notes w unless it is empty.
func (a *Answer) warn(w string) {
	if w != "" {
		a.Warnings = append(a.Warnings, w)
	}
}

// isBlank reports whether body holds nothing but a BOM and whitespace.
func isBlank(body []byte) bool {
	return len(bytes.TrimLeft(bytes.TrimPrefix(body, utf8BOM), " \t\r\n")) == 0
}

// hasFalsy reports whether obj has the member name with a falsy value.
func hasFalsy(obj map[string]json.RawMessage, name string) bool {
	v, ok := obj[name]
	return ok && !truthy(v)
}
