package gateway_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callout/callout/auth"
	"github.com/callout/callout/config"
)

// tenant is manufacturer 103 with its three kinds of user.
type tenant struct {
	*api
	platform, admin, app as
}

func newTenant(t *testing.T, configure ...func(*config.Config)) *tenant {
	a := newAPI(t, configure...)
	tn := &tenant{api: a, platform: a.as(auth.RolePlatform, ""), admin: a.as(auth.RoleAdmin, "103"), app: a.as(auth.RoleApp, "103")}
	expect(t, tn.platform.do("PUT", "/v1/manufacturers/103", map[string]string{"name": "Example Cabinets"}), 201, "")
	return tn
}

// hook points the webhook of kind at the fake manufacturer with a bearer token.
func (tn *tenant) hook(kind string, extra map[string]any) {
	cfg := map[string]any{
		"url":  tn.mfr.URL + "/" + kind,
		"auth": map[string]any{"type": "bearer", "bearer_token": "tok-" + kind + "-s3cr3t"},
	}
	for k, v := range extra {
		cfg[k] = v
	}
	expect(tn.t, tn.admin.do("PUT", "/v1/manufacturers/103/webhooks/"+kind, cfg), 200, "")
}

// storeSeed stores seed 001's customer and job through the API.
func (tn *tenant) storeSeed() (export, job, customer []byte) {
	export, job, customer = seed(tn.t)
	expect(tn.t, tn.app.do("PUT", "/v1/manufacturers/103/customers/27465", customer), 200, "")
	body := fmt.Sprintf(`{"job": %s, "export": %s}`, job, export)
	expect(tn.t, tn.app.do("PUT", "/v1/manufacturers/103/jobs/338167", body), 200, "")
	return export, job, customer
}

func TestHealth(t *testing.T) {
	a := newAPI(t)
	expect(t, a.call("GET", "/healthz", "", nil), 200, "")
	expect(t, a.call("GET", "/readyz", "", nil), 200, "")
	r := a.call("GET", "/metrics", "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), "callout_http_requests_total") {
		t.Fatalf("metrics: %d\n%.500s", r.status, r.body)
	}
}

func TestAuthentication(t *testing.T) {
	tn := newTenant(t)
	path := "/v1/manufacturers/103"
	expired, err := auth.Mint(tn.secret, auth.RolePlatform, "", time.Minute, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	forged, err := auth.Mint([]byte("another secret of at least 32 bytes!!"), auth.RolePlatform, "", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	algNone := enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		enc([]byte(fmt.Sprintf(`{"role":"platform","exp":%d}`, time.Now().Add(time.Hour).Unix()))) + "."
	for name, tok := range map[string]string{"none": "", "garbage": "not-a-jwt", "expired": expired, "forged": forged, "alg none": algNone} {
		t.Run(name, func(t *testing.T) {
			r := tn.call("GET", path, tok, nil)
			expect(t, r, 401, "unauthorized")
			want := `Bearer realm="callout", error="invalid_token"`
			if tok == "" {
				want = `Bearer realm="callout"`
			}
			if got := r.header.Get("WWW-Authenticate"); got != want {
				t.Errorf("WWW-Authenticate %q, want %q", got, want)
			}
		})
	}
	t.Run("two Authorization headers", func(t *testing.T) {
		good := tn.token(auth.RolePlatform, "")
		req, err := http.NewRequest("GET", tn.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Add("Authorization", "Bearer "+good)
		req.Header.Add("Authorization", "Bearer "+forged)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("status %d for two Authorization headers, want 400", resp.StatusCode)
		}
	})
	t.Run("wrong role is 403", func(t *testing.T) {
		expect(t, tn.app.do("PUT", path, map[string]string{"name": "x"}), 403, "forbidden")
		expect(t, tn.app.do("GET", path, nil), 403, "forbidden")
		expect(t, tn.admin.do("PUT", path+"/jobs/1", `{"job": {}, "export": {}}`), 403, "forbidden")
	})
	t.Run("another manufacturer's token sees 404", func(t *testing.T) {
		other := tn.as(auth.RoleAdmin, "104")
		expect(t, other.do("GET", path, nil), 404, "not_found")
		expect(t, other.do("GET", path+"/deliveries", nil), 404, "not_found")
		expect(t, tn.as(auth.RoleApp, "104").do("GET", path+"/jobs/338167", nil), 404, "not_found")
	})
}

// TestEveryRouteGuarded checks every /v1 route: no token is 401, a role the
// route does not allow is 403, and an allowed role of another manufacturer
// is 404, as if manufacturer 103 did not exist.
func TestEveryRouteGuarded(t *testing.T) {
	tn := newTenant(t)
	const m = "/v1/manufacturers/103"
	routes := []struct {
		method, path string
		roles        []auth.Role
	}{
		{"PUT", m, []auth.Role{auth.RolePlatform}},
		{"GET", m, []auth.Role{auth.RolePlatform, auth.RoleAdmin}},
		{"PUT", m + "/webhooks/pricing", []auth.Role{auth.RoleAdmin}},
		{"PATCH", m + "/webhooks/pricing", []auth.Role{auth.RoleAdmin}},
		{"GET", m + "/webhooks/pricing", []auth.Role{auth.RoleAdmin}},
		{"DELETE", m + "/webhooks/pricing", []auth.Role{auth.RoleAdmin}},
		{"POST", m + "/webhooks/pricing/test", []auth.Role{auth.RoleAdmin}},
		{"GET", m + "/deliveries", []auth.Role{auth.RoleAdmin}},
		{"GET", m + "/deliveries/d1", []auth.Role{auth.RoleAdmin}},
		{"PUT", m + "/customers/c1", []auth.Role{auth.RoleApp}},
		{"GET", m + "/customers/c1", []auth.Role{auth.RoleApp, auth.RoleAdmin}},
		{"PUT", m + "/jobs/j1", []auth.Role{auth.RoleApp}},
		{"GET", m + "/jobs/j1", []auth.Role{auth.RoleApp, auth.RoleAdmin}},
		{"POST", m + "/jobs/j1/submit", []auth.Role{auth.RoleApp}},
		{"POST", m + "/jobs/j1/price", []auth.Role{auth.RoleApp}},
	}
	for _, r := range routes {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			expect(t, tn.call(r.method, r.path, "", `{}`), 401, "unauthorized")
			for _, role := range []auth.Role{auth.RolePlatform, auth.RoleAdmin, auth.RoleApp} {
				allowed := slices.Contains(r.roles, role)
				if !allowed {
					mfr := "103"
					if role == auth.RolePlatform {
						mfr = ""
					}
					expect(t, tn.call(r.method, r.path, tn.token(role, mfr), `{}`), 403, "forbidden")
				} else if role != auth.RolePlatform {
					expect(t, tn.call(r.method, r.path, tn.token(role, "104"), `{}`), 404, "not_found")
				}
			}
		})
	}
}

func TestManufacturers(t *testing.T) {
	tn := newTenant(t)
	r := expect(t, tn.platform.do("PUT", "/v1/manufacturers/103", map[string]string{"name": "Renamed"}), 200, "")
	if r["name"] != "Renamed" || r["id"] != "103" {
		t.Errorf("renamed manufacturer: %v", r)
	}
	if got := expect(t, tn.admin.do("GET", "/v1/manufacturers/103", nil), 200, ""); got["name"] != "Renamed" {
		t.Errorf("admin reads %v", got)
	}
	expect(t, tn.platform.do("GET", "/v1/manufacturers/999", nil), 404, "not_found")
	expect(t, tn.platform.do("PUT", "/v1/manufacturers/bad%20id", map[string]string{"name": "x"}), 422, "validation_failed")
	expect(t, tn.platform.do("PUT", "/v1/manufacturers/104", `{"name": "x", "colour": "red"}`), 422, "validation_failed")
	expect(t, tn.platform.do("PUT", "/v1/manufacturers/104", `{}`), 422, "validation_failed")
	expect(t, tn.platform.do("PUT", "/v1/manufacturers/104", `{"name": `), 400, "bad_request")
	r = expect(t, tn.platform.do("DELETE", "/v1/manufacturers/103", nil), 405, "method_not_allowed")
	expect(t, tn.platform.do("GET", "/v1/nothing/here", nil), 404, "not_found")
}

func TestWebhookConfig(t *testing.T) {
	tn := newTenant(t)
	path := "/v1/manufacturers/103/webhooks/submission"
	expect(t, tn.admin.do("GET", path, nil), 404, "not_found")
	tn.hook("submission", map[string]any{"signing_secret": "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))})

	r := tn.admin.do("GET", path, nil)
	got := expect(t, r, 200, "")
	if strings.Contains(string(r.body), "s3cr3t") || strings.Contains(string(r.body), "whsec_") {
		t.Fatalf("a secret in the response: %s", r.body)
	}
	authm := got["auth"].(map[string]any)
	if authm["bearer_token_set"] != true || got["signing_secret_set"] != true || got["timeout_ms"] != 15000.0 || got["enabled"] != true {
		t.Errorf("redacted config: %s", r.body)
	}

	// PATCH changes what it names and keeps the omitted secrets: the
	// manufacturer still gets the bearer token.
	got = expect(t, tn.admin.do("PATCH", path, map[string]any{"timeout_ms": 2000, "generic_error_message": "Call us"}), 200, "")
	if got["timeout_ms"] != 2000.0 || got["auth"].(map[string]any)["bearer_token_set"] != true {
		t.Errorf("patched: %v", got)
	}
	expect(t, tn.admin.do("POST", path+"/test", nil), 200, "")
	reqs := tn.mfr.Received()
	if len(reqs) != 1 || reqs[0].Header.Get("Authorization") != "Bearer tok-submission-s3cr3t" || reqs[0].Header.Get("Webhook-Signature") == "" {
		t.Fatalf("the manufacturer got %d requests, headers %v", len(reqs), reqs)
	}

	t.Run("invalid config gets one message per field", func(t *testing.T) {
		p := expect(t, tn.admin.do("PUT", path, map[string]any{
			"url": "ftp://example.com", "timeout_ms": 5, "auth": map[string]any{"type": "magic"}, "export_format": "pdf",
		}), 422, "validation_failed")
		fields := map[string]bool{}
		for _, f := range p["fields"].([]any) {
			fields[f.(map[string]any)["field"].(string)] = true
		}
		for _, want := range []string{"url", "timeout_ms", "auth.type", "export_format"} {
			if !fields[want] {
				t.Errorf("no message for %s: %v", want, p["fields"])
			}
		}
		expect(t, tn.admin.do("PUT", path, `{"url": "https://example.com", "colour": "red"}`), 422, "validation_failed")
		expect(t, tn.admin.do("PUT", "/v1/manufacturers/103/webhooks/shipping", map[string]any{"url": "https://example.com"}), 404, "not_found")
		// Nothing changed.
		if got := expect(t, tn.admin.do("GET", path, nil), 200, ""); got["timeout_ms"] != 2000.0 {
			t.Errorf("a refused config changed the webhook: %v", got)
		}
	})

	expect(t, tn.app.do("GET", path, nil), 403, "forbidden")
	expect(t, tn.as(auth.RoleAdmin, "104").do("GET", "/v1/manufacturers/104/webhooks/submission", nil), 404, "not_found")
	expect(t, tn.admin.do("DELETE", path, nil), 204, "")
	expect(t, tn.admin.do("GET", path, nil), 404, "not_found")
}

func TestWebhookTestRoute(t *testing.T) {
	tn := newTenant(t)
	tn.hook("pricing", nil)
	tn.mfr.Answer(200, `{"cost": 99.95, "breakdown": {"name": "Doors", "cost": "99.95"}}`)
	got := expect(t, tn.admin.do("POST", "/v1/manufacturers/103/webhooks/pricing/test", nil), 200, "")
	if got["outcome"] != "accepted" || got["http_status"] != 200.0 || got["cost"] != 99.95 {
		t.Errorf("test result: %v", got)
	}
	if _, ok := got["duration_ms"].(float64); !ok {
		t.Errorf("no duration: %v", got)
	}
	list := expect(t, tn.admin.do("GET", "/v1/manufacturers/103/deliveries", nil), 200, "")
	ds := list["deliveries"].([]any)
	if len(ds) != 1 || ds[0].(map[string]any)["test"] != true {
		t.Errorf("the test callout's delivery: %v", list)
	}
}

func TestDocuments(t *testing.T) {
	tn := newTenant(t)
	expect(t, tn.app.do("PUT", "/v1/manufacturers/103/customers/5", `{"id": 6, "name": "x"}`), 422, "validation_failed")
	expect(t, tn.app.do("PUT", "/v1/manufacturers/103/customers/5", `[1]`), 422, "validation_failed")
	r := expect(t, tn.app.do("PUT", "/v1/manufacturers/103/customers/5", `{"id": 5, "name": "Joinery Co"}`), 200, "")
	if r["id"] != "5" {
		t.Errorf("customer: %v", r)
	}
	if got := tn.admin.do("GET", "/v1/manufacturers/103/customers/5", nil); !bytes.Contains(got.body, []byte(`"customer":{"id": 5, "name": "Joinery Co"}`)) {
		t.Errorf("the customer document is not as stored: %s", got.body)
	}

	jobs := "/v1/manufacturers/103/jobs/"
	expect(t, tn.app.do("PUT", jobs+"1", `{"job": {"id": 2, "customerId": 5}, "export": {}}`), 422, "validation_failed")
	expect(t, tn.app.do("PUT", jobs+"1", `{"job": {"customerId": 77}, "export": {}}`), 422, "validation_failed")
	expect(t, tn.app.do("PUT", jobs+"1", `{"job": {"customerId": 5}}`), 422, "validation_failed")
	expect(t, tn.app.do("PUT", jobs+"1", `{"job": {"customerId": 5}, "export": {}, "extra": 1}`), 422, "validation_failed")
	expect(t, tn.app.do("PUT", jobs+"1", `{"job": {"customerId": 5}, "export": {}, "customer": {"id": 9}}`), 422, "validation_failed")

	// An inline customer is stored with the job.
	job := expect(t, tn.app.do("PUT", jobs+"1", `{"job": {"id": "1", "customerId": 8, "cost": 10}, "export": {"a": 1}, "customer": {"id": 8}}`), 200, "")
	if job["status"] != "processing" || job["customer_id"] != "8" || job["external_id"] != nil || job["pricing"] != nil {
		t.Errorf("job resource: %v", job)
	}
	expect(t, tn.app.do("GET", "/v1/manufacturers/103/customers/8", nil), 200, "")
	for _, k := range []string{"id", "manufacturer_id", "customer_id", "status", "submitted_at", "external_id", "messages", "pricing", "updated_at"} {
		if _, ok := job[k]; !ok {
			t.Errorf("job resource has no %q: %v", k, job)
		}
	}
	expect(t, tn.admin.do("GET", jobs+"1", nil), 200, "")
	expect(t, tn.app.do("GET", jobs+"2", nil), 404, "not_found")

	big := `{"job": {"customerId": 5, "pad": "` + strings.Repeat("x", maxRequestBytes) + `"}, "export": {}}`
	expect(t, tn.app.do("PUT", jobs+"3", big), 413, "payload_too_large")
	expect(t, tn.app.do("GET", jobs+"3", nil), 404, "not_found")
}

// TestGoldenPayload stores seed 001's documents through the API and finds
// them at the manufacturer byte for byte.
func TestGoldenPayload(t *testing.T) {
	tn := newTenant(t)
	tn.hook("pricing", nil)
	tn.mfr.Answer(200, `{"cost": 332.96}`)
	export, job, customer := tn.storeSeed()
	expect(t, tn.app.do("POST", "/v1/manufacturers/103/jobs/338167/price", nil), 200, "")
	reqs := tn.mfr.Received()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	want := `{"export":` + string(export) + `,"job":` + string(job) + `,"customer":` + string(customer) + `}`
	if string(reqs[0].Body) != want {
		t.Fatalf("payload differs from the stored documents\n got: %.300s\nwant: %.300s", reqs[0].Body, want)
	}
	if ct := reqs[0].Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestSubmit(t *testing.T) {
	submit := "/v1/manufacturers/103/jobs/338167/submit"
	t.Run("accepted", func(t *testing.T) {
		tn := newTenant(t)
		tn.hook("submission", nil)
		tn.storeSeed()
		tn.mfr.Answer(200, `{"success": "yes", "id": 123456, "message": ["Order #123456", ""]}`)
		r := tn.app.do("POST", submit, nil, "X-Request-Id", "req-abc-123")
		got := expect(t, r, 200, "")
		if got["submitted"] != true || got["external_id"] != "123456" || fmt.Sprint(got["messages"]) != "[Order #123456]" {
			t.Fatalf("submit: %s", r.body)
		}
		if r.header.Get("X-Request-Id") != "req-abc-123" {
			t.Errorf("request id not echoed: %q", r.header.Get("X-Request-Id"))
		}
		in := tn.mfr.Received()[0]
		if in.Header.Get("X-Request-Id") != "req-abc-123" || !strings.HasPrefix(in.Header.Get("Idempotency-Key"), "callout-") ||
			in.Header.Get("X-Callout-Delivery") == "" || !strings.HasPrefix(in.Header.Get("User-Agent"), "callout/") {
			t.Errorf("outbound headers: %v", in.Header)
		}
		job := expect(t, tn.app.do("GET", "/v1/manufacturers/103/jobs/338167", nil), 200, "")
		if job["status"] != "submitted" || job["external_id"] != "123456" || job["submitted_at"] == nil {
			t.Errorf("job after submit: %v", job)
		}
		p := expect(t, tn.app.do("POST", submit, nil), 409, "job_already_submitted")
		if p["job"].(map[string]any)["external_id"] != "123456" {
			t.Errorf("409 carries the job: %v", p)
		}
		_, jobDoc, _ := seed(t)
		expect(t, tn.app.do("PUT", "/v1/manufacturers/103/jobs/338167", `{"job": `+string(jobDoc)+`, "export": {}}`), 409, "job_submitted")
		if n := len(tn.mfr.Received()); n != 1 {
			t.Errorf("the manufacturer got %d requests", n)
		}
	})

	t.Run("rejected keeps the job processing", func(t *testing.T) {
		tn := newTenant(t)
		tn.hook("submission", map[string]any{"generic_error_message": "Please call us"})
		tn.storeSeed()
		tn.mfr.Answer(200, `{"success": false, "errors": ["Door style discontinued", 42]}`)
		p := expect(t, tn.app.do("POST", submit, nil), 422, "rejected")
		if fmt.Sprint(p["errors"]) != "[Door style discontinued 42]" {
			t.Errorf("errors: %v", p["errors"])
		}
		tn.mfr.Answer(200, `{"success": "0"}`)
		p = expect(t, tn.app.do("POST", submit, nil), 422, "rejected")
		if fmt.Sprint(p["errors"]) != "[Please call us]" {
			t.Errorf("generic message: %v", p["errors"])
		}
		tn.mfr.Answer(503, `upstream down`)
		p = expect(t, tn.app.do("POST", submit, nil), 502, "webhook_error")
		if es, _ := p["errors"].([]any); len(es) != 1 || strings.Contains(fmt.Sprint(es), "upstream") {
			t.Errorf("customer message: %v", p["errors"])
		}
		job := expect(t, tn.app.do("GET", "/v1/manufacturers/103/jobs/338167", nil), 200, "")
		if job["status"] != "processing" {
			t.Errorf("job after failures: %v", job)
		}
	})

	t.Run("without a webhook", func(t *testing.T) {
		tn := newTenant(t)
		tn.storeSeed()
		got := expect(t, tn.app.do("POST", submit, nil), 200, "")
		if got["submitted"] != true || got["external_id"] != nil {
			t.Errorf("submit without a webhook: %v", got)
		}
	})

	t.Run("idempotency key", func(t *testing.T) {
		tn := newTenant(t)
		tn.hook("submission", nil)
		tn.storeSeed()
		expect(t, tn.app.do("PUT", "/v1/manufacturers/103/jobs/2", `{"job": {"customerId": 27465}, "export": {}}`), 200, "")
		tn.mfr.Answer(200, `{"success": false, "errors": "Credit limit reached"}`)
		first := tn.app.do("POST", submit, nil, "Idempotency-Key", "k-1")
		expect(t, first, 422, "rejected")
		tn.mfr.Answer(200, `{"id": "JPS-1"}`)
		again := tn.app.do("POST", submit, nil, "Idempotency-Key", "k-1")
		if again.status != first.status || !bytes.Equal(again.body, first.body) || again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: %d %s, want %d %s", again.status, again.body, first.status, first.body)
		}
		expect(t, tn.app.do("POST", "/v1/manufacturers/103/jobs/2/submit", nil, "Idempotency-Key", "k-1"), 422, "idempotency_key_reused")
		expect(t, tn.app.do("POST", submit, nil, "Idempotency-Key", "has space"), 422, "validation_failed")
		// A new key is a new attempt.
		expect(t, tn.app.do("POST", submit, nil, "Idempotency-Key", "k-2"), 200, "")
		if n := len(tn.mfr.Received()); n != 2 {
			t.Errorf("the manufacturer got %d requests, want 2", n)
		}
	})

	t.Run("a request that made no callout is not kept for its key", func(t *testing.T) {
		tn := newTenant(t)
		tn.hook("submission", map[string]any{"export_format": "csv"})
		_, jobDoc, _ := tn.storeSeed()
		// An export CSV cannot render: refused before any callout.
		expect(t, tn.app.do("PUT", "/v1/manufacturers/103/jobs/338167", `{"job": `+string(jobDoc)+`, "export": {"JobRooms": 5}}`), 200, "")
		expect(t, tn.app.do("POST", submit, nil, "Idempotency-Key", "k-1"), 422, "validation_failed")
		expect(t, tn.app.do("PUT", "/v1/manufacturers/103/jobs/338167", `{"job": `+string(jobDoc)+`, "export": {"JobRooms": []}}`), 200, "")
		r := tn.app.do("POST", submit, nil, "Idempotency-Key", "k-1")
		expect(t, r, 200, "")
		if r.header.Get("Idempotent-Replayed") != "" || len(tn.mfr.Received()) != 1 {
			t.Errorf("the retry after the fix was a replay: %s", r.body)
		}
	})
	t.Run("concurrent submits make one callout", func(t *testing.T) {
		tn := newTenant(t)
		tn.hook("submission", nil)
		tn.storeSeed()
		tn.mfr.Answer(200, `{"id": "JPS-990495"}`)
		release := tn.mfr.Hold()
		const n = 20
		bodies := make([]*response, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { bodies[i] = tn.app.do("POST", submit, nil) })
		}
		tn.awaitInFlight(n)
		release()
		wg.Wait()
		for _, r := range bodies {
			got := expect(t, r, 200, "")
			if got["external_id"] != "JPS-990495" {
				t.Errorf("a caller saw %s", r.body)
			}
		}
		if got := len(tn.mfr.Received()); got != 1 {
			t.Errorf("%d callouts, want 1", got)
		}
	})
}

func TestPrice(t *testing.T) {
	price := "/v1/manufacturers/103/jobs/338167/price"
	t.Run("prices beyond the callout limit wait their turn", func(t *testing.T) {
		const limit, n = 2, 5
		tn := newTenant(t, func(c *config.Config) { c.MaxConcurrentCallouts, c.MaxCalloutsPerManufacturer = limit, limit })
		tn.hook("pricing", nil)
		export, job, _ := tn.storeSeed()
		// Prices of one job would share a callout: each caller prices its own.
		for i := 1; i < n; i++ {
			doc := bytes.Replace(job, []byte(`"id": 338167`), []byte(fmt.Sprintf(`"id": %d`, 338167+i)), 1)
			expect(t, tn.app.do("PUT", fmt.Sprintf("/v1/manufacturers/103/jobs/%d", 338167+i), fmt.Sprintf(`{"job": %s, "export": %s}`, doc, export)), 200, "")
		}
		tn.mfr.Answer(200, `{"cost": 10}`)
		release := tn.mfr.Hold()
		results := make([]*response, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				results[i] = tn.app.do("POST", fmt.Sprintf("/v1/manufacturers/103/jobs/%d/price", 338167+i), nil)
			})
		}
		tn.awaitInFlight(n)
		// The limit holds once the others wait for a slot while the first
		// ones are at the manufacturer; without it, the others never wait.
		tn.eventually(fmt.Sprintf("%d requests waiting for a slot", n-limit), func() bool { return tn.waitingForSlot() == n-limit })
		tn.eventually(fmt.Sprintf("%d prices at the manufacturer", limit), func() bool { return len(tn.mfr.Received()) == limit })
		if got := len(tn.mfr.Received()); got != limit {
			t.Errorf("%d prices reached the manufacturer at once, want %d", got, limit)
		}
		release()
		wg.Wait()
		for _, r := range results {
			expect(t, r, 200, "")
		}
		if got := len(tn.mfr.Received()); got != n {
			t.Errorf("%d callouts in all, want %d", got, n)
		}
	})
	t.Run("builtin without a webhook", func(t *testing.T) {
		tn := newTenant(t)
		_, jobDoc, _ := tn.storeSeed()
		var doc struct{ Cost json.Number }
		if err := json.Unmarshal(jobDoc, &doc); err != nil || doc.Cost == "" {
			t.Fatalf("the seed job has no cost: %v", err)
		}
		r := tn.app.do("POST", price, nil)
		got := expect(t, r, 200, "")
		if got["source"] != "builtin" || got["stale"] != false || !bytes.Contains(r.body, []byte(`"cost":`+doc.Cost.String())) {
			t.Errorf("builtin price: %s", r.body)
		}
	})
	t.Run("webhook, then stale fallback", func(t *testing.T) {
		tn := newTenant(t)
		tn.hook("pricing", nil)
		tn.storeSeed()
		tn.mfr.Answer(200, `{"cost": 1234.56, "message": "10% off", "breakdown": [{"name": "Tax", "cost": "101.01", "collapse": "0", "items": [{"name": ""}]}],}`)
		r := tn.app.do("POST", price, nil)
		got := expect(t, r, 200, "")
		if !bytes.Contains(r.body, []byte(`"cost":1234.56`)) || got["source"] != "webhook" || got["stale"] != false {
			t.Fatalf("price: %s", r.body)
		}
		if want := `[map[collapse:false cost:101.01 items:[] name:Tax]]`; fmt.Sprint(got["breakdown"]) != want {
			t.Errorf("breakdown: %v", got["breakdown"])
		}
		job := expect(t, tn.app.do("GET", "/v1/manufacturers/103/jobs/338167", nil), 200, "")
		if job["pricing"] == nil {
			t.Fatalf("pricing not saved: %v", job)
		}

		tn.mfr.Answer(500, `{"errors": ["Pricing engine offline"]}`)
		p := expect(t, tn.app.do("POST", price, nil), 422, "rejected")
		prev, _ := p["previous"].(map[string]any)
		if fmt.Sprint(p["errors"]) != "[Pricing engine offline]" || prev == nil || prev["stale"] != true {
			t.Errorf("fallback: %v", p)
		}
		tn.mfr.Answer(200, `{"message": "no cost"}`)
		expect(t, tn.app.do("POST", price, nil), 502, "bad_response")
	})
	t.Run("an open breaker fails fast and stores no delivery", func(t *testing.T) {
		tn := newTenant(t)
		tn.hook("pricing", map[string]any{"retries": 0, "breaker": map[string]any{"consecutive_failures": 2, "open_seconds": 30}})
		tn.storeSeed()
		tn.mfr.Answer(503, `{}`)
		for range 2 {
			expect(t, tn.app.do("POST", price, nil), 502, "webhook_error")
		}
		r := tn.app.do("POST", price, nil)
		p := expect(t, r, 503, "circuit_open")
		if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" || fmt.Sprint(p["errors"]) == "[]" {
			t.Errorf("circuit_open: Retry-After %q, %s", ra, r.body)
		}
		if n := len(tn.mfr.Received()); n != 2 {
			t.Errorf("the manufacturer got %d requests, want 2", n)
		}
		ds := expect(t, tn.admin.do("GET", "/v1/manufacturers/103/deliveries", nil), 200, "")["deliveries"].([]any)
		if len(ds) != 2 {
			t.Errorf("%d deliveries, want the 2 callouts made", len(ds))
		}
	})
	t.Run("cache_seconds reuses a price for unchanged content", func(t *testing.T) {
		tn := newTenant(t)
		tn.hook("pricing", map[string]any{"cache_seconds": 60})
		_, jobDoc, _ := tn.storeSeed()
		tn.mfr.Answer(200, `{"cost": 7}`)
		for range 3 {
			expect(t, tn.app.do("POST", price, nil), 200, "")
		}
		if n := len(tn.mfr.Received()); n != 1 {
			t.Fatalf("%d callouts for unchanged content, want 1", n)
		}
		expect(t, tn.app.do("PUT", "/v1/manufacturers/103/jobs/338167", `{"job": `+string(jobDoc)+`, "export": {}}`), 200, "")
		expect(t, tn.app.do("POST", price, nil), 200, "")
		if n := len(tn.mfr.Received()); n != 2 {
			t.Errorf("%d callouts after the job changed, want 2", n)
		}
	})
	t.Run("identical concurrent requests share one callout", func(t *testing.T) {
		tn := newTenant(t)
		tn.hook("pricing", nil)
		tn.storeSeed()
		tn.mfr.Answer(200, `{"cost": "10.50"}`)
		release := tn.mfr.Hold()
		var wg sync.WaitGroup
		results := make([]*response, 10)
		for i := range results {
			wg.Go(func() { results[i] = tn.app.do("POST", price, nil) })
		}
		tn.awaitInFlight(len(results))
		release()
		wg.Wait()
		for _, r := range results {
			if r.status != 200 || !bytes.Contains(r.body, []byte(`"cost":10.50`)) {
				t.Errorf("%d %s", r.status, r.body)
			}
		}
		if n := len(tn.mfr.Received()); n != 1 {
			t.Errorf("%d callouts, want 1", n)
		}
	})
}

func TestDeliveries(t *testing.T) {
	tn := newTenant(t)
	tn.hook("pricing", nil)
	tn.storeSeed()
	tn.mfr.Answer(200, `{"cost": 1}`)
	for range 3 {
		expect(t, tn.app.do("POST", "/v1/manufacturers/103/jobs/338167/price", nil), 200, "")
	}
	tn.mfr.Answer(503, `{}`)
	expect(t, tn.app.do("POST", "/v1/manufacturers/103/jobs/338167/price", nil), 502, "webhook_error")

	base := "/v1/manufacturers/103/deliveries"
	var ids []string
	cursor := ""
	for page := 0; ; page++ {
		got := expect(t, tn.admin.do("GET", base+"?kind=pricing&job=338167&limit=3&cursor="+cursor, nil), 200, "")
		for _, d := range got["deliveries"].([]any) {
			ids = append(ids, d.(map[string]any)["id"].(string))
		}
		next, _ := got["next_cursor"].(string)
		if next == "" || page > 5 {
			break
		}
		cursor = next
	}
	if len(ids) != 4 {
		t.Fatalf("%d deliveries over the pages, want 4: %v", len(ids), ids)
	}
	failed := expect(t, tn.admin.do("GET", base+"?outcome=webhook_error", nil), 200, "")["deliveries"].([]any)
	if len(failed) != 1 || failed[0].(map[string]any)["id"] != ids[0] {
		t.Errorf("newest first, filtered by outcome: %v (ids %v)", failed, ids)
	}
	d := expect(t, tn.admin.do("GET", base+"/"+ids[0], nil), 200, "")
	// A pricing webhook retries once by default: the 503 was answered twice.
	if d["http_status"] != 503.0 || d["attempts"] != 2.0 || d["outcome"] != "webhook_error" {
		t.Errorf("delivery: %v", d)
	}
	expect(t, tn.admin.do("GET", base+"?limit=0", nil), 422, "validation_failed")
	expect(t, tn.admin.do("GET", base+"?outcome=fine", nil), 422, "validation_failed")
	expect(t, tn.admin.do("GET", base+"?cursor=zzz", nil), 422, "validation_failed")
	expect(t, tn.admin.do("GET", base+"/nope", nil), 404, "not_found")
	expect(t, tn.app.do("GET", base, nil), 403, "forbidden")

	metrics := string(tn.call("GET", "/metrics", "", nil).body)
	for _, want := range []string{
		`callout_callouts_total{kind="pricing",manufacturer="103",outcome="accepted"} 3`,
		`callout_callouts_total{kind="pricing",manufacturer="103",outcome="webhook_error"} 1`,
		`callout_callout_duration_seconds_count{kind="pricing",manufacturer="103",outcome="accepted"} 3`,
		`callout_http_requests_total{method="POST",route="/v1/manufacturers/:m/jobs/:j/price",status="200"} 3`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
