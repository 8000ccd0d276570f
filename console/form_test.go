package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/callout/callout"
)

// TestWebhookPatch checks how the editor's form becomes the API's body:
// empty secrets are left out (the stored ones are kept), only the chosen
// authentication's settings are sent, and a number that is not one is
// reported against its field.
func TestWebhookPatch(t *testing.T) {
	base := url.Values{"enabled": {"true"}, "url": {"https://erp.example.com/price"}, "export_format": {"json"},
		"timeout_ms": {"5000"}, "retries": {"1"}, "cache_seconds": {"0"}, "generic_error_message": {"Sorry"},
		"breaker.consecutive_failures": {"5"}, "breaker.open_seconds": {"30"}}
	with := func(kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range base {
			v[k] = vs
		}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name       string
		kind       callout.Kind
		form       url.Values
		wantAuth   string
		wantSecret any // the body's signing_secret; nil for none
		wantFields map[string]string
	}{
		{"bearer, token kept", callout.KindPricing, with("auth.type", "bearer", "auth.bearer_token", "",
			"auth.auth0.client_secret", "stale"), `{"type":"bearer"}`, nil, map[string]string{}},
		{"bearer, new token", callout.KindPricing, with("auth.type", "bearer", "auth.bearer_token", "t0k"),
			`{"bearer_token":"t0k","type":"bearer"}`, nil, map[string]string{}},
		{"auth0, secret kept, bearer ignored", callout.KindPricing, with("auth.type", "auth0", "auth.bearer_token", "stale",
			"auth.auth0.tenant_domain", "x.auth0.com", "auth.auth0.client_id", "cid", "auth.auth0.audience", "aud"),
			`{"auth0":{"audience":"aud","client_id":"cid","tenant_domain":"x.auth0.com"},"type":"auth0"}`, nil, map[string]string{}},
		{"new signing secret", callout.KindPricing, with("auth.type", "none", "signing_secret", "whsec_abc"),
			`{"type":"none"}`, "whsec_abc", map[string]string{}},
		{"signing secret removed", callout.KindPricing, with("auth.type", "none", "signing_secret_remove", "true"),
			`{"type":"none"}`, "", map[string]string{}},
		{"not a number", callout.KindPricing, with("auth.type", "none", "timeout_ms", "fast"),
			`{"type":"none"}`, nil, map[string]string{"timeout_ms": "must be a whole number"}},
		{"submission sends no retries or cache", callout.KindSubmission, with("auth.type", "none", "retries", "x"),
			`{"type":"none"}`, nil, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequest("POST", "/", strings.NewReader(tt.form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			body, fields := webhookPatch(r, tt.kind)
			auth, err := json.Marshal(body["auth"])
			if err != nil {
				t.Fatal(err)
			}
			if string(auth) != tt.wantAuth {
				t.Errorf("auth = %s, want %s", auth, tt.wantAuth)
			}
			if got := body["signing_secret"]; got != tt.wantSecret {
				t.Errorf("signing_secret = %#v, want %#v", got, tt.wantSecret)
			}
			if diff := cmp.Diff(tt.wantFields, fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			_, hasRetries := body["retries"]
			if hasRetries != (tt.kind == callout.KindPricing) {
				t.Errorf("retries sent = %v for %s", hasRetries, tt.kind)
			}
		})
	}
}

// TestEndpointBody checks how the endpoint editor's form becomes the API's
// body: filters split at commas and white space (none: every event), an
// empty rate limit for none, secrets only when typed, and a number that is
// not one reported against its field.
func TestEndpointBody(t *testing.T) {
	base := url.Values{"enabled": {"true"}, "url": {"https://erp.example.com/events"}, "description": {" ERP "},
		"format": {"flat"}, "timeout_ms": {"5000"}, "max_attempts": {"3"}, "auth.type": {"none"}}
	tests := []struct {
		name       string
		set        []string
		want       map[string]any // members of the body to check
		wantFields map[string]string
	}{
		{"defaults", nil, map[string]any{"events": []string{"*"}, "rate_limit_per_second": 0, "description": "ERP",
			"format": "flat", "timeout_ms": 5000, "max_attempts": 3, "enabled": true}, map[string]string{}},
		{"filters", []string{"events", " moved_to_ready,job.*\n  callout.ping "},
			map[string]any{"events": []string{"moved_to_ready", "job.*", "callout.ping"}}, map[string]string{}},
		{"rate limit", []string{"rate_limit_per_second", "20"}, map[string]any{"rate_limit_per_second": 20}, map[string]string{}},
		{"disabled", []string{"enabled", ""}, map[string]any{"enabled": false}, map[string]string{}},
		{"secrets when typed", []string{"auth.type", "bearer", "auth.bearer_token", "t0k", "signing_secret", "whsec_abc"},
			map[string]any{"auth": map[string]any{"type": "bearer", "bearer_token": "t0k"}, "signing_secret": "whsec_abc"}, map[string]string{}},
		{"secrets kept", []string{"auth.type", "bearer"}, map[string]any{"auth": map[string]any{"type": "bearer"}, "signing_secret": nil}, map[string]string{}},
		{"not numbers", []string{"max_attempts", "many", "rate_limit_per_second", "fast"}, nil,
			map[string]string{"max_attempts": "must be a whole number", "rate_limit_per_second": "must be a whole number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{}
			for k, v := range base {
				form[k] = v
			}
			for i := 0; i+1 < len(tt.set); i += 2 {
				form.Set(tt.set[i], tt.set[i+1])
			}
			r, err := http.NewRequest("POST", "/", strings.NewReader(form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			body, fields := endpointBody(r)
			for k, want := range tt.want {
				if diff := cmp.Diff(want, body[k]); diff != "" {
					t.Errorf("%s (-want +got):\n%s", k, diff)
				}
			}
			if diff := cmp.Diff(tt.wantFields, fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}
