package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/callout/callout"
)

// readBody reads the whole request body, refusing one over the limit with
// 413, and one that arrives slower than the minimum rate with 408.
func (s *Server) readBody(c echo.Context) ([]byte, error) {
	req := c.Request()
	if req.ContentLength > s.maxBody {
		return nil, s.tooLarge()
	}
	if err := s.reserveBody(c); err != nil {
		return nil, err
	}
	body := &pacedReader{r: http.MaxBytesReader(c.Response(), req.Body, s.maxBody), rc: http.NewResponseController(c.Response().Writer),
		start: time.Now(), grace: s.bodyGrace, rate: s.bodyMinRate}
	if req.ContentLength > 0 {
		body.buf = make([]byte, 0, req.ContentLength)
	}
	data, err := body.readAll()
	var (
		tooLarge *http.MaxBytesError
		netErr   net.Error
	)
	switch {
	case errors.As(err, &tooLarge):
		return nil, s.tooLarge()
	case errors.As(err, &netErr) && netErr.Timeout():
		// The rest of the body is not waited for: without this, the server
		// would try to read it before answering.
		c.Response().Header().Set(echo.HeaderConnection, "close")
		return nil, &callout.Error{Code: callout.ECodeRequestTimeout, Err: err,
			Message: fmt.Sprintf("the request body arrived too slowly: allow %s, then at least %d bytes a second", s.bodyGrace, s.bodyMinRate)}
	case err != nil:
		return nil, &callout.Error{Code: callout.ECodeBadRequest, Message: "the request body could not be read", Err: err}
	}
	return data, nil
}

// pacedReader reads a request body that must keep arriving: it may take the
// grace period plus the time its bytes so far take at the minimum rate. A
// client that trickles its body, or stops, is cut off, whatever length it
// declared; one on a slow but working link is not.
type pacedReader struct {
	r     io.Reader
	rc    *http.ResponseController
	start time.Time
	grace time.Duration
	rate  int64 // bytes a second
	buf   []byte
}

// readAll reads to the end, into buf when it was sized from the declared
// length, so that a body is not copied as it grows.
func (p *pacedReader) readAll() ([]byte, error) {
	for {
		if len(p.buf) == cap(p.buf) {
			p.buf = append(p.buf, 0)[:len(p.buf)]
		}
		allowed := p.grace + time.Duration(len(p.buf))*time.Second/time.Duration(p.rate)
		if err := p.rc.SetReadDeadline(p.start.Add(allowed)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return nil, err
		}
		n, err := p.r.Read(p.buf[len(p.buf):cap(p.buf)])
		p.buf = p.buf[:len(p.buf)+n]
		if errors.Is(err, io.EOF) {
			// The connection's deadline is the server's again. After a
			// failure it stays: the connection is closed after the answer.
			if err := p.rc.SetReadDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
				return nil, err
			}
			return p.buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// reserveBody waits until the bodies being read and handled leave room for
// this one, as declared (or as large as allowed when its length is not
// declared), so that a burst of large uploads takes a bounded amount of
// memory. The reservation lasts until the request is answered (see
// bodyBudget).
func (s *Server) reserveBody(c echo.Context) error {
	n := s.maxBody
	if c.Request().ContentLength >= 0 {
		n = c.Request().ContentLength
	}
	n = min(n, s.maxInflightBody)
	if err := s.bodies.Acquire(c.Request().Context(), n); err != nil {
		return &callout.Error{Code: callout.ECodeUnavailable, Message: "the request ended while waiting for other uploads to finish", Err: err}
	}
	c.Set(bodyReservationKey, n)
	return nil
}

const bodyReservationKey = "body_reservation"

// bodyBudget gives back a request's reservation of the bodies' memory when
// it has been answered.
func (s *Server) bodyBudget(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		defer func() {
			if n, ok := c.Get(bodyReservationKey).(int64); ok {
				s.bodies.Release(n)
			}
		}()
		return next(c)
	}
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
