package callout

// Outcome is how one callout ended. Every callout ends in exactly one outcome.
type Outcome string

// The outcomes of a callout (docs/manufacturers.md, "How the answer is read"). Transport outcomes are decided before
// the answer is read.
const (
	OutcomeAccepted           Outcome = "accepted"
	OutcomeRejected           Outcome = "rejected"
	OutcomeWebhookError       Outcome = "webhook_error"
	OutcomeBadResponse        Outcome = "bad_response"
	OutcomeAuthFailed         Outcome = "auth_failed"
	OutcomeTimeout            Outcome = "webhook_timeout"
	OutcomeUnreachable        Outcome = "webhook_unreachable"
	OutcomeDestinationBlocked Outcome = "destination_blocked"
	OutcomeCircuitOpen        Outcome = "circuit_open"
)

// Outcomes lists every outcome, for validation of filters and for metrics.
var Outcomes = []Outcome{
	OutcomeAccepted, OutcomeRejected, OutcomeWebhookError, OutcomeBadResponse,
	OutcomeAuthFailed, OutcomeTimeout, OutcomeUnreachable, OutcomeDestinationBlocked,
	OutcomeCircuitOpen,
}

// statusTooManyRequests is HTTP 429, which counts as a breaker failure like a
// 5xx: the manufacturer asks to be left alone.
const statusTooManyRequests = 429

// Valid reports whether o is a known outcome.
func (o Outcome) Valid() bool {
	for _, k := range Outcomes {
		if o == k {
			return true
		}
	}
	return false
}

// BreakerFailure reports whether a callout that ended in o with the given HTTP
// status (0 when no answer came) counts as a failure for the circuit breaker:
// every timeout, unreachable, auth failure and bad response, and every answer
// with status 5xx or 429 whatever its body. A manufacturer's rejection with
// another status never counts.
func (o Outcome) BreakerFailure(status int) bool {
	switch o {
	case OutcomeTimeout, OutcomeUnreachable, OutcomeAuthFailed, OutcomeBadResponse:
		return true
	case OutcomeDestinationBlocked, OutcomeCircuitOpen:
		return false
	}
	return status >= 500 || status == statusTooManyRequests
}

// CustomerMessage is Callout's own message for a customer when a callout ended
// in o and the manufacturer gave no message of its own. It says what to do and
// never carries internal detail; the detail goes to the delivery record.
// For rejected it returns "": the manufacturer's errors, or the webhook's
// generic message, are shown instead.
func (o Outcome) CustomerMessage() string {
	switch o {
	case OutcomeTimeout:
		return "The manufacturer took too long to answer. Please try again in a few minutes."
	case OutcomeUnreachable, OutcomeCircuitOpen:
		return "The manufacturer's system could not be reached. Please try again in a few minutes."
	case OutcomeAuthFailed:
		return "The manufacturer's system refused the connection. Please try again later, and contact the manufacturer if this continues."
	case OutcomeDestinationBlocked:
		// Callout's own address policy refused it: the manufacturer's system
		// was never asked, and trying again will not help.
		return "This service does not allow connections to the address configured for the manufacturer's system. Please contact the manufacturer to correct it."
	case OutcomeWebhookError, OutcomeBadResponse:
		return "The manufacturer's system answered with an error. Please try again later, and contact the manufacturer if this continues."
	}
	return ""
}

// DefaultGenericErrorMessage is shown to the customer when a callout failed and
// no message of the manufacturer's remains.
const DefaultGenericErrorMessage = "Something went wrong"

// CustomerErrors returns what a customer is shown when a callout ended in o:
// for rejected, the manufacturer's messages, or generic when none remain; for
// the other failures, Callout's own message; nil for accepted.
func CustomerErrors(o Outcome, manufacturerErrors []string, generic string) []string {
	switch {
	case o == OutcomeAccepted:
		return nil
	case o != OutcomeRejected:
		return []string{o.CustomerMessage()}
	case len(manufacturerErrors) > 0:
		return manufacturerErrors
	case generic != "":
		return []string{generic}
	}
	return []string{DefaultGenericErrorMessage}
}
