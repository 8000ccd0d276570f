package webhook_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/callout/callout"
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

// answering returns a handler that answers every request with status and
// body, as JSON.
func answering(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// manufacturer starts a fake manufacturer's webhook.
func manufacturer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// received is what a fake manufacturer saw of one request.
type received struct {
	header http.Header
	body   []byte
	length int64
}

// recorder records every request a fake manufacturer gets, then lets next
// answer it.
type recorder struct {
	mu   sync.Mutex
	reqs []received
	next http.Handler
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, received{header: r.Header.Clone(), body: body, length: r.ContentLength})
	rec.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec.next.ServeHTTP(w, r)
}

func (rec *recorder) requests() []received {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]received(nil), rec.reqs...)
}

// sequence answers the n-th request with the n-th handler, and later ones
// with the last.
func sequence(hs ...http.HandlerFunc) http.HandlerFunc {
	var mu sync.Mutex
	n := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := hs[min(n, len(hs)-1)]
		n++
		mu.Unlock()
		h(w, r)
	}
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
