package webhook_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/callout/callout"
	"github.com/callout/callout/internal/fakemanufacturer"
	"github.com/callout/callout/webhook"
)

// openPolicy lets tests call httptest servers on loopback over plain http.
var openPolicy = webhook.Policy{AllowPrivateNetworks: true, AllowInsecureHTTP: true}

// payload is a Body over a byte slice, like *payload.Body readable many times.
type payload []byte

func (p payload) Len() int64        { return int64(len(p)) }
func (p payload) Reader() io.Reader { return bytes.NewReader(p) }

var _ webhook.Body = payload(nil)

const samplePayload = `{"export":{"JobNumber":348167},"job":{"id":338167,"cost":332.96},"customer":{"id":27465}}`

// newClient returns a client on the open policy with o's other settings.
func newClient(t *testing.T, o webhook.Options) *webhook.Client {
	t.Helper()
	if o.HTTPClient == nil && o.Policy == (webhook.Policy{}) {
		o.Policy = openPolicy
	}
	if o.UserAgent == "" {
		o.UserAgent = "callout/test"
	}
	return webhook.New(o)
}

// newHook returns an enabled webhook of kind at url with every default and no
// retries, so that each test says which retries it wants.
func newHook(kind callout.Kind, url string) *callout.Webhook {
	w := callout.NewWebhook("103", kind)
	w.Enabled = true
	w.URL = url
	w.Retries = 0
	return w
}

// call makes a callout of w with the sample payload.
func call(t *testing.T, c *webhook.Client, w *callout.Webhook) *webhook.Result {
	t.Helper()
	return c.Call(context.Background(), &webhook.Request{
		Webhook:        w,
		Body:           payload(samplePayload),
		DeliveryID:     "dlv-1",
		RequestID:      "req-1",
		IdempotencyKey: "idem-1",
	})
}

// manufacturer starts a fake manufacturer's webhook, closed when the test
// ends, that answers with h, or with the answers it is given when h is nil.
func manufacturer(t *testing.T, h http.Handler) *fakemanufacturer.Server {
	t.Helper()
	m := fakemanufacturer.New(fakemanufacturer.WithHandler(h))
	t.Cleanup(m.Close)
	return m
}

// closedPort returns an address on loopback where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// roundTripFunc is an in-memory http.RoundTripper, for tests inside a
// synctest bubble where real sockets cannot be used.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// inMemoryAnswer answers with status and body without a network.
func inMemoryAnswer(r *http.Request, status int, body string) *http.Response {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode:    status,
		Status:        http.StatusText(status),
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}
}
