package webhook_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callout/callout"
	"github.com/callout/callout/auth"
	"github.com/callout/callout/internal/fakemanufacturer"
	"github.com/callout/callout/webhook"
)

const testClientSecret = "auth0-client-secret-value"

// fakeAuth0 is an Auth0 tenant's token endpoint: it hands out tok-1, tok-2,
// … to the right credentials, or fails with an OAuth error when told to.
type fakeAuth0 struct {
	mu       sync.Mutex
	issued   int
	failWith string // an OAuth error code to answer with; "" to issue tokens
	hang     bool   // never answer
}

func (f *fakeAuth0) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hang {
		<-r.Context().Done()
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if f.failWith != "" || r.PostForm.Get("client_secret") != testClientSecret {
		w.WriteHeader(http.StatusUnauthorized)
		// A careless endpoint echoes what it got.
		json.NewEncoder(w).Encode(map[string]string{
			"error":             f.failWith,
			"error_description": "Unauthorized client " + r.PostForm.Get("client_id") + " (secret " + r.PostForm.Get("client_secret") + ")",
		})
		return
	}
	f.issued++
	fmt.Fprintf(w, `{"access_token": "tok-%d", "token_type": "Bearer", "expires_in": 86400}`, f.issued)
}

func (f *fakeAuth0) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issued
}

// auth0Setup starts a fake Auth0 and returns a client with a real token
// cache and a webhook configured for it.
func auth0Setup(t *testing.T, mfr *fakemanufacturer.Server) (*fakeAuth0, *webhook.Client, *callout.Webhook) {
	t.Helper()
	tenant := &fakeAuth0{}
	tenantSrv := manufacturer(t, tenant)
	hc := webhook.NewHTTPClient(openPolicy)
	tokens := auth.NewAuth0Tokens(auth.Auth0Options{HTTPClient: hc})
	t.Cleanup(tokens.Close)
	c := webhook.New(webhook.Options{HTTPClient: hc, Policy: openPolicy, Tokens: tokens})
	w := newHook(callout.KindSubmission, mfr.URL)
	w.Auth = callout.Auth{Type: callout.AuthAuth0, Auth0: callout.Auth0{
		TenantDomain: tenantSrv.URL,
		ClientID:     "client-1",
		ClientSecret: testClientSecret,
		Audience:     "https://erp.example.com",
	}}
	return tenant, c, w
}

// TestAuth0 checks the Auth0 path: the token goes out as a bearer token and
// is reused; a 401 or 403 drops it and the callout is retried once with a
// fresh one; a second refusal is auth_failed.
func TestAuth0(t *testing.T) {
	t.Run("token used and reused", func(t *testing.T) {
		mfr := manufacturer(t, nil)
		mfr.Answer(http.StatusOK, `{}`)
		tenant, c, w := auth0Setup(t, mfr)
		for range 3 {
			if res := call(t, c, w); res.Outcome != callout.OutcomeAccepted {
				t.Fatalf("Outcome = %s (%s), want accepted", res.Outcome, res.Detail)
			}
		}
		for i, r := range mfr.Requests() {
			if got := r.Header.Get("Authorization"); got != "Bearer tok-1" {
				t.Errorf("request %d: Authorization = %q, want Bearer tok-1", i+1, got)
			}
		}
		if n := tenant.count(); n != 1 {
			t.Errorf("%d tokens fetched, want 1", n)
		}
	})
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		for _, kind := range []callout.Kind{callout.KindSubmission, callout.KindPricing} {
			t.Run(fmt.Sprintf("%s/%d then accepted", kind, status), func(t *testing.T) {
				mfr := manufacturer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get("Authorization") != "Bearer tok-2" {
						w.WriteHeader(status)
						return
					}
					io.WriteString(w, `{"cost": 3}`)
				}))
				tenant, c, w := auth0Setup(t, mfr)
				w.Kind = kind
				res := call(t, c, w)
				if res.Outcome != callout.OutcomeAccepted || res.Attempts != 2 {
					t.Fatalf("Outcome = %s after %d attempts (%s), want accepted after 2", res.Outcome, res.Attempts, res.Detail)
				}
				if n := tenant.count(); n != 2 {
					t.Errorf("%d tokens fetched, want 2", n)
				}
				checkWarnings(t, res.Warnings, []string{fmt.Sprintf("retried with a fresh Auth0 token after HTTP %d", status)})
				reqs := mfr.Requests()
				if len(reqs) != 2 || reqs[0].Header.Get("Idempotency-Key") != reqs[1].Header.Get("Idempotency-Key") {
					t.Errorf("requests = %d, want 2 with the same Idempotency-Key", len(reqs))
				}
			})
		}
	}
	t.Run("refused twice", func(t *testing.T) {
		mfr := manufacturer(t, nil)
		mfr.Answer(http.StatusUnauthorized, `{"errors": ["who are you"]}`)
		tenant, c, w := auth0Setup(t, mfr)
		res := call(t, c, w)
		if res.Outcome != callout.OutcomeAuthFailed || res.Attempts != 2 || res.HTTPStatus != 401 {
			t.Errorf("Outcome = %s, HTTP %d after %d attempts, want auth_failed, 401 after 2", res.Outcome, res.HTTPStatus, res.Attempts)
		}
		if n := tenant.count(); n != 2 {
			t.Errorf("%d tokens fetched, want 2", n)
		}
	})
	t.Run("token error", func(t *testing.T) {
		mfr := manufacturer(t, nil)
		mfr.Answer(http.StatusOK, `{}`)
		tenant, c, w := auth0Setup(t, mfr)
		tenant.failWith = "access_denied"
		res := call(t, c, w)
		if res.Outcome != callout.OutcomeAuthFailed || res.Attempts != 0 {
			t.Fatalf("Outcome = %s after %d attempts, want auth_failed after none", res.Outcome, res.Attempts)
		}
		if !strings.Contains(res.Detail, "access_denied") || !strings.Contains(res.Detail, "Unauthorized client") {
			t.Errorf("Detail = %q, want Auth0's error and description", res.Detail)
		}
		if len(mfr.Requests()) != 0 {
			t.Errorf("the webhook got %d requests, want none", len(mfr.Requests()))
		}
		checkNoSecret(t, res, testClientSecret)
	})
	t.Run("token fetch within the timeout", func(t *testing.T) {
		mfr := manufacturer(t, nil)
		mfr.Answer(http.StatusOK, `{}`)
		tenant, c, w := auth0Setup(t, mfr)
		tenant.hang = true
		w.TimeoutMS = 300
		res := call(t, c, w)
		if res.Outcome != callout.OutcomeTimeout || res.Attempts != 0 {
			t.Errorf("Outcome = %s after %d attempts (%s), want webhook_timeout after none", res.Outcome, res.Attempts, res.Detail)
		}
		if res.Duration < 300*time.Millisecond || res.Duration > 300*time.Millisecond+2*time.Second {
			t.Errorf("Duration = %s, want about 300 ms", res.Duration)
		}
	})
	t.Run("tenant blocked", func(t *testing.T) {
		mfr := manufacturer(t, nil)
		mfr.Answer(http.StatusOK, `{}`)
		_, _, w := auth0Setup(t, mfr)
		hc := webhook.NewHTTPClient(webhook.Policy{AllowInsecureHTTP: true})
		tokens := auth.NewAuth0Tokens(auth.Auth0Options{HTTPClient: hc})
		t.Cleanup(tokens.Close)
		// The webhook may be reached, its Auth0 tenant on loopback may not.
		c := webhook.New(webhook.Options{HTTPClient: webhook.NewHTTPClient(openPolicy), Policy: openPolicy, Tokens: tokens})
		res := call(t, c, w)
		if res.Outcome != callout.OutcomeDestinationBlocked {
			t.Errorf("Outcome = %s (%s), want destination_blocked", res.Outcome, res.Detail)
		}
	})
	t.Run("no token source", func(t *testing.T) {
		mfr := manufacturer(t, nil)
		mfr.Answer(http.StatusOK, `{}`)
		_, _, w := auth0Setup(t, mfr)
		res := call(t, newClient(t, webhook.Options{}), w)
		if res.Outcome != callout.OutcomeAuthFailed || res.Attempts != 0 {
			t.Errorf("Outcome = %s after %d attempts, want auth_failed after none", res.Outcome, res.Attempts)
		}
	})
}

// checkNoSecret fails when a secret appears anywhere in the result or the
// delivery Fill writes from it. The message never quotes the secret.
func checkNoSecret(t *testing.T, res *webhook.Result, secrets ...string) {
	t.Helper()
	var d callout.Delivery
	res.Fill(&d)
	texts := map[string]string{
		"result":               fmt.Sprintf("%+v", *res),
		"result response body": string(res.ResponseBody),
		"delivery":             fmt.Sprintf("%+v", d),
	}
	for where, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("the %s holds a secret (%d characters long)", where, len(s))
			}
		}
	}
}
