// Package fakeauth0 provides a fake Auth0 tenant: a real HTTP server whose
// client-credentials token endpoint counts, records and answers requests as
// told, for the tests and the benchmark of Callout's outbound Auth0 path.
package fakeauth0

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"

	"github.com/callout/callout"
	"github.com/callout/callout/internal/hold"
)

// The credentials Settings returns. The secret holds characters that form
// encoding changes, so that a test can look for it in both spellings.
const (
	ClientID     = "client-1"
	ClientSecret = "s3cr3t+Client/Secret=value"
	Audience     = "https://erp.example.com/api"
)

// DefaultExpiresIn is the expires_in, in seconds, of the tokens the server
// hands out until told otherwise.
const DefaultExpiresIn = 3600

// Request is what a token request carried.
type Request struct {
	// N numbers the token requests from 1.
	N            int64
	GrantType    string
	ClientID     string
	ClientSecret string
	Audience     string
}

// A Responder answers one token request.
type Responder func(w http.ResponseWriter, r Request)

// Server is a fake Auth0 tenant serving POST /oauth/token. It wants the
// client-credentials grant with the credentials in the form, as Callout sends
// it, and answers any other token request with an OAuth error, so that a
// client getting the protocol wrong fails its test. It is safe for concurrent
// use.
type Server struct {
	// URL is the tenant's base URL, usable as a tenant_domain.
	URL string

	name     string
	srv      *httptest.Server
	requests atomic.Int64
	gate     hold.Gate

	mu      sync.Mutex
	last    Request
	respond Responder
}

// New starts a tenant whose tokens are named "<name>-tok-<n>", n counting the
// token requests from 1, valid DefaultExpiresIn seconds. Call Close when done.
func New(name string) *Server {
	s := &Server{name: name}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", s.token)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close lets held requests go and shuts the server down. A client that calls
// the tenant afterwards gets a refused connection.
func (s *Server) Close() {
	s.gate.Close()
	s.srv.Close()
}

// Settings returns credentials for this tenant.
func (s *Server) Settings() callout.Auth0 {
	return callout.Auth0{TenantDomain: s.URL, ClientID: ClientID, ClientSecret: ClientSecret, Audience: Audience}
}

// Requests returns how many token requests arrived, answered or not.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Last returns the latest token request.
func (s *Server) Last() Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Token returns the name of the token the default answer gives request n.
func (s *Server) Token(n int64) string { return fmt.Sprintf("%s-tok-%d", s.name, n) }

// Respond makes r answer the token requests that follow; nil restores the
// default answer.
func (s *Server) Respond(r Responder) {
	s.mu.Lock()
	s.respond = r
	s.mu.Unlock()
}

// Hold makes the token requests that follow wait, until release or Close is
// called (or the caller hangs up), before they are answered. Calling release
// again does nothing.
func (s *Server) Hold() (release func()) { return s.gate.Hold() }

// Held returns a channel closed once n token requests are being held at the
// same time, so that a test waits on events rather than sleeping.
func (s *Server) Held(n int) <-chan struct{} { return s.gate.Held(n) }

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	n := s.requests.Add(1)
	if err := r.ParseForm(); err != nil {
		WriteError(w, http.StatusBadRequest, "invalid_request", "the form cannot be parsed")
		return
	}
	req := Request{
		N:            n,
		GrantType:    r.PostForm.Get("grant_type"),
		ClientID:     r.PostForm.Get("client_id"),
		ClientSecret: r.PostForm.Get("client_secret"),
		Audience:     r.PostForm.Get("audience"),
	}
	s.mu.Lock()
	s.last = req
	respond := s.respond
	s.mu.Unlock()

	s.gate.Wait(r.Context())
	if r.Context().Err() != nil {
		return
	}
	switch {
	case req.GrantType != "client_credentials":
		WriteError(w, http.StatusBadRequest, "unsupported_grant_type", "want client_credentials")
	case r.Header.Get("Authorization") != "":
		// Credentials in a header mean the client lost its fixed auth
		// style, and with it oauth2 probes: two requests per token.
		WriteError(w, http.StatusBadRequest, "invalid_request", "want the client credentials in the form, not in an Authorization header")
	case respond != nil:
		respond(w, req)
	default:
		WriteToken(w, s.Token(n), DefaultExpiresIn)
	}
}

// Issue returns a Responder that gives request n the token Token(n), valid
// expiresIn seconds; expiresIn is sent as given (a number or, like some
// endpoints, a string) and left out when nil.
func (s *Server) Issue(expiresIn any) Responder {
	return func(w http.ResponseWriter, r Request) { WriteToken(w, s.Token(r.N), expiresIn) }
}

// Fail returns a Responder that answers every request with status and the
// OAuth error code and description.
func Fail(status int, code, description string) Responder {
	return func(w http.ResponseWriter, _ Request) { WriteError(w, status, code, description) }
}

// WriteToken writes a successful JSON token answer: access, valid expiresIn
// seconds (left out when nil).
func WriteToken(w http.ResponseWriter, access string, expiresIn any) {
	body := map[string]any{"access_token": access, "token_type": "Bearer"}
	if expiresIn != nil {
		body["expires_in"] = expiresIn
	}
	writeJSON(w, http.StatusOK, body)
}

// WriteError writes an OAuth error answer (RFC 6749 §5.2).
func WriteError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
