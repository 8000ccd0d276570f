package console_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/callout/callout/auth"
	"github.com/callout/callout/console"
)

// TestSignInLink checks the link's life: it starts a session in an
// HttpOnly, SameSite=Strict cookie of 8 hours, Secure behind TLS; it works
// once; only the platform may ask for one, of a manufacturer that exists.
func TestSignInLink(t *testing.T) {
	c := newSite(t)
	link := c.link("103")
	if !strings.HasPrefix(link, c.url+console.SignInPath+"?token=") {
		t.Fatalf("link %q, want %s%s?token=…", link, c.url, console.SignInPath)
	}
	b := c.browser()
	p := b.do("GET", link, nil, "X-Forwarded-Proto", "https")
	if p.status != http.StatusOK {
		t.Fatalf("first use: status %d, want 200\n%s", p.status, p.body)
	}
	cookie := p.header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Secure", "Path=/console/", "Max-Age=28800"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("Set-Cookie %q lacks %s", cookie, want)
		}
	}

	second := c.browser().do("GET", link, nil)
	if second.status != http.StatusForbidden || !strings.Contains(second.body, "expired or was already used") {
		t.Errorf("second use: status %d, want 403 saying the link was used\n%s", second.status, second.body)
	}
	if second.header.Get("Set-Cookie") != "" {
		t.Errorf("second use set a cookie: %s", second.header.Get("Set-Cookie"))
	}

	plain := c.browser().do("GET", c.link("103"), nil)
	if strings.Contains(plain.header.Get("Set-Cookie"), "Secure") {
		t.Errorf("over plain http the cookie is Secure, and would never come back: %s", plain.header.Get("Set-Cookie"))
	}

	expired := c.link("103")
	c.clock.Add(console.LinkTTL)
	if p := c.browser().do("GET", expired, nil); p.status != http.StatusForbidden {
		t.Errorf("a link 10 minutes old: status %d, want 403", p.status)
	}

	c.api("POST", "/v1/manufacturers/103/console-links", auth.RoleAdmin, "103", "", http.StatusForbidden)
	c.api("POST", "/v1/manufacturers/999/console-links", auth.RolePlatform, "", "", http.StatusNotFound)
}

// TestSessionEnds checks that a session ends after 8 hours and on sign-out,
// and that a page then sends the browser to sign in.
func TestSessionEnds(t *testing.T) {
	c := newSite(t)
	b := c.browser()
	b.signIn("103")
	c.clock.Add(console.SessionTTL - time.Second)
	if p := b.do("GET", "/console/m/103/", nil); p.status != http.StatusOK {
		t.Fatalf("just before 8 hours: status %d, want 200", p.status)
	}
	c.clock.Add(time.Second)
	if p := b.do("GET", "/console/m/103/", nil); p.status != http.StatusSeeOther || p.header.Get("Location") != console.SignInPath {
		t.Errorf("after 8 hours: status %d to %q, want 303 to %s", p.status, p.header.Get("Location"), console.SignInPath)
	}

	csrf := b.signIn("103")
	if p := b.do("POST", "/console/sign-out", url.Values{"csrf": {csrf}}); p.status != http.StatusOK {
		t.Fatalf("sign-out: status %d\n%s", p.status, p.body)
	}
	if p := b.do("GET", "/console/m/103/", nil); p.status != http.StatusSeeOther {
		t.Errorf("after signing out: status %d, want 303 to sign in", p.status)
	}
}

// TestForgedPostsRefused checks each guard against cross-site forgery on its
// own: a form without the session's token, with another session's token,
// and one the browser reports as cross-site even with the right token.
func TestForgedPostsRefused(t *testing.T) {
	c := newSite(t)
	c.hooks("103")
	b := c.browser()
	csrf := b.signIn("103")
	other := c.browser().signIn("103")
	form := func(token string) url.Values {
		return url.Values{"csrf": {token}, "enabled": {"true"}, "url": {c.mfr.URL + "/forged"}, "auth.type": {"none"},
			"export_format": {"json"}, "timeout_ms": {"5000"}, "retries": {"0"}, "cache_seconds": {"0"},
			"generic_error_message": {"x"}, "breaker.consecutive_failures": {"5"}, "breaker.open_seconds": {"30"}}
	}
	for _, tt := range []struct {
		name   string
		form   url.Values
		header []string
	}{
		{"no token", form(""), nil},
		{"another session's token", form(other), nil},
		{"cross-site", form(csrf), []string{"Sec-Fetch-Site", "cross-site"}},
		{"same-site, other origin", form(csrf), []string{"Sec-Fetch-Site", "same-site"}},
		{"foreign Origin", form(csrf), []string{"Origin", "https://evil.example"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if p := b.do("POST", "/console/m/103/webhooks/pricing", tt.form, tt.header...); p.status != http.StatusForbidden {
				t.Errorf("status %d, want 403\n%s", p.status, p.body)
			}
		})
	}
	if got := c.api("GET", "/v1/manufacturers/103/webhooks/pricing", auth.RoleAdmin, "103", "", http.StatusOK); strings.Contains(string(got), "forged") {
		t.Fatalf("a refused form changed the webhook: %s", got)
	}
	if p := b.do("POST", "/console/m/103/webhooks/pricing", form(csrf), "Sec-Fetch-Site", "same-origin"); p.status != http.StatusSeeOther {
		t.Fatalf("the console's own form: status %d, want 303\n%s", p.status, p.body)
	}
}

// TestTenancy checks that a session of manufacturer 103 reaches nothing of
// 104, page or form, with 404 as the API answers; and that a platform
// session reaches both.
func TestTenancy(t *testing.T) {
	c := newSite(t)
	c.hooks("104")
	c.endpoint("104")
	event104 := c.api("GET", "/v1/manufacturers/104/events/evt104", auth.RoleAdmin, "104", "", http.StatusOK)
	b := c.browser()
	csrf := b.signIn("103")
	for _, path := range []string{"/console/m/104/", "/console/m/104/webhooks/pricing", "/console/m/104/deliveries",
		"/console/m/104/deliveries/x", "/console/m/104/jobs", "/console/m/104/jobs/1",
		"/console/m/104/endpoints", "/console/m/104/endpoints/new", "/console/m/104/endpoints/erp104",
		"/console/m/104/endpoints/erp104/attempts", "/console/m/104/events", "/console/m/104/events/evt104",
		"/console/m/104/event-types"} {
		if p := b.do("GET", path, nil); p.status != http.StatusNotFound || strings.Contains(p.body, "Cabinets 104") {
			t.Errorf("GET %s: status %d, want 404 showing nothing of 104", path, p.status)
		}
	}
	since := url.Values{"csrf": {csrf}, "since": {"2020-01-01T00:00"}}
	for _, path := range []string{"/console/m/104/webhooks/pricing", "/console/m/104/webhooks/pricing/test",
		"/console/m/104/endpoints", "/console/m/104/endpoints/erp104", "/console/m/104/endpoints/erp104/test",
		"/console/m/104/endpoints/erp104/recover", "/console/m/104/events/evt104/redeliver"} {
		if p := b.do("POST", path, since); p.status != http.StatusNotFound {
			t.Errorf("POST %s: status %d, want 404", path, p.status)
		}
	}
	// 103's own pages show nothing of 104's event and endpoint either.
	for _, path := range []string{"/console/m/103/events/evt104", "/console/m/103/endpoints/erp104",
		"/console/m/103/endpoints/erp104/attempts"} {
		if p := b.do("GET", path, nil); p.status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, p.status)
		}
	}
	if p := b.do("GET", "/console/m/103/events", nil); p.status != http.StatusOK || strings.Contains(p.body, "evt104") {
		t.Errorf("103's event log: status %d, want 200 without 104's event", p.status)
	}
	if n := c.mfr.Requests(); n != 0 {
		t.Errorf("the manufacturer got %d requests, want none", n)
	}
	if got := c.api("GET", "/v1/manufacturers/104/events/evt104", auth.RoleAdmin, "104", "", http.StatusOK); string(got) != string(event104) {
		t.Errorf("104's event changed: %s, was %s", got, event104)
	}
	if got := c.api("GET", "/v1/manufacturers/104/endpoints", auth.RoleAdmin, "104", "", http.StatusOK); strings.Count(string(got), `"id"`) != 1 {
		t.Errorf("104's endpoints changed: %s", got)
	}

	platform := c.browser()
	platform.do("GET", c.link(""), nil)
	if p := platform.do("GET", "/console/", nil); p.status != http.StatusOK || !strings.Contains(p.body, `id="m"`) {
		t.Errorf("platform session's home: status %d, want 200 with the manufacturer field", p.status)
	}
	if p := platform.do("GET", "/console/?m=104", nil); p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/m/104/" {
		t.Errorf("opening manufacturer 104: status %d to %q, want 303 to /console/m/104/", p.status, p.header.Get("Location"))
	}
	if p := b.do("GET", "/console/", nil); p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/m/103/" {
		t.Errorf("manufacturer session's home: status %d to %q, want 303 to /console/m/103/", p.status, p.header.Get("Location"))
	}
	for _, m := range []string{"103", "104"} {
		if p := platform.do("GET", "/console/m/"+m+"/", nil); p.status != http.StatusOK || !strings.Contains(p.body, "Cabinets "+m) {
			t.Errorf("platform session, manufacturer %s: status %d, want 200", m, p.status)
		}
	}
	if p := platform.do("GET", "/console/m/999/", nil); p.status != http.StatusNotFound {
		t.Errorf("platform session, a manufacturer that does not exist: status %d, want 404", p.status)
	}
}

// TestNoSecretInPages checks every page of a manufacturer whose webhooks hold
// every kind of secret: none shows one, and each says "set".
func TestNoSecretInPages(t *testing.T) {
	c := newSite(t)
	c.hooks("103")
	c.endpoint("103")
	c.mfr.Answer(200, `{"cost": 10}`)
	b := c.browser()
	csrf := b.signIn("103")
	pages := []*page{
		b.do("GET", "/console/m/103/endpoints", nil),
		b.do("GET", "/console/m/103/endpoints/erp103", nil),
		b.do("POST", "/console/m/103/endpoints/erp103/test", url.Values{"csrf": {csrf}}),
		b.do("GET", "/console/m/103/events/evt103", nil),
		b.do("POST", "/console/m/103/endpoints/erp103", url.Values{"csrf": {csrf}, "auth.type": {"bearer"},
			"auth.bearer_token": {"typed-s3cr3t-in-a-bad-form"}, "signing_secret": {"typed-s3cr3t-in-a-bad-form"}, "timeout_ms": {"1"}}),
		b.do("GET", "/console/m/103/", nil),
		b.do("GET", "/console/m/103/webhooks/pricing", nil),
		b.do("GET", "/console/m/103/webhooks/submission", nil),
		b.do("POST", "/console/m/103/webhooks/pricing/test", url.Values{"csrf": {csrf}}),
		b.do("GET", "/console/m/103/deliveries", nil),
		// A refused form is shown again, without the secrets it carried.
		b.do("POST", "/console/m/103/webhooks/pricing", url.Values{"csrf": {csrf}, "auth.type": {"bearer"},
			"auth.bearer_token": {"typed-s3cr3t-in-a-bad-form"}, "timeout_ms": {"1"}}),
	}
	for i, p := range pages {
		for _, secret := range []string{bearerSecret, auth0Secret, signingSecret, "typed-s3cr3t-in-a-bad-form", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"} {
			if strings.Contains(p.body, secret) {
				t.Errorf("page %d shows the secret %q", i, secret)
			}
		}
	}
	for _, i := range []int{1, 6} {
		if !strings.Contains(pages[i].body, `<span class="badge good">set</span>`) {
			t.Errorf("page %d, an editor, does not say the bearer token is set", i)
		}
	}
	if !strings.Contains(pages[2].body, "[redacted]") {
		t.Errorf("the endpoint test's page does not show the redacted headers:\n%s", pages[2].body)
	}
}

// TestEventLogFilters checks that the event log passes its filters to the
// API (the console's UTC date and time as RFC 3339) and shows a filter the
// API refuses beside its input.
func TestEventLogFilters(t *testing.T) {
	c := newSite(t)
	c.endpoint("103")
	b := c.browser()
	b.signIn("103")
	for _, tt := range []struct {
		query, want, wantNot string
		status               int
	}{
		{"event=moved_to_ready", "evt103", "", http.StatusOK},
		{"event=job.submitted", "No events match", "evt103", http.StatusOK},
		{"since=2000-01-01T00%3A00", "evt103", "", http.StatusOK},
		{"until=2000-01-01T00%3A00", "No events match", "evt103", http.StatusOK},
		{"event=a+b", `id="event-error"`, "evt103", http.StatusUnprocessableEntity},
		{"since=yesterday", `id="since-error"`, "evt103", http.StatusUnprocessableEntity},
	} {
		p := b.do("GET", "/console/m/103/events?"+tt.query, nil)
		if p.status != tt.status || !strings.Contains(p.body, tt.want) || (tt.wantNot != "" && strings.Contains(p.body, tt.wantNot)) {
			t.Errorf("?%s: status %d, want %d showing %q and not %q\n%s", tt.query, p.status, tt.status, tt.want, tt.wantNot, p.body)
		}
	}
}

// TestEventLogPages checks the event log's pager: a full page links to the
// older events with the filters as the person typed them, and that link
// shows the rest.
func TestEventLogPages(t *testing.T) {
	c := newSite(t)
	c.endpoint("103")
	for i := range 25 {
		c.api("POST", "/v1/manufacturers/103/events", auth.RolePlatform, "", fmt.Sprintf(`{"event": "job.held", "id": "later-%d", "data": {}}`, i), http.StatusAccepted)
	}
	b := c.browser()
	b.signIn("103")
	p := b.do("GET", "/console/m/103/events?since=2000-01-01T00%3A00", nil)
	_, rest, ok := strings.Cut(p.body, `href="?`)
	if p.status != http.StatusOK || !ok || strings.Contains(p.body, "evt103") {
		t.Fatalf("the first page: status %d, want 200 with a link to older events and without the oldest\n%s", p.status, p.body)
	}
	next, _, _ := strings.Cut(rest, `"`)
	next = html.UnescapeString(next)
	if !strings.Contains(next, "since=2000-01-01T00%3A00") || !strings.Contains(next, "cursor=") {
		t.Errorf("the link to older events is ?%s, want the since typed and a cursor", next)
	}
	if p := b.do("GET", "/console/m/103/events?"+next, nil); p.status != http.StatusOK || !strings.Contains(p.body, "evt103") || strings.Contains(p.body, `href="?`) {
		t.Errorf("older events: status %d, want 200 showing evt103 and no further page\n%s", p.status, p.body)
	}
}
