package console_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/callout/callout/auth"
	"github.com/callout/callout/console"
	"github.com/callout/callout/payload"
)

// updateScreenshots writes the screenshots the browser tests take into
// docs/screenshots, for the README; otherwise they go to a temporary
// directory, still taken, so that every page is rendered at both widths.
var updateScreenshots = flag.Bool("screenshots", false, "write the console's screenshots into docs/screenshots")

// chromium finds the browser, or skips the test: locally a missing Chromium
// skips, on CI (CI=true) it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium found, and CI=true: install Debian's chromium package (.ci/run does)")
	}
	t.Skip("no Chromium found: install Debian's chromium package (apt-get install chromium) to run the browser tests")
	return ""
}

// newBrowser starts a headless Chromium, closed when the test ends. The
// flags keep it off the network: the machine's closed network refuses its
// background connections.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		t.Fatalf("starting Chromium: %v", err)
	}
	return bctx
}

// tab opens a tab in a browser context of its own: its own cookies, as a
// different person's browser would have.
func tab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	return ctx
}

// do runs browser actions, failing the test on an error.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// eval returns the value of a JavaScript expression in the tab's page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// onPage waits until the tab shows the named console page.
func onPage(name string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(`body[data-page="` + name + `"]`))
}

// submit clicks the button sel and waits until the next page shows the
// element want: the old page is marked first, so that an element it holds
// already is not mistaken for the new page's.
func submit(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	do(t, ctx,
		chromedp.Evaluate[chromedp.Void](`document.body.dataset.stale = "1"`),
		chromedp.Click(chromedp.CSS(sel)),
		chromedp.WaitVisible(chromedp.CSS("body:not([data-stale]) "+want)),
	)
}

// screenshot saves the whole page at 1280 and 375 px wide, after checking
// that a screen reader can name every control of the page.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	unlabelled := eval[[]string](t, ctx, `[...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
		.filter(e => e.labels.length === 0 && !e.getAttribute("aria-label")).map(e => e.name)`)
	if len(unlabelled) > 0 {
		t.Errorf("the %s page has controls without a label: %q", name, unlabelled)
	}
	dir := t.TempDir()
	if *updateScreenshots {
		dir = filepath.Join("..", "docs", "screenshots")
	}
	for _, width := range []int64{1280, 375} {
		do(t, ctx, chromedp.EmulateViewport(width, 800))
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot of %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, width)), png, 0o644); err != nil {
			t.Fatal(err)
		}
		if width == 375 {
			// Readable at 375 px: nothing wider than the screen.
			if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 375 {
				t.Errorf("the %s page is %d px wide on a 375 px screen", name, w)
			}
		}
	}
	do(t, ctx, chromedp.EmulateViewport(1280, 900))
}

// pricingAnswer is the fake manufacturer's price: a collapsed node and an
// open one.
const pricingAnswer = `{"cost": 1234.56, "message": "Price valid for 30 days",
	"breakdown": [
		{"name": "Cabinets", "cost": 1100, "collapse": false, "items": [{"name": "Base 600", "cost": 700}, {"name": "Wall 900", "cost": 400}]},
		{"name": "Discounts", "collapse": true, "items": [{"name": "10% First Order Discount", "cost": -123.46}]},
		{"name": "Tax", "cost": 258.02}]}`

// TestBrowser drives the console in Chromium, one step after another on one
// Callout: each subtest proves one thing a user relies on.
func TestBrowser(t *testing.T) {
	browser := newBrowser(t)
	c := newSite(t)
	c.mfr.Answer(200, pricingAnswer)
	c.hooks("103")
	c.hooks("104")
	// A priced job, for the job page.
	export, job, customer := payload.Sample()
	c.api("PUT", "/v1/manufacturers/103/jobs/338167", auth.RoleApp, "103",
		fmt.Sprintf(`{"job": %s, "export": %s, "customer": %s}`, job, export, customer), http.StatusCreated)
	c.api("POST", "/v1/manufacturers/103/jobs/338167/price", auth.RoleApp, "103", "", http.StatusOK)

	me := tab(t, browser)
	link := c.link("103")

	t.Run("sign in by link", func(t *testing.T) {
		do(t, me, chromedp.Navigate(link), onPage("overview"))
		if got := eval[string](t, me, `document.querySelector("h1").textContent`); got != "Webhooks" {
			t.Errorf("h1 %q, want Webhooks", got)
		}
		if got := eval[string](t, me, `document.querySelector("[data-breaker=pricing]").textContent`); got != "closed" {
			t.Errorf("pricing breaker %q, want closed", got)
		}
		// A keyboard user's first Tab reaches the link past the header.
		do(t, me, chromedp.KeyEvent("\t"))
		if got := eval[string](t, me, `document.activeElement.textContent`); got != "Skip to content" {
			t.Errorf("the first Tab focuses %q, want the skip link", got)
		}
		// The session cookie is not for scripts.
		if got := eval[string](t, me, `document.cookie`); got != "" {
			t.Errorf("document.cookie = %q, want nothing: the session cookie is HttpOnly", got)
		}
		screenshot(t, me, "overview")
	})

	t.Run("a second use of the link is refused", func(t *testing.T) {
		other := tab(t, browser)
		do(t, other, chromedp.Navigate(link), onPage("signin"))
		if got := eval[string](t, other, `document.querySelector(".error").textContent`); !strings.Contains(got, "expired or was already used") {
			t.Errorf("second use shows %q, want that the link was used", got)
		}
	})

	t.Run("editing a webhook to Auth0 and back to bearer", func(t *testing.T) {
		do(t, me, chromedp.Navigate(c.url+"/console/m/103/webhooks/pricing"), onPage("webhook"))
		visible := func(auth string) bool {
			return !eval[bool](t, me, `document.querySelector('[data-auth="`+auth+`"]').hidden`)
		}
		if !visible("bearer") || visible("auth0") {
			t.Fatalf("a bearer webhook's editor: bearer shown %v, Auth0 shown %v; want only bearer", visible("bearer"), visible("auth0"))
		}
		do(t, me,
			chromedp.SetValue(chromedp.CSS("#auth-type"), "auth0"),
			chromedp.Evaluate[chromedp.Void](`document.querySelector("#auth-type").dispatchEvent(new Event("change"))`),
		)
		if visible("bearer") || !visible("auth0") {
			t.Fatalf("after choosing Auth0: bearer shown %v, Auth0 shown %v; want only Auth0", visible("bearer"), visible("auth0"))
		}
		do(t, me,
			chromedp.SendKeys(chromedp.CSS("#auth-auth0-tenant_domain"), c.mfr.URL),
			chromedp.SendKeys(chromedp.CSS("#auth-auth0-client_id"), "console-client"),
			chromedp.SendKeys(chromedp.CSS("#auth-auth0-client_secret"), "typed-auth0-s3cr3t"),
			chromedp.SendKeys(chromedp.CSS("#auth-auth0-audience"), "https://erp.example.com"),
		)
		submit(t, me, `.editor button[type=submit]`, ".notice")
		got := webhookOf(t, c, "pricing")
		if got.Auth.Type != "auth0" || got.Auth.Auth0 == nil || !got.Auth.Auth0.ClientSecretSet || got.Auth.Auth0.ClientID != "console-client" || got.Auth.BearerTokenSet != nil {
			t.Fatalf("after saving Auth0: auth %+v, want auth0 with its secret set and no bearer token", got.Auth)
		}
		if body := eval[string](t, me, `document.documentElement.outerHTML`); strings.Contains(body, "typed-auth0-s3cr3t") {
			t.Fatal("the saved page shows the Auth0 client secret")
		}
		if got := eval[string](t, me, `document.querySelector("#auth-auth0-client_secret-state").textContent`); !strings.Contains(got, "set") {
			t.Errorf("the client secret's state reads %q, want set", got)
		}

		do(t, me,
			chromedp.SetValue(chromedp.CSS("#auth-type"), "bearer"),
			chromedp.Evaluate[chromedp.Void](`document.querySelector("#auth-type").dispatchEvent(new Event("change"))`),
			chromedp.SendKeys(chromedp.CSS("#auth-bearer_token"), "typed-bearer-s3cr3t"),
		)
		submit(t, me, `.editor button[type=submit]`, ".notice")
		got = webhookOf(t, c, "pricing")
		if got.Auth.Type != "bearer" || got.Auth.BearerTokenSet == nil || !*got.Auth.BearerTokenSet || got.Auth.Auth0 != nil {
			t.Fatalf("after saving bearer: auth %+v, want bearer with its token set and no Auth0 settings", got.Auth)
		}
	})

	t.Run("the generate button makes a signing secret", func(t *testing.T) {
		do(t, me, chromedp.Navigate(c.url+"/console/m/103/webhooks/pricing"), onPage("webhook"),
			chromedp.Click(chromedp.CSS(`[data-generate="signing_secret"]`)))
		got := eval[string](t, me, `document.querySelector("#signing_secret").value`)
		if !regexp.MustCompile(`^whsec_[A-Za-z0-9+/]{43}=$`).MatchString(got) {
			t.Errorf("generated %q, want whsec_ and the base64 of 32 bytes", got)
		}
	})

	t.Run("a field error is shown beside its field", func(t *testing.T) {
		do(t, me, chromedp.Navigate(c.url+"/console/m/103/webhooks/pricing"), onPage("webhook"),
			chromedp.SetValue(chromedp.CSS("#timeout_ms"), "5"),
		)
		submit(t, me, `.editor button[type=submit]`, "#timeout_ms-error")
		if got := eval[string](t, me, `document.querySelector("#timeout_ms-error").textContent`); !strings.Contains(got, "must be from 100 to 60000") {
			t.Errorf("the timeout's error reads %q, want the API's message", got)
		}
		beside := eval[bool](t, me, `(() => { const i = document.querySelector("#timeout_ms");
			return i.parentElement.contains(document.querySelector("#timeout_ms-error")) &&
				i.getAttribute("aria-invalid") === "true" && i.getAttribute("aria-describedby") === "timeout_ms-error"; })()`)
		if !beside {
			t.Error("the error is not beside the timeout input, or the input does not point to it for screen readers")
		}
		if n := eval[int](t, me, `document.querySelectorAll(".field-error").length`); n != 1 {
			t.Errorf("%d field errors shown, want 1", n)
		}
		if got := webhookOf(t, c, "pricing"); got.TimeoutMS == 5 {
			t.Error("the refused form was saved")
		}
		screenshot(t, me, "webhook-editor")
	})

	t.Run("send test shows the answer and the breakdown tree", func(t *testing.T) {
		do(t, me, chromedp.Navigate(c.url+"/console/m/103/"), onPage("overview"))
		submit(t, me, `form[action="webhooks/pricing/test"] button`, "#outcome")
		for sel, want := range map[string]string{"#outcome": "accepted", "#http-status": "200", "#cost": "1234.56", "#messages": "Price valid for 30 days"} {
			if got := eval[string](t, me, `document.querySelector("`+sel+`").textContent`); !strings.Contains(got, want) {
				t.Errorf("%s reads %q, want %q", sel, got, want)
			}
		}
		open := eval[map[string]bool](t, me, `Object.fromEntries([...document.querySelectorAll("#breakdown details")].map(d => [d.querySelector(".name").textContent, d.open]))`)
		if want := map[string]bool{"Cabinets": true, "Discounts": false}; fmt.Sprint(open) != fmt.Sprint(want) {
			t.Errorf("breakdown nodes open: %v, want %v (collapse: true starts collapsed)", open, want)
		}
		screenshot(t, me, "send-test")
	})

	t.Run("a delivery's detail", func(t *testing.T) {
		do(t, me, chromedp.Navigate(c.url+"/console/m/103/deliveries?kind=pricing"), onPage("deliveries"))
		screenshot(t, me, "deliveries")
		submit(t, me, `tbody tr:first-child td:first-child a`, "#response-body")
		if got := eval[string](t, me, `document.querySelector("#outcome").textContent`); got != "accepted" {
			t.Errorf("the delivery's outcome reads %q, want accepted", got)
		}
		if got := eval[string](t, me, `document.querySelector("#response-body").textContent`); !strings.Contains(got, "First Order Discount") {
			t.Errorf("the delivery's response body reads %q, want the manufacturer's answer", got)
		}
		screenshot(t, me, "delivery")
	})

	t.Run("a job's status, messages and pricing", func(t *testing.T) {
		do(t, me, chromedp.Navigate(c.url+"/console/m/103/jobs/338167"), onPage("job"))
		if got := eval[string](t, me, `document.querySelector("#status").textContent`); got != "processing" {
			t.Errorf("the job's status reads %q, want processing", got)
		}
		screenshot(t, me, "job")
	})

	t.Run("event endpoints, the event log and the catalogue", func(t *testing.T) {
		events(t, c, me)
	})

	t.Run("a forged cross-site POST is refused", func(t *testing.T) {
		before := webhookOf(t, c, "pricing")
		// Another site, on a host name of its own: localhost is another
		// site than 127.0.0.1.
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `<!doctype html><body><form method="post" action="%s/console/m/103/webhooks/pricing">
				<input name="csrf" value="guess"><input name="url" value="https://evil.example/steal">
				<input name="auth.type" value="none"></form><script>document.forms[0].submit()</script>`, c.url)
		}))
		t.Cleanup(evil.Close)
		do(t, me, chromedp.Navigate(strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)),
			chromedp.WaitVisible(chromedp.CSS("body[data-page]")))
		if got := eval[string](t, me, `document.body.dataset.page + ": " + document.querySelector("main").textContent`); !strings.Contains(got, "Cross-site requests are refused") {
			t.Errorf("the forged POST shows %q, want the refusal", got)
		}
		if after := webhookOf(t, c, "pricing"); after.URL != before.URL || after.UpdatedAt != before.UpdatedAt {
			t.Errorf("the forged POST changed the webhook: URL %q, want %q", after.URL, before.URL)
		}
	})

	t.Run("nothing of manufacturer B is reachable", func(t *testing.T) {
		c.api("PUT", "/v1/manufacturers/104/endpoints/erp104", auth.RoleAdmin, "104", `{"url": "`+c.mfr.URL+`/events"}`, http.StatusOK)
		c.api("POST", "/v1/manufacturers/104/events", auth.RolePlatform, "", `{"event": "moved_to_ready", "id": "evt104", "data": {}}`, http.StatusAccepted)
		for _, path := range []string{"/", "/webhooks/pricing", "/deliveries", "/jobs/338167",
			"/endpoints", "/endpoints/erp104", "/endpoints/erp104/attempts", "/events", "/events/evt104", "/event-types"} {
			do(t, me, chromedp.Navigate(c.url+"/console/m/104"+path), onPage("error"))
			if got := eval[string](t, me, `document.querySelector("h1").textContent`); got != "Not Found" {
				t.Errorf("104%s: h1 %q, want Not Found", path, got)
			}
			if body := eval[string](t, me, `document.body.textContent`); strings.Contains(body, "Cabinets 104") {
				t.Errorf("104%s shows manufacturer 104's name", path)
			}
		}
		// Nor do A's own event pages show B's event or endpoint.
		do(t, me, chromedp.Navigate(c.url+"/console/m/103/events"), onPage("events"))
		if body := eval[string](t, me, `document.body.textContent`); strings.Contains(body, "evt104") {
			t.Error("103's event log shows manufacturer 104's event")
		}
		for _, path := range []string{"/events/evt104", "/endpoints/erp104", "/endpoints/erp104/attempts"} {
			do(t, me, chromedp.Navigate(c.url+"/console/m/103"+path), onPage("error"))
			if got := eval[string](t, me, `document.querySelector("h1").textContent`); got != "Not Found" {
				t.Errorf("103%s: h1 %q, want Not Found", path, got)
			}
		}
		// The session is no key to the API either. (The console's pages may
		// not fetch at all, by their Content-Security-Policy; the API's
		// origin may.)
		do(t, me, chromedp.Navigate(c.url+"/healthz"))
		for _, path := range []string{"/v1/manufacturers/104/webhooks/pricing", "/v1/manufacturers/104/deliveries"} {
			got, err := chromedp.Run(me, chromedp.Evaluate[int](`fetch("`+path+`").then(r => r.status)`, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatal(err)
			}
			if got != http.StatusUnauthorized {
				t.Errorf("fetch(%s) from A's console: status %d, want 401", path, got)
			}
		}
	})

	t.Run("an expired session is sent back to sign in", func(t *testing.T) {
		c.clock.Add(console.SessionTTL)
		do(t, me, chromedp.Navigate(c.url+"/console/m/103/"), onPage("signin"))
		if got := eval[string](t, me, `location.pathname`); got != console.SignInPath {
			t.Errorf("after 8 hours the browser is at %s, want %s", got, console.SignInPath)
		}
	})
}

// webhookOf reads a webhook of manufacturer 103 through the API.
func webhookOf(t *testing.T, c *site, kind string) *webhookJSON {
	t.Helper()
	var w webhookJSON
	if err := json.Unmarshal(c.api("GET", "/v1/manufacturers/103/webhooks/"+kind, auth.RoleAdmin, "103", "", http.StatusOK), &w); err != nil {
		t.Fatal(err)
	}
	return &w
}

// webhookJSON is the API's redacted webhook config.
type webhookJSON struct {
	URL       string    `json:"url"`
	TimeoutMS int       `json:"timeout_ms"`
	UpdatedAt time.Time `json:"updated_at"`
	Auth      struct {
		Type           string `json:"type"`
		BearerTokenSet *bool  `json:"bearer_token_set"`
		Auth0          *struct {
			ClientID        string `json:"client_id"`
			ClientSecretSet bool   `json:"client_secret_set"`
		} `json:"auth0"`
	} `json:"auth"`
}
