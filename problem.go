package callout

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
)

// problemTypePrefix makes a problem's type URI from its code.
const problemTypePrefix = "urn:callout:problem:"

// HTTPStatus maps an error code to the HTTP status Callout answers with. It is
// the one place where codes meet statuses.
func HTTPStatus(code string) int {
	switch code {
	case ECodeInvalid, ECodeIdempotencyReused:
		return http.StatusUnprocessableEntity
	case ECodeBadRequest:
		return http.StatusBadRequest
	case ECodeUnauthorized:
		return http.StatusUnauthorized
	case ECodeForbidden:
		return http.StatusForbidden
	case ECodeNotFound:
		return http.StatusNotFound
	case ECodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case ECodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case ECodeJobSubmitted, ECodeAlreadySubmitted, ECodeSubmitInProgress:
		return http.StatusConflict
	case ECodeUnavailable:
		return http.StatusServiceUnavailable
	}
	if o := Outcome(code); o.Valid() {
		return o.HTTPStatus()
	}
	return http.StatusInternalServerError
}

// Problem is an RFC 9457 problem document with Callout's members.
type Problem struct {
	Type   string
	Title  string
	Status int
	Detail string
	Code   string
	Errors []string
	Fields []FieldError
	Extra  map[string]any
	// RetryAfter is the Retry-After header's value in seconds; 0 for none.
	RetryAfter int
}

// NewProblem describes err for a caller. Only public messages are used: an
// error that is not an *Error becomes a generic internal problem.
func NewProblem(err error) *Problem {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: ECodeInternal}
	}
	status := HTTPStatus(e.Code)
	p := &Problem{
		Type:   problemTypePrefix + e.Code,
		Title:  http.StatusText(status),
		Status: status,
		Detail: ErrorMessage(e),
		Code:   e.Code,
		Errors: e.Errors,
		Fields: e.Fields,
		Extra:  e.Extra,
	}
	if e.RetryAfter > 0 {
		p.RetryAfter = int((e.RetryAfter + 999_999_999) / 1_000_000_000)
	}
	if len(p.Fields) > 0 && len(p.Errors) == 0 {
		for _, f := range p.Fields {
			p.Errors = append(p.Errors, f.Field+": "+f.Message)
		}
	}
	return p
}

// MarshalJSON writes the members in a fixed order, Extra's sorted by name, so
// that one problem always has one encoding (replays are byte for byte).
func (p *Problem) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	member := func(name string, v any) error {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(name))
		b.WriteByte(':')
		data, err := marshal(v)
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

// marshal encodes v as JSON without HTML escaping: customers' messages are
// shown as written.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// MarshalJSON encodes v as JSON without HTML escaping and without a trailing
// newline.
func MarshalJSON(v any) ([]byte, error) { return marshal(v) }
