package webhook_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callout/callout"
	"github.com/callout/callout/auth0"
	"github.com/callout/callout/internal/fakeauth0"
	"github.com/callout/callout/internal/fakemanufacturer"
	"github.com/callout/callout/webhook"
)

const testClientSecret = "auth0-client-secret-value"

// auth0Setup starts a fake Auth0 and returns a client with a real token
// cache and a webhook configured for it.
func auth0Setup(t *testing.T, mfr *fakemanufacturer.Server) (*fakeauth0.Server, *webhook.Client, *callout.Webhook) {
	t.Helper()
	tenant := fakeauth0.New("erp")
	t.Cleanup(tenant.Close)
	hc := webhook.NewHTTPClient(openPolicy)
	tokens := auth0.New(auth0.Options{HTTPClient: hc})
	t.Cleanup(tokens.Close)
	c := webhook.New(webhook.Options{HTTPClient: hc, Policy: openPolicy, Tokens: tokens})
	w := newHook(callout.KindSubmission, mfr.URL)
	w.Auth = callout.Auth{Type: callout.AuthAuth0, Auth0: callout.Auth0{
		TenantDomain: tenant.URL,
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
		for i, r := range mfr.Received() {
			if got := r.Header.Get("Authorization"); got != "Bearer erp-tok-1" {
				t.Errorf("request %d: Authorization = %q, want Bearer erp-tok-1", i+1, got)
			}
		}
		if n := tenant.Requests(); n != 1 {
			t.Errorf("%d tokens fetched, want 1", n)
		}
		if got := tenant.Last(); got.ClientID != "client-1" || got.ClientSecret != testClientSecret || got.Audience != "https://erp.example.com" {
			t.Errorf("the token request did not carry the webhook's credentials")
		}
	})
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		for _, kind := range []callout.Kind{callout.KindSubmission, callout.KindPricing} {
			t.Run(fmt.Sprintf("%s/%d then accepted", kind, status), func(t *testing.T) {
				mfr := manufacturer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get("Authorization") != "Bearer erp-tok-2" {
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
				if n := tenant.Requests(); n != 2 {
					t.Errorf("%d tokens fetched, want 2", n)
				}
				checkWarnings(t, res.Warnings, []string{fmt.Sprintf("retried with a fresh Auth0 token after HTTP %d", status)})
				reqs := mfr.Received()
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
		if n := tenant.Requests(); n != 2 {
			t.Errorf("%d tokens fetched, want 2", n)
		}
	})
	t.Run("token error", func(t *testing.T) {
		mfr := manufacturer(t, nil)
		mfr.Answer(http.StatusOK, `{}`)
		tenant, c, w := auth0Setup(t, mfr)
		// A careless endpoint echoes what it got.
		tenant.Respond(func(w http.ResponseWriter, r fakeauth0.Request) {
			fakeauth0.WriteError(w, http.StatusUnauthorized, "access_denied", "Unauthorized client "+r.ClientID+" (secret "+r.ClientSecret+")")
		})
		res := call(t, c, w)
		if res.Outcome != callout.OutcomeAuthFailed || res.Attempts != 0 {
			t.Fatalf("Outcome = %s after %d attempts, want auth_failed after none", res.Outcome, res.Attempts)
		}
		if !strings.Contains(res.Detail, "access_denied") || !strings.Contains(res.Detail, "Unauthorized client") {
			t.Errorf("Detail = %q, want Auth0's error and description", res.Detail)
		}
		if len(mfr.Received()) != 0 {
			t.Errorf("the webhook got %d requests, want none", len(mfr.Received()))
		}
		checkNoSecret(t, res, testClientSecret)
	})
	t.Run("token fetch within the timeout", func(t *testing.T) {
		mfr := manufacturer(t, nil)
		mfr.Answer(http.StatusOK, `{}`)
		tenant, c, w := auth0Setup(t, mfr)
		tenant.Hold() // never answers
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
		tokens := auth0.New(auth0.Options{HTTPClient: hc})
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
