package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callout/callout/auth"
	"github.com/callout/callout/config"
	"github.com/callout/callout/internal/buffertest"
	"github.com/callout/callout/internal/fakemanufacturer"
	"github.com/callout/callout/server"
)

// api is a whole Callout (real SQLite store in a temporary directory, real
// outbound client) behind an httptest server, with a fake manufacturer.
type api struct {
	// inFlight counts the requests the API is serving.
	inFlight atomic.Int32
	t        *testing.T
	url      string
	secret   []byte
	mfr      *fakemanufacturer.Server
	srv      *server.Server
	logs     *buffertest.Buffer
	// contract checks every exchange of call against the OpenAPI document.
	contract *contract
}

// maxRequestBytes is the inbound body limit of the test API, small enough to
// test 413 cheaply.
const maxRequestBytes = 1 << 20

// newAPI starts the API with the test configuration, changed by each of
// configure.
func newAPI(t *testing.T, configure ...func(*config.Config)) *api {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Dev = true
	cfg.AllowPrivateNetworks, cfg.AllowInsecureHTTP = true, true
	cfg.MaxRequestBytes = maxRequestBytes
	cfg.LogLevel = "debug"
	// The tests read /metrics through the API's handler.
	cfg.MetricsListen = ""
	for _, f := range configure {
		f(cfg)
	}
	secrets, err := cfg.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	logs := &buffertest.Buffer{}
	srv, err := server.New(context.Background(), cfg, secrets, server.NewLogger(cfg, logs), "test")
	if err != nil {
		t.Fatal(err)
	}
	a := &api{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.inFlight.Add(1)
		defer a.inFlight.Add(-1)
		srv.Handler().ServeHTTP(w, r)
	}))
	mfr := fakemanufacturer.New()
	t.Cleanup(mfr.Close)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	a.t, a.url, a.secret, a.mfr, a.srv, a.logs = t, hs.URL, secrets.JWTSecret, mfr, srv, logs
	a.contract = loadContract(t, a)
	return a
}

// awaitInFlight waits until the API serves n requests at once, so that a
// test releases a held answer only once every caller has arrived.
func (a *api) awaitInFlight(n int) {
	a.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for a.inFlight.Load() < int32(n) {
		if time.Now().After(deadline) {
			a.t.Fatalf("%d requests in flight after 10 s, want %d", a.inFlight.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
	// No further wait: a request that arrived while the callout was in
	// flight shares it, even if it gets to it after the callout ended.
}

// eventually waits until cond holds, for at most 10 s.
func (a *api) eventually(what string, cond func() bool) {
	a.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			a.t.Fatalf("after 10 s: still not %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitingForSlot reads from /metrics how many requests wait for a callout
// slot.
func (a *api) waitingForSlot() int {
	a.t.Helper()
	r := a.call("GET", "/metrics", "", nil)
	for line := range strings.Lines(string(r.body)) {
		if v, ok := strings.CutPrefix(line, "callout_requests_waiting_for_slot "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				a.t.Fatalf("callout_requests_waiting_for_slot: %v", err)
			}
			return n
		}
	}
	a.t.Fatalf("no callout_requests_waiting_for_slot in /metrics")
	return 0
}

// token mints a token of role for manufacturer m.
func (a *api) token(role auth.Role, m string) string {
	tok, err := auth.Mint(a.secret, role, m, time.Hour, time.Now())
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

// response is an answer of the API.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic map.
func (r *response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// call sends a request with a bearer token ("" for none) and a JSON body
// (nil for none; []byte and string are sent as they are). It checks the
// request and the response against the OpenAPI document.
func (a *api) call(method, path, token string, body any, header ...string) *response {
	a.t.Helper()
	var data []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		data = b
	case string:
		data = []byte(b)
	default:
		var err error
		if data, err = json.Marshal(b); err != nil {
			a.t.Fatal(err)
		}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: got}
	a.contract.check(a.t, req, data, r)
	return r
}

// as is a client acting with one token.
type as struct {
	a   *api
	tok string
}

func (a *api) as(role auth.Role, m string) as { return as{a, a.token(role, m)} }

func (c as) do(method, path string, body any, header ...string) *response {
	c.a.t.Helper()
	return c.a.call(method, path, c.tok, body, header...)
}

// expect fails unless r has the status and, for an error, the problem code.
func expect(t *testing.T, r *response, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d\n%s", r.status, status, r.body)
	}
	if code == "" {
		if len(r.body) == 0 {
			return nil
		}
		return r.json(t)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	p := r.json(t)
	if p["code"] != code {
		t.Fatalf("code %v, want %s\n%s", p["code"], code, r.body)
	}
	for _, k := range []string{"type", "title", "status", "detail"} {
		if _, ok := p[k]; !ok {
			t.Errorf("problem has no %q member: %s", k, r.body)
		}
	}
	return p
}

// seed returns the documents of seed 001's example payload.
func seed(t *testing.T) (export, job, customer []byte) {
	t.Helper()
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "seed001", name))
		if err != nil {
			t.Fatal(err)
		}
		return bytes.TrimSpace(data)
	}
	return read("export.json"), read("job.json"), read("customer.json")
}
