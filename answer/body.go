package answer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The warnings Read notes when it had to be lenient with a body.
const (
	warnBOM            = "the answer starts with a UTF-8 byte order mark"
	warnTrailingCommas = "the answer has trailing commas"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// decodeBody reads body as one JSON value, leniently: a leading UTF-8 BOM and
// trailing commas before ] or } are accepted and noted in warnings, and an
// empty or whitespace-only body counts as {}. On failure it returns an error
// whose text says why the body is not JSON, for an administrator; offsets in
// it count bytes of body as received.
func decodeBody(body []byte) (v json.RawMessage, warnings []string, err error) {
	shift := 0
	if bytes.HasPrefix(body, utf8BOM) {
		body = body[len(utf8BOM):]
		shift = len(utf8BOM)
		warnings = append(warnings, warnBOM)
	}
	if len(bytes.TrimLeft(body, " \t\r\n")) == 0 {
		return json.RawMessage("{}"), warnings, nil
	}
	v, err = decodeValue(body)
	if err == nil {
		return v, warnings, nil
	}
	// Valid JSON never gets here, so the copy below is paid only by the
	// lenient path. The rewrite replaces each trailing comma by a space, so
	// byte offsets in a remaining error still point into the body as sent.
	if fixed, changed := blankTrailingCommas(body); changed {
		v, err = decodeValue(fixed)
		if err == nil {
			return v, append(warnings, warnTrailingCommas), nil
		}
	}
	return nil, warnings, describeSyntax(err, shift)
}

// trailingDataError reports data after the one JSON value of a body.
type trailingDataError struct{ offset int64 }

func (e *trailingDataError) Error() string { return "unexpected data after the JSON value" }

// decodeValue decodes exactly one JSON value from b, with nothing but
// whitespace after it.
func decodeValue(b []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	// Numbers are never converted to floats anywhere in this package; UseNumber
	// makes sure of it should a decode into an interface ever be added.
	dec.UseNumber()
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	off := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		for off < int64(len(b)) && isSpace(b[off]) {
			off++
		}
		return nil, &trailingDataError{offset: off}
	}
	return v, nil
}

// describeSyntax turns a decoding error into a sentence for an administrator,
// naming the offending byte by its position (from 1) in the body as sent.
func describeSyntax(err error, shift int) error {
	var syn *json.SyntaxError
	var trail *trailingDataError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("the answer is not JSON: %s (at byte %d)", syn.Error(), syn.Offset+int64(shift))
	case errors.As(err, &trail):
		// +1: like SyntaxError.Offset, count the offending byte itself.
		return fmt.Errorf("the answer is not JSON: %s (at byte %d)", trail.Error(), trail.offset+1+int64(shift))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("the answer is not JSON: it ends before the JSON value is complete")
	}
	return fmt.Errorf("the answer is not JSON: %w", err)
}

// blankTrailingCommas returns a copy of b in which every comma that follows a
// value and precedes (after optional whitespace) a ] or } outside strings is
// replaced by a space, and whether there was any. Commas after [, {, : or
// another comma are left alone, so [,] and [1,,] stay invalid.
func blankTrailingCommas(b []byte) ([]byte, bool) {
	var out []byte
	inString, escaped := false, false
	var last byte // the last significant byte outside strings; '"' ends a string
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
				last = '"'
			}
			continue
		}
		switch {
		case c == '"':
			inString = true
		case isSpace(c):
		case c == ',' && last != 0 && last != '[' && last != '{' && last != ',' && last != ':' && closesNext(b[i+1:]):
			if out == nil {
				out = bytes.Clone(b)
			}
			out[i] = ' '
			// last stays the value before the comma: the comma is gone.
		default:
			last = c
		}
	}
	return out, out != nil
}

// closesNext reports whether the first non-whitespace byte of b is ] or }.
func closesNext(b []byte) bool {
	for _, c := range b {
		if !isSpace(c) {
			return c == ']' || c == '}'
		}
	}
	return false
}

// isSpace reports whether c is JSON whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// kindOf names the JSON type of a raw value, for messages.
func kindOf(raw json.RawMessage) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '{':
		return "a JSON object"
	case '[':
		return "a JSON array"
	case '"':
		return "a JSON string"
	case 't', 'f':
		return "a JSON boolean"
	case 'n':
		return "null"
	}
	return "a JSON number"
}
