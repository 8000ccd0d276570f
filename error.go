package callout

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Error codes. Each is stable and machine-readable; the gateway maps each to an
// HTTP status in one place.
const (
	ECodeInvalid           = "validation_failed"      // 422: a field is wrong
	ECodeBadRequest        = "bad_request"            // 400: the body is not JSON of the expected shape
	ECodeUnauthorized      = "unauthorized"           // 401: no or bad token
	ECodeForbidden         = "forbidden"              // 403: the token's role may not do this
	ECodeNotFound          = "not_found"              // 404
	ECodeMethodNotAllowed  = "method_not_allowed"     // 405
	ECodeTooLarge          = "payload_too_large"      // 413
	ECodeRequestTimeout    = "request_timeout"        // 408: the body arrived too slowly
	ECodeJobSubmitted      = "job_submitted"          // 409: the documents of a submitted job cannot change
	ECodeAlreadySubmitted  = "job_already_submitted"  // 409: submit on a submitted job
	ECodeSubmitInProgress  = "submission_in_progress" // 409: another process holds the job's claim
	ECodeIdempotencyReused = "idempotency_key_reused" // 422
	ECodeInternal          = "internal"               // 500
	ECodeUnavailable       = "unavailable"            // 503: shutting down, database unreachable
)

// Error is the one error type of Callout. Code is stable and machine-readable,
// Message is safe to show to the caller, Errors are the messages a customer
// should see, Fields carries one message per bad field for validation errors,
// and Err is the internal cause, which is logged but never shown.
type Error struct {
	Code       string
	Message    string
	Errors     []string
	Fields     []FieldError
	RetryAfter time.Duration
	// Extra holds further members of the problem document, such as the job of
	// job_already_submitted or the previous pricing of a failed price.
	Extra map[string]any
	Err   error
}

// FieldError is one bad field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error returns the code and message, and the cause when there is one. It is for
// logs; callers are shown Message only.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a public message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a validation_failed error carrying one message per field.
func Invalid(fields ...FieldError) *Error {
	return &Error{Code: ECodeInvalid, Message: "the request has invalid fields", Fields: fields}
}

// NotFound returns a not_found error for the named thing, such as "job 338167".
func NotFound(what string) *Error {
	return Errorf(ECodeNotFound, "%s not found", what)
}

// ErrorCode returns the code of the first *Error in err's chain, ECodeInternal
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ECodeInternal
}

// ErrorMessage returns the public message of the first *Error in err's chain,
// and a generic message for any other error so that internal detail never
// reaches a caller.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return "An internal error occurred."
}

// FieldErrors collects per-field validation messages.
type FieldErrors []FieldError

// Add records a message for field.
func (fe *FieldErrors) Add(field, format string, args ...any) {
	*fe = append(*fe, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns a validation_failed error with the collected fields, or nil when
// there are none.
func (fe FieldErrors) Err() error {
	if len(fe) == 0 {
		return nil
	}
	return Invalid(fe...)
}
