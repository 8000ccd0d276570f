// Package fakemanufacturer is a manufacturer's webhook that Callout can
// call: a real HTTP server on loopback that answers what it is told, records
// and counts what it receives, and can hold its answers until released. The
// tests, `callout demo` and the benchmark use it in place of a manufacturer's
// ERP.
package fakemanufacturer

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"

	"github.com/callout/callout/internal/hold"
)

// Answer is what a Server answers to one request.
type Answer struct {
	// Status is the HTTP status; 0 means 200.
	Status int
	// Header is added to the answer's header, whose Content-Type is
	// application/json unless Header sets one.
	Header http.Header
	// Body is the answer's body.
	Body string
}

// Request is what a Server received of one request.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	// ContentLength is the length the caller declared, -1 when it sent the
	// body chunked.
	ContentLength int64
}

// Option changes a Server made by New.
type Option func(*Server)

// WithHandler makes h answer every request instead of the set answers, for
// a manufacturer that does more than answer (echoes, redirects, checks a
// credential). The Server still counts, records and holds the requests
// first; a recorded request's body can be read again by h. A nil h changes
// nothing.
func WithHandler(h http.Handler) Option {
	return func(s *Server) { s.handler = h }
}

// WithRecordLimit makes the Server record only the first n requests, and
// only count the others, so that it stays fast and small under load.
func WithRecordLimit(n int) Option {
	return func(s *Server) { s.limit = int64(n) }
}

// Server is a fake manufacturer's webhook, at URL. It is safe for
// concurrent use.
type Server struct {
	*httptest.Server

	handler  http.Handler // when not nil, answers instead of answers
	limit    int64        // of recorded requests; negative for no limit
	gate     hold.Gate
	requests atomic.Int64

	mu       sync.Mutex
	answers  []Answer // given in turn, the last one to every later request
	turn     int      // requests answered from answers
	received []Request
}

// New starts a Server that accepts every request (200 and
// {"success": true}) until told otherwise. Its caller closes it.
func New(opts ...Option) *Server {
	accept := Answer{Status: http.StatusOK, Body: `{"success": true}`}
	s := &Server{limit: -1, answers: []Answer{accept}}
	for _, o := range opts {
		o(s)
	}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	// Callers that hang up mid-answer are what many tests are about, and
	// the demo's output must stay readable: the server's own complaints go
	// nowhere.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Start()
	return s
}

// Answer makes the Server answer every request from now on with status and
// body, as JSON.
func (s *Server) Answer(status int, body string) {
	s.Answers(Answer{Status: status, Body: body})
}

// Answers makes the Server answer the requests from now on in turn: the
// first with seq[0], the next with seq[1], and every one after the last of
// seq with the last.
func (s *Server) Answers(seq ...Answer) {
	if len(seq) == 0 {
		panic("fakemanufacturer: Answers needs an answer")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers, s.turn = seq, 0
}

// Hold makes the Server hold the answers of the requests that arrive from
// now on, until release is called (or the Server is closed, or the caller
// hangs up), so that requests pile up on a callout in flight. Calling
// release again does nothing.
func (s *Server) Hold() (release func()) { return s.gate.Hold() }

// Held returns a channel closed once n requests are being held at the same
// time.
func (s *Server) Held(n int) <-chan struct{} { return s.gate.Held(n) }

// Received returns the requests recorded so far, in the order they were
// read.
func (s *Server) Received() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.received...)
}

// Requests returns how many requests arrived, recorded or not.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Close releases the held answers, then shuts the server down and waits
// for the requests it is serving.
func (s *Server) Close() {
	s.gate.Close()
	s.Server.Close()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if n := s.requests.Add(1); s.limit < 0 || n <= s.limit {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.mu.Lock()
		s.received = append(s.received, Request{r.Method, r.URL.Path, r.Header.Clone(), body, r.ContentLength})
		s.mu.Unlock()
	}

	s.mu.Lock()
	a := s.answers[min(s.turn, len(s.answers)-1)]
	s.turn++
	s.mu.Unlock()
	s.gate.Wait(r.Context())

	if s.handler != nil {
		s.handler.ServeHTTP(w, r)
		return
	}
	// Read like a manufacturer would, which also lets the server notice a
	// caller hanging up.
	_, _ = io.Copy(io.Discard, r.Body)
	for k, v := range a.Header {
		w.Header()[k] = v
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	if a.Status != 0 {
		w.WriteHeader(a.Status)
	}
	_, _ = io.WriteString(w, a.Body)
}
