package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/callout/callout/auth"
	"github.com/callout/callout/config"
	"github.com/callout/callout/console"
	"github.com/callout/callout/internal/buffertest"
	"github.com/callout/callout/internal/clocktest"
	"github.com/callout/callout/internal/fakemanufacturer"
	"github.com/callout/callout/server"
)

// Secrets configured on the webhooks of the tests; no page may show them.
const (
	bearerSecret  = "tok-s3cr3t-bearer-0123456789"
	auth0Secret   = "auth0-s3cr3t-client-0123456789"
	signingSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

// site is a whole Callout (real SQLite store, real outbound client) behind
// an httptest server, with a settable clock for the console, a fake
// manufacturer, and manufacturers 103 and 104.
type site struct {
	t      *testing.T
	url    string
	secret []byte
	clock  *clocktest.Clock
	srv    *server.Server
	mfr    *fakemanufacturer.Server
	logs   *buffertest.Buffer
}

func newSite(t *testing.T) *site {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Dev = true
	cfg.AllowPrivateNetworks, cfg.AllowInsecureHTTP = true, true
	cfg.LogLevel = "debug"
	secrets, err := cfg.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	clock := clocktest.New(time.Now())
	logs := &buffertest.Buffer{}
	srv, err := server.New(context.Background(), cfg, secrets, server.NewLogger(cfg, logs), "test", server.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	mfr := fakemanufacturer.New()
	t.Cleanup(func() {
		mfr.Close()
		hs.Close()
		srv.Close()
	})
	c := &site{t: t, url: hs.URL, srv: srv, secret: secrets.JWTSecret, clock: clock, mfr: mfr, logs: logs}
	for _, m := range []string{"103", "104"} {
		c.api("PUT", "/v1/manufacturers/"+m, auth.RolePlatform, "", `{"name": "Cabinets `+m+`"}`, http.StatusCreated)
	}
	return c
}

// api calls the API with a token of role (and manufacturer m) and checks the
// status; it returns the body.
func (c *site) api(method, path string, role auth.Role, m, body string, status int) []byte {
	c.t.Helper()
	tok, err := auth.Mint(c.secret, role, m, time.Hour, time.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		c.t.Fatalf("%s %s: status %d, want %d\n%s", method, path, resp.StatusCode, status, data)
	}
	return data
}

// link asks the API for a sign-in link of manufacturer m's console; for
// "", it makes a platform operator's link as the console-link command does.
func (c *site) link(m string) string {
	c.t.Helper()
	if m == "" {
		l, err := console.NewLinks(c.srv.Store(), c.clock.Now).Issue(context.Background(), "")
		if err != nil {
			c.t.Fatal(err)
		}
		return c.url + l.Path
	}
	var got struct {
		URL       string    `json:"url"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(c.api("POST", "/v1/manufacturers/"+m+"/console-links", auth.RolePlatform, "", "", http.StatusCreated), &got); err != nil {
		c.t.Fatal(err)
	}
	return got.URL
}

// hooks configures both webhooks of m on the fake manufacturer, with every
// kind of secret.
func (c *site) hooks(m string) {
	c.t.Helper()
	c.api("PUT", "/v1/manufacturers/"+m+"/webhooks/pricing", auth.RoleAdmin, m, `{"url": "`+c.mfr.URL+`/price",
		"auth": {"type": "bearer", "bearer_token": "`+bearerSecret+`"}, "signing_secret": "`+signingSecret+`"}`, http.StatusOK)
	c.api("PUT", "/v1/manufacturers/"+m+"/webhooks/submission", auth.RoleAdmin, m, `{"url": "`+c.mfr.URL+`/submit",
		"auth": {"type": "auth0", "auth0": {"tenant_domain": "`+c.mfr.URL+`", "client_id": "cid", "client_secret": "`+auth0Secret+`", "audience": "erp"}}}`, http.StatusOK)
}

// endpoint subscribes m's event endpoint erp{m} on the fake manufacturer,
// with every kind of secret, and publishes event evt{m} to it.
func (c *site) endpoint(m string) {
	c.t.Helper()
	c.api("PUT", "/v1/manufacturers/"+m+"/endpoints/erp"+m, auth.RoleAdmin, m, `{"url": "`+c.mfr.URL+`/events",
		"auth": {"type": "bearer", "bearer_token": "`+bearerSecret+`"}, "signing_secret": "`+signingSecret+`"}`, http.StatusOK)
	c.api("POST", "/v1/manufacturers/"+m+"/events", auth.RolePlatform, "", `{"event": "moved_to_ready", "id": "evt`+m+`", "data": {}}`, http.StatusAccepted)
}

// browser is a plain HTTP client with a cookie jar, standing in for a
// browser where the test needs to see headers and statuses.
type browser struct {
	t      *testing.T
	c      *site
	client *http.Client
}

func (c *site) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return &browser{t: c.t, c: c, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// page is one answer to the browser.
type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values, header ...string) *page {
	b.t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = b.c.url + path
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return &page{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

// signIn opens a fresh link of m's console ("" for a platform link, made
// by the CLI's way) and returns the session's CSRF token.
func (b *browser) signIn(m string) string {
	b.t.Helper()
	p := b.do("GET", b.c.link(m), nil)
	if p.status != http.StatusOK {
		b.t.Fatalf("opening the sign-in link: status %d\n%s", p.status, p.body)
	}
	p = b.do("GET", "/console/m/"+m+"/", nil)
	if p.status != http.StatusOK {
		b.t.Fatalf("the overview after signing in: status %d\n%s", p.status, p.body)
	}
	return csrfOf(b.t, p.body)
}

// csrfOf finds the CSRF token in a page's forms.
func csrfOf(t *testing.T, body string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `name="csrf" value="`)
	if !ok {
		t.Fatalf("no CSRF token in the page:\n%s", body)
	}
	token, _, _ := strings.Cut(rest, `"`)
	return token
}
