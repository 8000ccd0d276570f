package auth0

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/callout/callout"
	"github.com/callout/callout/internal/clocktest"
	"github.com/callout/callout/internal/fakeauth0"
	"github.com/callout/callout/webhook"
)

// The outbound client consumes the cache through its Tokens interface.
var _ webhook.Tokens = (*Tokens)(nil)

// testNow is the injected clock's start.
var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const testClientSecret = fakeauth0.ClientSecret

// newFake starts a fake Auth0 tenant for the test.
func newFake(t *testing.T, name string) *fakeauth0.Server {
	t.Helper()
	f := fakeauth0.New(name)
	t.Cleanup(f.Close)
	return f
}

func wantRequests(t *testing.T, f *fakeauth0.Server, want int64) {
	t.Helper()
	if got := f.Requests(); got != want {
		t.Fatalf("got %d token requests, want %d", got, want)
	}
}

func newTokens(t *testing.T, o Options) *Tokens {
	t.Helper()
	tokens := New(o)
	t.Cleanup(tokens.Close)
	return tokens
}

func mustToken(t *testing.T, tokens *Tokens, a callout.Auth0, want string) {
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
	f := newFake(t, "a")
	release := f.Hold()
	tokens := newTokens(t, Options{})
	a := f.Settings()

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
	<-f.Held(1)
	release()
	done.Wait()

	wantRequests(t, f, 1)
	for i := range callers {
		if errs[i] != nil || results[i] != "a-tok-1" {
			t.Fatalf("caller %d got %q, %v; want a-tok-1", i, results[i], errs[i])
		}
	}
	// Values not printed: one is the secret.
	if got, want := f.Last(), (fakeauth0.Request{N: 1, GrantType: "client_credentials", ClientID: a.ClientID, ClientSecret: a.ClientSecret, Audience: a.Audience}); got != want {
		t.Errorf("the token request differs from the configured credentials")
	}
}

func TestTokenRefreshesBeforeExpiry(t *testing.T) {
	formToken := func(w http.ResponseWriter, r fakeauth0.Request) {
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		fmt.Fprintf(w, "access_token=a-tok-%d&token_type=Bearer&expires_in=1200", r.N)
	}
	for _, tc := range []struct {
		name      string
		expiresIn any // the expires_in sent, unless form is set
		form      bool
		early     time.Duration
		refresh   time.Duration // when, after the fetch, the token is replaced
	}{
		{"default margin is 60 s", 3600, false, 0, 3540 * time.Second},
		{"default margin is a tenth of a short lifetime", 100, false, 0, 90 * time.Second},
		{"explicit early refresh", 3600, false, 5 * time.Minute, 3300 * time.Second},
		{"early refresh capped at half the lifetime", 100, false, 10 * time.Minute, 50 * time.Second},
		{"no expires_in: five minutes", nil, false, 0, 270 * time.Second},
		{"expires_in as a string", "600", false, 0, 540 * time.Second},
		{"expires_in capped at a day", 1e12, false, 0, 24*time.Hour - time.Minute},
		{"form-encoded answer", nil, true, 0, 1140 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, "a")
			f.Respond(f.Issue(tc.expiresIn))
			if tc.form {
				f.Respond(formToken)
			}
			clk := clocktest.New(testNow)
			tokens := newTokens(t, Options{Now: clk.Now, EarlyRefresh: tc.early})
			a := f.Settings()

			mustToken(t, tokens, a, "a-tok-1")
			clk.Add(tc.refresh - time.Second)
			mustToken(t, tokens, a, "a-tok-1")
			wantRequests(t, f, 1)
			clk.Add(time.Second)
			mustToken(t, tokens, a, "a-tok-2")
			mustToken(t, tokens, a, "a-tok-2")
			wantRequests(t, f, 2)
		})
	}
}

func TestInvalidate(t *testing.T) {
	f := newFake(t, "a")
	tokens := newTokens(t, Options{})
	a := f.Settings()

	mustToken(t, tokens, a, "a-tok-1")
	tokens.Invalidate(a, "a-tok-1")
	mustToken(t, tokens, a, "a-tok-2")
	wantRequests(t, f, 2)

	// A caller that still held the old token must not drop the new one.
	tokens.Invalidate(a, "a-tok-1")
	mustToken(t, tokens, a, "a-tok-2")
	wantRequests(t, f, 2)

	// Other credentials' tokens are untouched.
	other := a
	other.Audience = "https://other.example.com"
	mustToken(t, tokens, other, "a-tok-3")
	tokens.Invalidate(a, "a-tok-2")
	mustToken(t, tokens, other, "a-tok-3")
	wantRequests(t, f, 3)
}

func TestEachSettingHasItsOwnToken(t *testing.T) {
	f := newFake(t, "a")
	g := newFake(t, "b")
	tokens := newTokens(t, Options{})
	base := f.Settings()
	mustToken(t, tokens, base, "a-tok-1")

	next := int64(2)
	for _, tc := range []struct {
		name   string
		change func(*callout.Auth0)
	}{
		{"tenant_domain", func(a *callout.Auth0) { a.TenantDomain = g.URL }},
		{"client_id", func(a *callout.Auth0) { a.ClientID = "client-2" }},
		{"client_secret", func(a *callout.Auth0) { a.ClientSecret = "another-secret" }},
		{"audience", func(a *callout.Auth0) { a.Audience = "https://other.example.com" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := base
			tc.change(&a)
			if a.TenantDomain != base.TenantDomain {
				mustToken(t, tokens, a, "b-tok-1")
				wantRequests(t, g, 1)
				return
			}
			mustToken(t, tokens, a, f.Token(next))
			wantRequests(t, f, next)
			next++
			if got := f.Last(); got.ClientID != a.ClientID || got.ClientSecret != a.ClientSecret || got.Audience != a.Audience {
				t.Errorf("the token request did not carry the new %s", tc.name)
			}
		})
	}
	// The first credential set's token is still cached.
	mustToken(t, tokens, base, "a-tok-1")
	wantRequests(t, f, next-1)
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
			f := newFake(t, "a")
			f.Respond(fakeauth0.Fail(status, "access_denied", "Unauthorized"))
			var fetchErrs []error
			tokens := newTokens(t, Options{OnFetch: func(err error) { fetchErrs = append(fetchErrs, err) }})
			a := f.Settings()

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
			f.Respond(nil)
			mustToken(t, tokens, a, "a-tok-2")
			wantRequests(t, f, 2)
			if len(fetchErrs) != 2 || fetchErrs[1] != nil {
				t.Errorf("OnFetch got %v, want a nil error for the second request", fetchErrs)
			}
		})
	}
}

func TestHostileEndpointCannotLeakTheSecret(t *testing.T) {
	f := newFake(t, "a")
	// The code echoes the secret form-encoded, as it was sent; the description
	// echoes it in clear.
	f.Respond(fakeauth0.Fail(http.StatusBadRequest, "bad "+url.QueryEscape(testClientSecret), "the secret "+testClientSecret+" is wrong"+strings.Repeat(" é", 1000)))
	tokens := newTokens(t, Options{})

	_, err := tokens.Token(context.Background(), f.Settings())
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
	f := newFake(t, "a")
	f.Respond(func(w http.ResponseWriter, _ fakeauth0.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"token_type":"Bearer","expires_in":3600}`)
	})
	tokens := newTokens(t, Options{})
	_, err := tokens.Token(context.Background(), f.Settings())
	var te *TokenError
	if !errors.As(err, &te) {
		t.Fatalf("Token error = %v, want a *TokenError", err)
	}
}

func TestAuth0Down(t *testing.T) {
	f := newFake(t, "a")
	a := f.Settings()
	f.Close()
	tokens := newTokens(t, Options{})

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
	tokens := newTokens(t, Options{HTTPClient: client})
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
	f := newFake(t, "a")
	release := f.Hold()
	tokens := newTokens(t, Options{})
	a := f.Settings()

	ctx, cancel := context.WithCancel(context.Background())
	quitter := make(chan error, 1)
	go func() {
		_, err := tokens.Token(ctx, a)
		quitter <- err
	}()
	<-f.Held(1) // the shared request is in flight
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
	wantRequests(t, f, 1)
}

func TestCancelledCallerStartsNoRequest(t *testing.T) {
	f := newFake(t, "a")
	tokens := newTokens(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tokens.Token(ctx, f.Settings()); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	wantRequests(t, f, 0)
}

func TestFetchTimeout(t *testing.T) {
	f := newFake(t, "a")
	f.Hold() // never answers
	tokens := newTokens(t, Options{FetchTimeout: 50 * time.Millisecond})

	_, err := tokens.Token(context.Background(), f.Settings())
	var te *TokenError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a *TokenError wrapping context.DeadlineExceeded", err)
	}
}

func TestValidTokenOutlivesAuth0Outage(t *testing.T) {
	f := newFake(t, "a")
	clk := clocktest.New(testNow)
	tokens := newTokens(t, Options{Now: clk.Now})
	a := f.Settings()
	mustToken(t, tokens, a, "a-tok-1")

	f.Respond(fakeauth0.Fail(http.StatusServiceUnavailable, "", ""))
	clk.Add(3550 * time.Second) // in the refresh window, still valid
	mustToken(t, tokens, a, "a-tok-1")
	wantRequests(t, f, 2)

	clk.Add(50 * time.Second) // expired
	_, err := tokens.Token(context.Background(), a)
	var te *TokenError
	if !errors.As(err, &te) || te.Status != http.StatusServiceUnavailable {
		t.Fatalf("got %v, want a *TokenError with HTTP 503", err)
	}
	wantRequests(t, f, 3)
	// Found expired, the token is dropped from memory, not only refused.
	if got := cachedTokens(tokens); got != 0 {
		t.Errorf("got %d cached tokens after expiry, want 0", got)
	}
}

func TestClose(t *testing.T) {
	f := newFake(t, "a")
	tokens := New(Options{})
	a := f.Settings()
	mustToken(t, tokens, a, "a-tok-1")
	tokens.Close()
	tokens.Close() // idempotent
	if _, err := tokens.Token(context.Background(), a); err == nil {
		t.Fatal("Token after Close succeeded, want an error")
	}
	wantRequests(t, f, 1)
}

// TestCloseLeavesNoGoroutine: the cache runs nothing in the background, so a
// process that makes and closes caches (every test of the server does) keeps
// no goroutine per cache.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 10 {
		New(Options{}).Close()
	}
	// Goroutines of earlier tests may still be ending; none may be added.
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("got %d goroutines after making and closing 10 caches, want at most the %d before", after, before)
	}
}

// TestCacheIsBounded: a tenant churning credentials cannot grow the cache past
// MaxTokens; the token that expires first makes room, and expired tokens go
// before any valid one.
func TestCacheIsBounded(t *testing.T) {
	f := newFake(t, "a")
	clk := clocktest.New(testNow)
	tokens := newTokens(t, Options{Now: clk.Now, MaxTokens: 2})
	withAudience := func(aud string) callout.Auth0 {
		a := f.Settings()
		a.Audience = aud
		return a
	}
	one, two, three, four := withAudience("one"), withAudience("two"), withAudience("three"), withAudience("four")

	mustToken(t, tokens, one, "a-tok-1")
	clk.Add(time.Second)
	mustToken(t, tokens, two, "a-tok-2")
	clk.Add(time.Second)
	mustToken(t, tokens, three, "a-tok-3") // evicts one, which expires first
	if got := cachedTokens(tokens); got != 2 {
		t.Fatalf("got %d cached tokens, want 2", got)
	}
	mustToken(t, tokens, two, "a-tok-2")
	mustToken(t, tokens, three, "a-tok-3")
	wantRequests(t, f, 3)
	mustToken(t, tokens, one, "a-tok-4") // evicts two
	wantRequests(t, f, 4)
	mustToken(t, tokens, three, "a-tok-3")

	clk.Add(2 * time.Hour) // every cached token has expired
	mustToken(t, tokens, four, "a-tok-5")
	if got := cachedTokens(tokens); got != 1 {
		t.Errorf("got %d cached tokens, want only the new one", got)
	}
}

func cachedTokens(t *Tokens) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.tokens)
}
