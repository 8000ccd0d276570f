package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callout/callout"
	"github.com/callout/callout/payload"
	"github.com/callout/callout/webhook"
)

// examples are the signature-checking webhooks docs/manufacturers.md shows,
// each as the file here that the document quotes whole.
var examples = []struct {
	file, lang string
	run        []string // the command serving it; nil for this package's handler
}{
	{"main.go", "go", nil},
	{"webhook.py", "python", []string{"python3", "webhook.py"}},
	{"webhook.js", "js", []string{"node", "webhook.js"}},
}

// TestDocumentQuotesExamples checks that docs/manufacturers.md shows each
// example exactly as it is here, where it is compiled and run.
func TestDocumentQuotesExamples(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "manufacturers.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range examples {
		code, err := os.ReadFile(ex.file)
		if err != nil {
			t.Fatal(err)
		}
		if block := "```" + ex.lang + "\n" + string(code) + "```\n"; !strings.Contains(string(doc), block) {
			t.Errorf("docs/manufacturers.md does not quote docs/examples/webhook/%s whole in a ```%s block", ex.file, ex.lang)
		}
	}
}

// TestExamplesVerifyCallout serves each example, has Callout's own client
// send it the sample job signed with the webhook's secret, and checks that
// it accepts that and refuses a request whose body, timestamp or secret is
// not the signed one.
func TestExamplesVerifyCallout(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	export, job, customer := payload.Sample()
	body, err := payload.Build(callout.ExportJSON, export, job, customer)
	if err != nil {
		t.Fatal(err)
	}
	client := webhook.New(webhook.Options{Policy: webhook.Policy{AllowPrivateNetworks: true, AllowInsecureHTTP: true}})

	for _, ex := range examples {
		t.Run(ex.file, func(t *testing.T) {
			url := serve(t, ex.run, secret)
			w := callout.NewWebhook("103", callout.KindSubmission)
			w.Enabled, w.URL, w.SigningSecret = true, url, secret
			res := client.Call(t.Context(), &webhook.Request{Webhook: w, Body: body, IdempotencyKey: "callout-0123"})
			if res.Outcome != callout.OutcomeAccepted || res.Answer.ExternalID != "ERP-338167" {
				t.Fatalf("Callout's signed callout: %s, external id %q (%s), want accepted, ERP-338167", res.Outcome, res.Answer.ExternalID, res.Detail)
			}

			signed := `{"job": {"id": 1}}`
			now := time.Now().Unix()
			for _, tt := range []struct {
				name, body string
				ts         int64
				key        []byte
				want       int
			}{
				{"signed", signed, now, key, http.StatusOK},
				{"body changed", `{"job": {"id": 2}}`, now, key, http.StatusUnauthorized},
				{"ten minutes old", signed, now - 600, key, http.StatusUnauthorized},
				{"another secret", signed, now, []byte("another key of 24 bytes!"), http.StatusUnauthorized},
			} {
				sig := sign(tt.key, "msg_1", tt.ts, signed)
				if got := post(t, url, tt.body, "msg_1", tt.ts, sig); got != tt.want {
					t.Errorf("%s: status %d, want %d", tt.name, got, tt.want)
				}
			}
		})
	}
}

// serve starts an example with secret and returns its URL: this package's
// handler, or the command run, which prints the port it listens on.
func serve(t *testing.T, run []string, secret string) string {
	t.Helper()
	if run == nil {
		srv := httptest.NewServer(handler(secret))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	if _, err := exec.LookPath(run[0]); err != nil {
		t.Skipf("%s is not installed", run[0])
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, run[0], run[1:]...)
	cmd.Env = append(os.Environ(), "CALLOUT_SIGNING_SECRET="+secret, "PORT=0")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	port := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			if p, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
				port <- p
			}
		}
		close(port)
	}()
	select {
	case p, ok := <-port:
		if !ok {
			t.Fatalf("%s exited before listening", run)
		}
		return "http://127.0.0.1:" + p
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not start listening", run)
	}
	return ""
}

// sign is the Standard Webhooks signature, computed independently of
// Callout's client.
func sign(key []byte, id string, ts int64, body string) string {
	mac := hmac.New(sha256.New, key)
	io.WriteString(mac, id+"."+strconv.FormatInt(ts, 10)+"."+body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func post(t *testing.T, url, body, id string, ts int64, sig string) int {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", "v0,ignored "+sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestExamplesVerifyEvents checks what docs/manufacturers.md says of event
// deliveries: the same verification accepts an event attempt Callout's
// client signs (webhook-id is then the event id), and refuses one signed
// with another secret. The event's data, sent alone (format "data"), is a
// job the examples can read.
func TestExamplesVerifyEvents(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	client := webhook.New(webhook.Options{Policy: webhook.Policy{AllowPrivateNetworks: true, AllowInsecureHTTP: true}})
	ev := &callout.Event{ID: "order-123456-ready", Type: "moved_to_ready", Timestamp: time.Now(),
		Data: []byte(`{"job": {"id": 338167}}`)}

	for _, ex := range examples {
		t.Run(ex.file, func(t *testing.T) {
			url := serve(t, ex.run, secret)
			for _, tt := range []struct {
				name, secret, want string
				status             int
			}{
				{"signed with the endpoint's secret", secret, callout.AttemptSucceeded, http.StatusOK},
				{"signed with another secret", "whsec_" + base64.StdEncoding.EncodeToString([]byte("another key of 24 bytes!")), callout.AttemptHTTPError, http.StatusUnauthorized},
			} {
				ep := &callout.Endpoint{ID: "ep_1", ManufacturerID: "103", URL: url, SigningSecret: tt.secret, Enabled: true,
					Format: callout.FormatData}
				ep.SetDefaults()
				res := client.Deliver(t.Context(), &webhook.EventRequest{Endpoint: ep, EventID: ev.ID, EventType: ev.Type,
					Body: callout.EventBody(ep.Format, ev, ep.ID), Attempt: 1})
				if res.Outcome != tt.want || res.HTTPStatus != tt.status {
					t.Errorf("%s: %s, HTTP %d (%s); want %s, HTTP %d", tt.name, res.Outcome, res.HTTPStatus, res.Detail, tt.want, tt.status)
				}
			}
		})
	}
}
