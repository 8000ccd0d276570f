package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/callout/callout"
)

// problemTypePrefix makes a problem's type URI from its code.
const problemTypePrefix = "urn:callout:problem:"

// statusOf maps an error code to the HTTP status Callout answers with. It is
// the one place where codes meet statuses.
func statusOf(code string) int {
	switch callout.Outcome(code) {
	case callout.OutcomeAccepted:
		return http.StatusOK
	case callout.OutcomeRejected:
		return http.StatusUnprocessableEntity
	case callout.OutcomeTimeout:
		return http.StatusGatewayTimeout
	case callout.OutcomeCircuitOpen:
		return http.StatusServiceUnavailable
	}
	if callout.Outcome(code).Valid() {
		return http.StatusBadGateway
	}
	switch code {
	case callout.ECodeInvalid, callout.ECodeIdempotencyReused:
		return http.StatusUnprocessableEntity
	case callout.ECodeBadRequest:
		return http.StatusBadRequest
	case callout.ECodeUnauthorized:
		return http.StatusUnauthorized
	case callout.ECodeForbidden:
		return http.StatusForbidden
	case callout.ECodeNotFound:
		return http.StatusNotFound
	case callout.ECodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case callout.ECodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case callout.ECodeRequestTimeout:
		return http.StatusRequestTimeout
	case callout.ECodeJobSubmitted, callout.ECodeAlreadySubmitted, callout.ECodeSubmitInProgress:
		return http.StatusConflict
	case callout.ECodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// problem is an RFC 9457 problem document with Callout's members.
type problem struct {
	Type   string
	Title  string
	Status int
	Detail string
	Code   string
	Errors []string
	Fields []callout.FieldError
	Extra  map[string]any
	// RetryAfter is the Retry-After header's value in seconds; 0 for none.
	RetryAfter int
}

// newProblem describes err for a caller. Only public messages are used: an
// error that is not a *callout.Error becomes a generic internal problem.
func newProblem(err error) *problem {
	var e *callout.Error
	if !errors.As(err, &e) {
		e = &callout.Error{Code: callout.ECodeInternal}
	}
	status := statusOf(e.Code)
	p := &problem{
		Type:   problemTypePrefix + e.Code,
		Title:  http.StatusText(status),
		Status: status,
		Detail: callout.ErrorMessage(e),
		Code:   e.Code,
		Errors: e.Errors,
		Fields: e.Fields,
		Extra:  e.Extra,
	}
	p.RetryAfter = retryAfterSeconds(e.RetryAfter)
	if len(p.Fields) > 0 && len(p.Errors) == 0 {
		for _, f := range p.Fields {
			p.Errors = append(p.Errors, f.Field+": "+f.Message)
		}
	}
	return p
}

// MarshalJSON writes the members in a fixed order, Extra's sorted by name, so
// that one problem always has one encoding (replays are byte for byte).
func (p *problem) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	member := func(name string, v any) error {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(name))
		b.WriteByte(':')
		data, err := callout.MarshalJSON(v)
		b.Write(data)
		return err
	}
	fixed := []struct {
		name string
		v    any
		skip bool
	}{
		{"type", p.Type, false},
		{"title", p.Title, false},
		{"status", p.Status, false},
		{"detail", p.Detail, false},
		{"code", p.Code, false},
		{"errors", p.Errors, p.Errors == nil},
		{"fields", p.Fields, p.Fields == nil},
		{"retry_after", p.RetryAfter, p.RetryAfter == 0},
	}
	for _, m := range fixed {
		if m.skip {
			continue
		}
		if err := member(m.name, m.v); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(p.Extra))
	for name := range p.Extra {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := member(name, p.Extra[name]); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// retryAfterSeconds is the Retry-After header's value for d: whole seconds,
// rounded up so that a caller never comes back too early; 0 for none.
func retryAfterSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// problemResponse renders err as the problem document a caller is answered
// with.
func problemResponse(err error) (p *problem, body []byte) {
	p = newProblem(err)
	body, merr := p.MarshalJSON()
	if merr != nil {
		p = newProblem(fmt.Errorf("writing a problem: %w", merr))
		body, _ = p.MarshalJSON()
	}
	return p, body
}
