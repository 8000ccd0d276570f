package webhook_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/callout/callout"
	"github.com/callout/callout/webhook"
)

// TestBlockedAddresses checks that every forbidden address is refused before
// a connection is attempted, whatever the kind, and is never retried.
func TestBlockedAddresses(t *testing.T) {
	c := newClient(t, webhook.Options{Policy: webhook.Policy{AllowInsecureHTTP: true}})
	hosts := []string{
		"127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254",
		"100.64.0.1", "[::1]", "[fd00::1]", "[fe80::1]", "[::ffff:127.0.0.1]",
		"0.0.0.0", "[::]", "224.0.0.1", "[ff02::1]", "255.255.255.255", "[64:ff9b::a00:1]",
		"[2002:7f00:1::]", "[2001:0:4136:e378:0:0:80ff:fffe]", // 6to4 and Teredo of 127.0.0.1
		"localhost", // a name: judged after resolution, in the dialer
	}
	for _, host := range hosts {
		for _, kind := range []callout.Kind{callout.KindSubmission, callout.KindPricing} {
			t.Run(string(kind)+"/"+host, func(t *testing.T) {
				w := newHook(kind, "http://"+host+":8080/hook")
				w.TimeoutMS = 1000
				w.Retries = 3
				res := call(t, c, w)
				if res.Outcome != callout.OutcomeDestinationBlocked {
					t.Fatalf("Outcome = %s (%s), want destination_blocked", res.Outcome, res.Detail)
				}
				if res.Attempts != 1 {
					t.Errorf("Attempts = %d, want 1: a blocked destination is not retried", res.Attempts)
				}
				if !strings.Contains(res.Detail, "forbids") {
					t.Errorf("Detail = %q, want the policy's reason", res.Detail)
				}
				if res.Outcome.BreakerFailure(res.HTTPStatus) {
					t.Error("destination_blocked counts as a breaker failure")
				}
			})
		}
	}
}

// TestBlockedNeverOpensBreaker checks that blocked callouts leave the breaker
// alone.
func TestBlockedNeverOpensBreaker(t *testing.T) {
	c := newClient(t, webhook.Options{Policy: webhook.Policy{AllowInsecureHTTP: true}})
	w := newHook(callout.KindSubmission, "http://10.1.2.3/hook")
	for i := range 10 {
		if res := call(t, c, w); res.Outcome != callout.OutcomeDestinationBlocked {
			t.Fatalf("callout %d: Outcome = %s, want destination_blocked", i+1, res.Outcome)
		}
	}
}

// TestBlockedErrorFromClient checks that the HTTP client's refusal can be
// recognised through the errors http.Client wraps it in.
func TestBlockedErrorFromClient(t *testing.T) {
	hc := webhook.NewHTTPClient(webhook.Policy{AllowInsecureHTTP: true})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://169.254.169.254/latest/meta-data/", nil)
	_, err := hc.Do(req)
	var blocked *webhook.BlockedError
	if !errors.As(err, &blocked) || !errors.Is(err, webhook.ErrBlocked) {
		t.Fatalf("err = %v, want a *BlockedError matching ErrBlocked", err)
	}
	if want := netip.MustParseAddr("169.254.169.254"); blocked.Addr != want {
		t.Errorf("Addr = %s, want %s", blocked.Addr, want)
	}
}

// TestBlockedAfterResolution checks that a host name is judged by the address
// it resolved to, on the address actually dialled, through a fake DNS server
// that points a public-looking name at loopback (as DNS rebinding would).
func TestBlockedAfterResolution(t *testing.T) {
	srv := manufacturer(t, nil)
	srv.Answer(http.StatusOK, `{}`)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	resolver := fakeDNS(t, map[string]netip.Addr{
		"erp.example.com.": netip.MustParseAddr("127.0.0.1"),
	})
	tests := []struct {
		name   string
		policy webhook.Policy
		want   callout.Outcome
	}{
		{"blocked", webhook.Policy{AllowInsecureHTTP: true, Resolver: resolver}, callout.OutcomeDestinationBlocked},
		{"private networks allowed", webhook.Policy{AllowInsecureHTTP: true, AllowPrivateNetworks: true, Resolver: resolver}, callout.OutcomeAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := webhook.New(webhook.Options{Policy: tt.policy})
			res := call(t, c, newHook(callout.KindSubmission, "http://erp.example.com:"+port+"/hook"))
			if res.Outcome != tt.want {
				t.Fatalf("Outcome = %s (%s), want %s", res.Outcome, res.Detail, tt.want)
			}
			if tt.want == callout.OutcomeDestinationBlocked && !strings.Contains(res.Detail, "127.0.0.1") {
				t.Errorf("Detail = %q, want the address it resolved to", res.Detail)
			}
		})
	}
}

// fakeDNS starts a DNS server on loopback that answers A queries from names
// and AAAA queries with nothing, and returns a resolver that uses it.
func fakeDNS(t *testing.T, names map[string]netip.Addr) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
			b.EnableCompression()
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			if a, ok := names[q.Name.String()]; ok && q.Type == dnsmessage.TypeA {
				b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60},
					dnsmessage.AResource{A: a.As4()})
			}
			msg, err := b.Finish()
			if err != nil {
				continue
			}
			pc.WriteTo(msg, addr)
		}
	}()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", pc.LocalAddr().String())
		},
	}
}

// TestInsecureHTTP checks that http:// is refused unless allowed, with no
// request made, and that https is required of Auth0 too.
func TestInsecureHTTP(t *testing.T) {
	srv := manufacturer(t, nil)
	srv.Answer(http.StatusOK, `{}`)
	c := newClient(t, webhook.Options{Policy: webhook.Policy{AllowPrivateNetworks: true}})
	res := call(t, c, newHook(callout.KindSubmission, srv.URL))
	if res.Outcome != callout.OutcomeDestinationBlocked || !strings.Contains(res.Detail, "https") {
		t.Errorf("Outcome = %s (%s), want destination_blocked naming https", res.Outcome, res.Detail)
	}
	if res.Attempts != 0 || len(srv.Received()) != 0 {
		t.Errorf("Attempts = %d, requests = %d, want none", res.Attempts, len(srv.Received()))
	}

	// The client itself refuses too, for callers such as the Auth0 token
	// source that build their own requests.
	hc := webhook.NewHTTPClient(webhook.Policy{AllowPrivateNetworks: true})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/oauth/token", nil)
	if _, err := hc.Do(req); !errors.Is(err, webhook.ErrBlocked) {
		t.Errorf("the HTTP client: err = %v, want ErrBlocked", err)
	}
	if len(srv.Received()) != 0 {
		t.Errorf("the server got %d requests, want none", len(srv.Received()))
	}
}

// TestBadURLs checks URLs that are refused before any request.
func TestBadURLs(t *testing.T) {
	c := newClient(t, webhook.Options{})
	for _, u := range []string{"", "/relative", "ftp://erp.example.com/x", "http://user:secret-password@erp.example.com/hook"} {
		res := call(t, c, newHook(callout.KindSubmission, u))
		if res.Outcome != callout.OutcomeDestinationBlocked || res.Attempts != 0 {
			t.Errorf("%q: Outcome = %s after %d attempts, want destination_blocked after none", u, res.Outcome, res.Attempts)
		}
		if strings.Contains(res.Detail, "secret-password") {
			t.Errorf("%q: Detail = %q holds the URL's password", u, res.Detail)
		}
	}
}

// TestRedirectNotFollowed checks that a 3xx ends the callout and the target
// never sees a request.
func TestRedirectNotFollowed(t *testing.T) {
	targetSrv := manufacturer(t, nil)
	targetSrv.Answer(http.StatusOK, `{}`)
	for _, status := range []int{301, 302, 303, 307, 308} {
		srv := manufacturer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, targetSrv.URL+"/elsewhere", status)
		}))
		res := call(t, newClient(t, webhook.Options{}), newHook(callout.KindSubmission, srv.URL))
		if res.Outcome != callout.OutcomeWebhookError || res.HTTPStatus != status {
			t.Errorf("%d: Outcome = %s, HTTP %d, want webhook_error", status, res.Outcome, res.HTTPStatus)
		}
		if want := "redirect to " + targetSrv.URL + "/elsewhere not followed"; !strings.Contains(res.Detail, want) {
			t.Errorf("%d: Detail = %q, want %q", status, res.Detail, want)
		}
	}
	if n := len(targetSrv.Received()); n != 0 {
		t.Errorf("the redirect target got %d requests, want none", n)
	}
}
