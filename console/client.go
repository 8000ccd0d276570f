package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/callout/callout"
)

// client calls the API in process, as the administrator of one manufacturer.
type client struct {
	api   http.Handler
	ctx   context.Context
	token string
	m     string
	name  string // the manufacturer's name
}

// problemError is a problem document the API answered with.
type problemError struct {
	Status int                  `json:"status"`
	Code   string               `json:"code"`
	Detail string               `json:"detail"`
	Errors []string             `json:"errors"`
	Fields []callout.FieldError `json:"fields"`
}

func (e *problemError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Detail) }

// fields maps each bad field to its message, for the inputs of a form.
func (e *problemError) fields() map[string]string {
	m := make(map[string]string, len(e.Fields))
	for _, f := range e.Fields {
		m[f.Field] = f.Message
	}
	return m
}

// do sends a request to the manufacturer's path (path is relative to
// /v1/manufacturers/{m}) with body as JSON (nil for none), and decodes a
// success into out (nil to ignore it). A problem is returned as a
// *problemError.
func (c *client) do(method, path string, body, out any) error {
	return c.doPath(method, "/v1/manufacturers/"+url.PathEscape(c.m)+path, body, out)
}

// doPath is do for a path of the API outside the manufacturer's, such as
// /v1/event-types.
func (c *client) doPath(method, path string, body, out any) error {
	var rd io.Reader = http.NoBody
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(c.ctx, method, path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	c.api.ServeHTTP(rec, req)
	if rec.status >= 400 {
		p := &problemError{}
		if err := json.Unmarshal(rec.body.Bytes(), p); err != nil || p.Code == "" {
			return fmt.Errorf("%s %s: status %d", method, req.URL.Path, rec.status)
		}
		return p
	}
	if out == nil || rec.body.Len() == 0 {
		return nil
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, req.URL.Path, err)
	}
	return nil
}

// recorder keeps the API's answer to an in-process request.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

// SetReadDeadline does nothing: the request's body is in memory, and there is
// no connection to time out.
func (r *recorder) SetReadDeadline(time.Time) error { return nil }

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	return r.body.Write(p)
}
