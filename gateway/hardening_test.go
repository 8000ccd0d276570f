package gateway_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callout/callout/auth"
	"github.com/callout/callout/config"
	"github.com/callout/callout/internal/fakemanufacturer"
)

// otherTenant sets up manufacturer 104 beside tn's 103: its own fake
// manufacturer answering prices at once, its pricing webhook, and the seed
// job. It returns the app's client of 104.
func otherTenant(tn *tenant) as {
	tn.t.Helper()
	expect(tn.t, tn.platform.do("PUT", "/v1/manufacturers/104", map[string]string{"name": "Other Cabinets"}), 201, "")
	mfr := fakemanufacturer.New()
	tn.t.Cleanup(mfr.Close)
	mfr.Answer(200, `{"cost": 42}`)
	admin, app := tn.as(auth.RoleAdmin, "104"), tn.as(auth.RoleApp, "104")
	expect(tn.t, admin.do("PUT", "/v1/manufacturers/104/webhooks/pricing", map[string]any{"url": mfr.URL + "/price"}), 200, "")
	export, job, customer := seed(tn.t)
	expect(tn.t, app.do("PUT", "/v1/manufacturers/104/customers/27465", customer), 201, "")
	expect(tn.t, app.do("PUT", "/v1/manufacturers/104/jobs/338167", fmt.Sprintf(`{"job": %s, "export": %s}`, job, export)), 201, "")
	return app
}

// priceWithin prices manufacturer 104's job and fails unless the answer is a
// 200 that came within d.
func priceWithin(t *testing.T, app as, d time.Duration) {
	t.Helper()
	done := make(chan *response, 1)
	start := time.Now()
	go func() { done <- app.do("POST", "/v1/manufacturers/104/jobs/338167/price", nil) }()
	select {
	case r := <-done:
		expect(t, r, 200, "")
		if took := time.Since(start); took > d {
			t.Errorf("another manufacturer's price took %v, want at most %v", took, d)
		}
	case <-time.After(d + 10*time.Second):
		t.Fatalf("another manufacturer's price had no answer after %v", d+10*time.Second)
	}
}

// rawRequest opens a connection to the API and sends a request's head and
// the start of its body, leaving the rest unsent.
func rawRequest(t *testing.T, a *api, method, path, token string, length int, start string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: callout\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		method, path, token, length, start)
	return conn
}

// TestStalledBodiesHoldNoSlot: requests that send their head and then stall
// their body hold a connection each, but no callout slot, so another
// manufacturer's prices go on. Fairness is switched off (one manufacturer
// may use every slot) so that this tests the order of body and slot alone.
func TestStalledBodiesHoldNoSlot(t *testing.T) {
	const stalled = 130
	tn := newTenant(t, func(c *config.Config) { c.MaxCalloutsPerManufacturer = c.MaxConcurrentCallouts })
	tn.hook("pricing", nil)
	app104 := otherTenant(tn)
	for range stalled {
		rawRequest(t, tn.api, "POST", "/v1/manufacturers/103/webhooks/pricing/test", tn.admin.tok, 100, "{")
	}
	tn.awaitInFlight(stalled)
	priceWithin(t, app104, time.Second)
}

// TestBodiesMustKeepArriving: a body trickled below the minimum rate is cut
// off with 408 once the grace period and its bytes' allowance are over; a
// slow body at the rate is read.
func TestBodiesMustKeepArriving(t *testing.T) {
	tn := newTenant(t, func(c *config.Config) {
		c.BodyReadGrace = 300 * time.Millisecond
		c.BodyMinRate = 1000
	})
	_, _, customer := seed(t)
	path := "/v1/manufacturers/103/customers/27465"

	t.Run("trickled", func(t *testing.T) {
		conn := rawRequest(t, tn.api, "PUT", path, tn.app.tok, len(customer), "")
		start := time.Now()
		go func() {
			for _, b := range customer {
				if _, err := conn.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer to a trickled body within 10 s: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("status %d, want 408", resp.StatusCode)
		}
		// 300 ms of grace, and a second for every 1,000 bytes that came.
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("cut off after %v, want within 2 s", took)
		}
	})
	t.Run("slow but steady", func(t *testing.T) {
		conn := rawRequest(t, tn.api, "PUT", path, tn.app.tok, len(customer), "")
		const chunk = 50 // bytes every 25 ms: 2,000 bytes a second
		go func() {
			for rest := customer; len(rest) > 0; {
				n := min(chunk, len(rest))
				if _, err := conn.Write(rest[:n]); err != nil {
					return
				}
				rest = rest[n:]
				time.Sleep(25 * time.Millisecond)
			}
		}()
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("status %d for a body at twice the minimum rate, want 201", resp.StatusCode)
		}
	})
}

// TestOneManufacturerCannotStallOthers: one manufacturer's webhook hangs
// with 200 of its prices in flight; another manufacturer's price still
// answers within a second.
func TestOneManufacturerCannotStallOthers(t *testing.T) {
	const hung = 200
	tn := newTenant(t)
	tn.hook("pricing", map[string]any{"timeout_ms": 60000})
	tn.storeSeed()
	tn.mfr.Answer(200, `{"cost": 1}`)
	release := tn.mfr.Hold()
	app104 := otherTenant(tn)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer release()
	for range hung {
		wg.Go(func() { tn.app.do("POST", "/v1/manufacturers/103/jobs/338167/price", nil) })
	}
	tn.awaitInFlight(hung)
	tn.eventually("the hung manufacturer's prices waiting for their slots", func() bool {
		return tn.waitingForSlot() >= hung-config.Default().MaxConcurrentCallouts
	})
	priceWithin(t, app104, time.Second)
}

// TestSubmitBurstSharesOneAnswer: of 200 simultaneous submits of one job,
// most queue for a callout slot and get to the submission after it ended;
// they arrived while it was in flight, so all get its answer, byte for byte.
func TestSubmitBurstSharesOneAnswer(t *testing.T) {
	const n = 200
	tn := newTenant(t)
	tn.hook("submission", nil)
	tn.storeSeed()
	tn.mfr.Answer(200, `{"id": "JPS-990495"}`)
	release := tn.mfr.Hold()
	results := make([]*response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = tn.app.do("POST", "/v1/manufacturers/103/jobs/338167/submit", nil) })
	}
	tn.awaitInFlight(n)
	release()
	wg.Wait()
	for i, r := range results {
		if r.status != 200 || !bytes.Equal(r.body, results[0].body) {
			t.Fatalf("caller %d got %d %s, want the first caller's 200 %s", i, r.status, r.body, results[0].body)
		}
	}
	if got := len(tn.mfr.Received()); got != 1 {
		t.Errorf("%d callouts, want 1", got)
	}
}
