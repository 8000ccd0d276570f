package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/callout/callout"
	"github.com/callout/callout/internal/clocktest"
)

const testClientSecret = "s3cr3t+Client/Secret=value"

// fakeAuth0 is a token endpoint that counts requests and checks their form.
type fakeAuth0 struct {
	t        *testing.T
	name     string
	srv      *httptest.Server
	requests atomic.Int64

	mu       sync.Mutex
	lastForm map[string]string
	// respond answers request n (from 1); nil answers a token valid an hour.
	respond func(w http.ResponseWriter, n int64)
	// arrived, when set, is told of each request as it arrives; release, when
	// set, holds every request until it is closed.
	arrived chan struct{}
	release chan struct{}
}

func newFakeAuth0(t *testing.T, name string) *fakeAuth0 {
	t.Helper()
	f := &fakeAuth0{t: t, name: name}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// hold makes requests wait until the returned function is called (at the
// latest at the end of the test).
func (f *fakeAuth0) hold() (release func()) {
	f.arrived = make(chan struct{}, 16)
	f.release = make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(f.release) }) }
	f.t.Cleanup(release) // runs before srv.Close, which waits for handlers
	return release
}

func (f *fakeAuth0) serve(w http.ResponseWriter, r *http.Request) {
	n := f.requests.Add(1)
	if r.Method != http.MethodPost || r.URL.Path != "/oauth/token" {
		f.t.Errorf("got %s %s, want POST /oauth/token", r.Method, r.URL.Path)
	}
	if err := r.ParseForm(); err != nil {
		f.t.Errorf("parse form: %v", err)
	}
	if got := r.PostForm.Get("grant_type"); got != "client_credentials" {
		f.t.Errorf("got grant_type %q, want client_credentials", got)
	}
	if r.Header.Get("Authorization") != "" {
		f.t.Errorf("got an Authorization header, want the credentials in the form")
	}
	f.mu.Lock()
	f.lastForm = map[string]string{}
	for _, k := range []string{"client_id", "client_secret", "audience"} {
		f.lastForm[k] = r.PostForm.Get(k)
	}
	respond := f.respond
	f.mu.Unlock()
	if f.arrived != nil {
		select {
		case f.arrived <- struct{}{}:
		default: // nobody is counting beyond the buffer
		}
	}
	if f.release != nil {
		select {
		case <-f.release:
		case <-r.Context().Done():
			return
		}
	}
	if respond == nil {
		respond = f.tokenFor(3600)
	}
	respond(w, n)
}

func (f *fakeAuth0) setRespond(r func(w http.ResponseWriter, n int64)) {
	f.mu.Lock()
	f.respond = r
	f.mu.Unlock()
}

func (f *fakeAuth0) form() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastForm
}

// tokenFor answers the token "<name>-tok-<n>" with expiresIn (omitted when
// nil) as JSON.
func (f *fakeAuth0) tokenFor(expiresIn any) func(http.ResponseWriter, int64) {
	return func(w http.ResponseWriter, n int64) {
		body := map[string]any{"access_token": f.token(n), "token_type": "Bearer"}
		if expiresIn != nil {
			body["expires_in"] = expiresIn
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(body)
	}
}

func (f *fakeAuth0) token(n int64) string { return fmt.Sprintf("%s-tok-%d", f.name, n) }

func (f *fakeAuth0) fail(status int, code, description string) func(http.ResponseWriter, int64) {
	return func(w http.ResponseWriter, _ int64) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
	}
}

func (f *fakeAuth0) settings() callout.Auth0 {
	return callout.Auth0{
		TenantDomain: f.srv.URL,
		ClientID:     "client-1",
		ClientSecret: testClientSecret,
		Audience:     "https://erp.example.com/api",
	}
}

func (f *fakeAuth0) wantRequests(t *testing.T, want int64) {
	t.Helper()
	if got := f.requests.Load(); got != want {
		t.Fatalf("%s got %d token requests, want %d", f.name, got, want)
	}
}

func newTokens(t *testing.T, o Auth0Options) *Auth0Tokens {
	t.Helper()
	tokens := NewAuth0Tokens(o)
	t.Cleanup(tokens.Close)
	return tokens
}

func mustToken(t *testing.T, tokens *Auth0Tokens, a callout.Auth0, want string) {
	t.Helper()
	got, err := tokens.Token(context.Background(), a)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if got != want {
		t.Fatalf("got token %q, want %q", got, want)
	}
}

func TestTokenBurstMakesOneRequest(t *testing.T) {
	f := newFakeAuth0(t, "a")
	release := f.hold()
	tokens := newTokens(t, Auth0Options{})
	a := f.settings()

	const callers = 1000
	var started, done sync.WaitGroup
	results := make([]string, callers)
	errs := make([]error, callers)
	started.Add(callers)
	done.Add(callers)
	for i := range callers {
		go func() {
			defer done.Done()
			started.Done()
			results[i], errs[i] = tokens.Token(context.Background(), a)
		}()
	}
	started.Wait()
	<-f.arrived
	release()
	done.Wait()

	f.wantRequests(t, 1)
	for i := range callers {
		if errs[i] != nil || results[i] != "a-tok-1" {
			t.Fatalf("caller %d got %q, %v; want a-tok-1", i, results[i], errs[i])
		}
	}
	want := map[string]string{"client_id": "client-1", "client_secret": testClientSecret, "audience": "https://erp.example.com/api"}
	for k, v := range want {
		if f.form()[k] != v { // values not printed: one is the secret
			t.Errorf("the request's %s differs from the configured one", k)
		}
	}
}

func TestTokenRefreshesBeforeExpiry(t *testing.T) {
	formToken := func(w http.ResponseWriter, n int64) {
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		fmt.Fprintf(w, "access_token=a-tok-%d&token_type=Bearer&expires_in=1200", n)
	}
	for _, tc := range []struct {
		name    string
		respond func(f *fakeAuth0) func(http.ResponseWriter, int64)
		early   time.Duration
		refresh time.Duration // when, after the fetch, the token is replaced
	}{
		{"default margin is 60 s", func(f *fakeAuth0) func(http.ResponseWriter, int64) { return f.tokenFor(3600) }, 0, 3540 * time.Second},
		{"default margin is a tenth of a short lifetime", func(f *fakeAuth0) func(http.ResponseWriter, int64) { return f.tokenFor(100) }, 0, 90 * time.Second},
		{"explicit early refresh", func(f *fakeAuth0) func(http.ResponseWriter, int64) { return f.tokenFor(3600) }, 5 * time.Minute, 3300 * time.Second},
		{"early refresh capped at half the lifetime", func(f *fakeAuth0) func(http.ResponseWriter, int64) { return f.tokenFor(100) }, 10 * time.Minute, 50 * time.Second},
		{"no expires_in: five minutes", func(f *fakeAuth0) func(http.ResponseWriter, int64) { return f.tokenFor(nil) }, 0, 270 * time.Second},
		{"expires_in as a string", func(f *fakeAuth0) func(http.ResponseWriter, int64) { return f.tokenFor("600") }, 0, 540 * time.Second},
		{"expires_in capped at a day", func(f *fakeAuth0) func(http.ResponseWriter, int64) { return f.tokenFor(1e12) }, 0, 24*time.Hour - time.Minute},
		{"form-encoded answer", func(*fakeAuth0) func(http.ResponseWriter, int64) { return formToken }, 0, 1140 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAuth0(t, "a")
			f.setRespond(tc.respond(f))
			clk := clocktest.New(testNow)
			tokens := newTokens(t, Auth0Options{Now: clk.Now, EarlyRefresh: tc.early})
			a := f.settings()

			mustToken(t, tokens, a, "a-tok-1")
			clk.Add(tc.refresh - time.Second)
			mustToken(t, tokens, a, "a-tok-1")
			f.wantRequests(t, 1)
			clk.Add(time.Second)
			mustToken(t, tokens, a, "a-tok-2")
			mustToken(t, tokens, a, "a-tok-2")
			f.wantRequests(t, 2)
		})
	}
}

func TestInvalidate(t *testing.T) {
	f := newFakeAuth0(t, "a")
	tokens := newTokens(t, Auth0Options{})
	a := f.settings()

	mustToken(t, tokens, a, "a-tok-1")
	tokens.Invalidate(a, "a-tok-1")
	mustToken(t, tokens, a, "a-tok-2")
	f.wantRequests(t, 2)

	// A caller that still held the old token must not drop the new one.
	tokens.Invalidate(a, "a-tok-1")
	mustToken(t, tokens, a, "a-tok-2")
	f.wantRequests(t, 2)

	// Other credentials' tokens are untouched.
	other := a
	other.Audience = "https://other.example.com"
	mustToken(t, tokens, other, "a-tok-3")
	tokens.Invalidate(a, "a-tok-2")
	mustToken(t, tokens, other, "a-tok-3")
	f.wantRequests(t, 3)
}

func TestEachSettingHasItsOwnToken(t *testing.T) {
	f := newFakeAuth0(t, "a")
	g := newFakeAuth0(t, "b")
	tokens := newTokens(t, Auth0Options{})
	base := f.settings()
	mustToken(t, tokens, base, "a-tok-1")

	next := int64(2)
	for _, tc := range []struct {
		name   string
		change func(*callout.Auth0)
		field  string // the form field that must carry the change
		value  string
	}{
		{"tenant_domain", func(a *callout.Auth0) { a.TenantDomain = g.srv.URL }, "", ""},
		{"client_id", func(a *callout.Auth0) { a.ClientID = "client-2" }, "client_id", "client-2"},
		{"client_secret", func(a *callout.Auth0) { a.ClientSecret = "another-secret" }, "client_secret", "another-secret"},
		{"audience", func(a *callout.Auth0) { a.Audience = "https://other.example.com" }, "audience", "https://other.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := base
			tc.change(&a)
			if tc.field == "" {
				mustToken(t, tokens, a, "b-tok-1")
				g.wantRequests(t, 1)
				return
			}
			mustToken(t, tokens, a, f.token(next))
			f.wantRequests(t, next)
			next++
			if f.form()[tc.field] != tc.value {
				t.Errorf("the request did not carry the new %s", tc.field)
			}
		})
	}
	// The first credential set's token is still cached.
	mustToken(t, tokens, base, "a-tok-1")
	f.wantRequests(t, next-1)
}

func TestCredentialKeyKeepsFieldsApart(t *testing.T) {
	a := callout.Auth0{TenantDomain: "t.example.com", ClientID: "ab", ClientSecret: "c", Audience: "x"}
	b := callout.Auth0{TenantDomain: "t.example.com", ClientID: "a", ClientSecret: "bc", Audience: "x"}
	if credentialKey(a) == credentialKey(b) {
		t.Errorf("settings that differ only in where a field ends share a key")
	}
	if k := credentialKey(callout.Auth0{ClientSecret: testClientSecret}); strings.Contains(k, testClientSecret) {
		t.Errorf("the key holds the secret in clear")
	}
}

func TestTokenEndpointRefusal(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			f := newFakeAuth0(t, "a")
			f.setRespond(f.fail(status, "access_denied", "Unauthorized"))
			var fetchErrs []error
			tokens := newTokens(t, Auth0Options{OnFetch: func(err error) { fetchErrs = append(fetchErrs, err) }})
			a := f.settings()

			_, err := tokens.Token(context.Background(), a)
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("Token error = %v, want a *TokenError", err)
			}
			if te.Status != status || te.Code != "access_denied" || te.Description != "Unauthorized" {
				t.Errorf("got %d %q %q, want %d access_denied Unauthorized", te.Status, te.Code, te.Description, status)
			}
			if want := fmt.Sprintf("auth0 token request failed: HTTP %d: access_denied: Unauthorized", status); err.Error() != want {
				t.Errorf("got error text %q, want %q", err.Error(), want)
			}
			if strings.Contains(err.Error(), testClientSecret) {
				t.Errorf("the error text contains the client secret")
			}
			if len(fetchErrs) != 1 || !errors.As(fetchErrs[0], &te) {
				t.Errorf("OnFetch got %v, want one *TokenError", fetchErrs)
			}

			// The failure is not cached: once Auth0 is fixed, the next
			// callout gets a token.
			f.setRespond(nil)
			mustToken(t, tokens, a, "a-tok-2")
			f.wantRequests(t, 2)
			if len(fetchErrs) != 2 || fetchErrs[1] != nil {
				t.Errorf("OnFetch got %v, want a nil error for the second request", fetchErrs)
			}
		})
	}
}

func TestHostileEndpointCannotLeakTheSecret(t *testing.T) {
	f := newFakeAuth0(t, "a")
	// The code echoes the secret form-encoded, as it was sent; the description
	// echoes it in clear.
	f.setRespond(f.fail(http.StatusBadRequest, "bad "+url.QueryEscape(testClientSecret), "the secret "+testClientSecret+" is wrong"+strings.Repeat(" é", 1000)))
	tokens := newTokens(t, Auth0Options{})

	_, err := tokens.Token(context.Background(), f.settings())
	var te *TokenError
	if !errors.As(err, &te) {
		t.Fatalf("Token error = %v, want a *TokenError", err)
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), te.Code, te.Description} {
		if strings.Contains(s, testClientSecret) || strings.Contains(s, url.QueryEscape(testClientSecret)) {
			t.Fatalf("the error contains the client secret")
		}
	}
	if !strings.HasPrefix(te.Description, "the secret [redacted] is wrong") {
		t.Errorf("got description starting %.40q, want the redacted text", te.Description)
	}
	if n := utf8.RuneCountInString(te.Description); n > maxDescriptionRunes {
		t.Errorf("got a description of %d characters, want at most %d", n, maxDescriptionRunes)
	}
}

func TestTokenResponseWithoutAccessToken(t *testing.T) {
	f := newFakeAuth0(t, "a")
	f.setRespond(func(w http.ResponseWriter, _ int64) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"token_type":"Bearer","expires_in":3600}`)
	})
	tokens := newTokens(t, Auth0Options{})
	_, err := tokens.Token(context.Background(), f.settings())
	var te *TokenError
	if !errors.As(err, &te) {
		t.Fatalf("Token error = %v, want a *TokenError", err)
	}
}

func TestAuth0Down(t *testing.T) {
	f := newFakeAuth0(t, "a")
	a := f.settings()
	f.srv.Close()
	tokens := newTokens(t, Auth0Options{})

	_, err := tokens.Token(context.Background(), a)
	var te *TokenError
	if !errors.As(err, &te) || te.Err == nil || te.Status != 0 {
		t.Fatalf("Token error = %v, want a *TokenError with a transport cause", err)
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Errorf("got %v, want a *net.OpError in the chain", err)
	}
	if strings.Contains(err.Error(), testClientSecret) {
		t.Errorf("the error text contains the client secret")
	}
}

// blockedError stands for the SSRF-safe client's refusal.
type blockedError struct{ addr string }

func (e *blockedError) Error() string { return "destination blocked: " + e.addr }

func TestBlockedDestinationStaysInTheChain(t *testing.T) {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
			return nil, &blockedError{addr: addr}
		},
	}}
	tokens := newTokens(t, Auth0Options{HTTPClient: client})
	_, err := tokens.Token(context.Background(), callout.Auth0{TenantDomain: "http://10.0.0.1:8080", ClientID: "c", ClientSecret: testClientSecret})
	var blocked *blockedError
	if !errors.As(err, &blocked) {
		t.Fatalf("Token error = %v, want the client's *blockedError in the chain", err)
	}
	var te *TokenError
	if !errors.As(err, &te) {
		t.Errorf("Token error = %v, want a *TokenError", err)
	}
}

func TestCallerGivingUpDoesNotFailOthers(t *testing.T) {
	f := newFakeAuth0(t, "a")
	release := f.hold()
	tokens := newTokens(t, Auth0Options{})
	a := f.settings()

	ctx, cancel := context.WithCancel(context.Background())
	quitter := make(chan error, 1)
	go func() {
		_, err := tokens.Token(ctx, a)
		quitter <- err
	}()
	<-f.arrived // the shared request is in flight
	patient := make(chan string, 1)
	go func() {
		tok, err := tokens.Token(context.Background(), a)
		if err != nil {
			t.Errorf("patient caller: %v", err)
		}
		patient <- tok
	}()

	cancel()
	select {
	case err := <-quitter:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled caller is still waiting for the token request")
	}
	release()
	if got := <-patient; got != "a-tok-1" {
		t.Fatalf("patient caller got %q, want a-tok-1", got)
	}
	// The request the quitter started was cached for later callers too.
	mustToken(t, tokens, a, "a-tok-1")
	f.wantRequests(t, 1)
}

func TestCancelledCallerStartsNoRequest(t *testing.T) {
	f := newFakeAuth0(t, "a")
	tokens := newTokens(t, Auth0Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tokens.Token(ctx, f.settings()); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	f.wantRequests(t, 0)
}

func TestFetchTimeout(t *testing.T) {
	f := newFakeAuth0(t, "a")
	f.hold() // never answers
	tokens := newTokens(t, Auth0Options{FetchTimeout: 50 * time.Millisecond})

	_, err := tokens.Token(context.Background(), f.settings())
	var te *TokenError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a *TokenError wrapping context.DeadlineExceeded", err)
	}
}

func TestValidTokenOutlivesAuth0Outage(t *testing.T) {
	f := newFakeAuth0(t, "a")
	clk := clocktest.New(testNow)
	tokens := newTokens(t, Auth0Options{Now: clk.Now})
	a := f.settings()
	mustToken(t, tokens, a, "a-tok-1")

	f.setRespond(f.fail(http.StatusServiceUnavailable, "", ""))
	clk.Add(3550 * time.Second) // in the refresh window, still valid
	mustToken(t, tokens, a, "a-tok-1")
	f.wantRequests(t, 2)

	clk.Add(50 * time.Second) // expired
	_, err := tokens.Token(context.Background(), a)
	var te *TokenError
	if !errors.As(err, &te) || te.Status != http.StatusServiceUnavailable {
		t.Fatalf("got %v, want a *TokenError with HTTP 503", err)
	}
	f.wantRequests(t, 3)
}

func TestClose(t *testing.T) {
	f := newFakeAuth0(t, "a")
	tokens := NewAuth0Tokens(Auth0Options{})
	a := f.settings()
	mustToken(t, tokens, a, "a-tok-1")
	tokens.Close()
	tokens.Close() // idempotent
	if _, err := tokens.Token(context.Background(), a); err == nil {
		t.Fatal("Token after Close succeeded, want an error")
	}
	f.wantRequests(t, 1)
}
