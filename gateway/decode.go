package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/callout/callout"
)

// readBody reads the whole request body, refusing one over the limit with 413.
func (s *Server) readBody(c echo.Context) ([]byte, error) {
	req := c.Request()
	if req.ContentLength > s.maxBody {
		return nil, s.tooLarge()
	}
	data, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, s.maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, s.tooLarge()
	case err != nil:
		return nil, &callout.Error{Code: callout.ECodeBadRequest, Message: "the request body could not be read", Err: err}
	}
	return data, nil
}

func (s *Server) tooLarge() error {
	return callout.Errorf(callout.ECodeTooLarge, "the request body is over the %d-byte limit", s.maxBody)
}

// decodeStrict reads the body into v, refusing unknown members with 422 and
// malformed JSON with 400. An empty body decodes as {} when emptyOK.
func (s *Server) decodeStrict(c echo.Context, v any, emptyOK bool) error {
	data, err := s.readBody(c)
	if err != nil {
		return err
	}
	if emptyOK && len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return callout.Errorf(callout.ECodeBadRequest, "the request body has data after its JSON value")
	}
	return nil
}

// jsonError explains a decoding error: which member was unknown or of the
// wrong type, or where the JSON broke.
func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return callout.Errorf(callout.ECodeBadRequest, "the request body must be a JSON %s", jsonKind(typeErr.Type.Kind().String()))
		}
		return callout.Invalid(callout.FieldError{Field: field, Message: fmt.Sprintf("must be %s, not a JSON %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return callout.Invalid(callout.FieldError{Field: field, Message: "is not a known field"})
	case errors.As(err, &syntaxErr):
		return callout.Errorf(callout.ECodeBadRequest, "the request body is not valid JSON: %s at byte %d", syntaxErr.Error(), syntaxErr.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return callout.Errorf(callout.ECodeBadRequest, "the request body is empty or cut short")
	}
	return &callout.Error{Code: callout.ECodeBadRequest, Message: "the request body is not valid JSON", Err: err}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "ptr":
		return "a value of the right type"
	}
	return "a number"
}

// isObject reports whether raw is a JSON object.
func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	return len(raw) > 0 && raw[0] == '{'
}

// idText returns the text of an id member written as a string or an integer
// literal, such as "id": 338167 or "customerId": "27465".
func idText(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&n) == nil && !strings.ContainsAny(n.String(), ".eE") {
		return n.String(), true
	}
	return "", false
}
