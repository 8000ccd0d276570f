package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callout/callout"
	"github.com/callout/callout/internal/fakemanufacturer"
	"github.com/callout/callout/webhook"
)

// testSigningSecret is a Standard Webhooks secret: whsec_ and the base64 of
// 32 bytes.
var testSigningSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// verifySignature checks a request as a Standard Webhooks receiver would,
// written from the specification's text: the signed content is
// "<webhook-id>.<webhook-timestamp>.<body>", the key is the base64-decoded
// part of the secret after "whsec_", the signature is HMAC-SHA256 in base64
// with a "v1," prefix, and the header may hold several space-separated
// signatures of which one must match. The timestamp must be within tolerance
// of now.
func verifySignature(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id := h.Get("webhook-id")
	ts := h.Get("webhook-timestamp")
	sigs := h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing Standard Webhooks headers")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("bad timestamp %q", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("timestamp %s is %s away from now", ts, d)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no signature matches")
}

// TestVerifierRejects makes sure the test's verifier is not one that accepts
// anything.
func TestVerifierRejects(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(testSigningSecret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("msg_1.1700000000.{}"))
	good := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	header := func(id, ts, sig string) http.Header {
		return http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {sig}}
	}
	if err := verifySignature(testSigningSecret, header("msg_1", "1700000000", "v1,bm9wZQ== "+good), []byte("{}"), now, time.Minute); err != nil {
		t.Errorf("a good signature among several: %v", err)
	}
	for name, h := range map[string]http.Header{
		"other id":       header("msg_2", "1700000000", good),
		"other time":     header("msg_1", "1700000001", good),
		"stale":          header("msg_1", "1600000000", good),
		"wrong version":  header("msg_1", "1700000000", "v2,"+strings.TrimPrefix(good, "v1,")),
		"no signature":   header("msg_1", "1700000000", ""),
		"bad signature":  header("msg_1", "1700000000", "v1,bm9wZQ=="),
		"no id or stamp": header("", "", good),
	} {
		if err := verifySignature(testSigningSecret, h, []byte("{}"), now, time.Minute); err == nil {
			t.Errorf("%s: verified, want an error", name)
		}
	}
	if err := verifySignature(testSigningSecret, header("msg_1", "1700000000", good), []byte("{ }"), now, time.Minute); err == nil {
		t.Error("another body: verified, want an error")
	}
}

// TestHeaders checks every header of docs/manufacturers.md ("The request") on each attempt of a callout
// that is retried, and that the signature verifies.
func TestHeaders(t *testing.T) {
	srv := manufacturer(t, nil)
	srv.Answers(fakemanufacturer.Answer{Status: http.StatusServiceUnavailable}, fakemanufacturer.Answer{Status: http.StatusOK, Body: `{"cost": 1}`})
	w := newHook(callout.KindPricing, srv.URL)
	w.Retries = 1
	w.Auth = callout.Auth{Type: callout.AuthBearer, BearerToken: "bearer-token-value"}
	w.SigningSecret = testSigningSecret
	c := newClient(t, webhook.Options{UserAgent: "callout/1.2.3"})

	res := call(t, c, w)
	if res.Outcome != callout.OutcomeAccepted || res.Attempts != 2 {
		t.Fatalf("Outcome = %s after %d attempts (%s), want accepted after 2", res.Outcome, res.Attempts, res.Detail)
	}
	reqs := srv.Received()
	if len(reqs) != 2 {
		t.Fatalf("the webhook got %d requests, want 2", len(reqs))
	}
	for i, r := range reqs {
		want := map[string]string{
			"Content-Type":       "application/json",
			"Accept":             "application/json",
			"User-Agent":         "callout/1.2.3",
			"X-Callout-Delivery": "dlv-1",
			"X-Request-Id":       "req-1",
			"Idempotency-Key":    "idem-1",
			"Authorization":      "Bearer bearer-token-value",
			"Webhook-Id":         "dlv-1",
		}
		for k, v := range want {
			if got := r.Header.Get(k); got != v {
				t.Errorf("attempt %d: %s = %q, want %q", i+1, k, got, v)
			}
		}
		if string(r.Body) != samplePayload {
			t.Errorf("attempt %d: body = %q, want the payload", i+1, r.Body)
		}
		if r.ContentLength != int64(len(samplePayload)) {
			t.Errorf("attempt %d: Content-Length = %d, want %d", i+1, r.ContentLength, len(samplePayload))
		}
		if err := verifySignature(testSigningSecret, r.Header, r.Body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("attempt %d: signature: %v", i+1, err)
		}
	}
}

// TestHeadersOptional checks that headers without a value are not sent: no
// signature without a secret, no Authorization without auth, no
// Idempotency-Key without a key; and that a delivery id is made up when the
// caller gives none.
func TestHeadersOptional(t *testing.T) {
	srv := manufacturer(t, nil)
	srv.Answer(http.StatusOK, `{}`)
	c := newClient(t, webhook.Options{})
	res := c.Call(t.Context(), &webhook.Request{Webhook: newHook(callout.KindSubmission, srv.URL), Body: payload(samplePayload)})
	if res.Outcome != callout.OutcomeAccepted {
		t.Fatalf("Outcome = %s (%s), want accepted", res.Outcome, res.Detail)
	}
	h := srv.Received()[0].Header
	for _, k := range []string{"Authorization", "Idempotency-Key", "Webhook-Id", "Webhook-Timestamp", "Webhook-Signature", "X-Request-Id"} {
		if v, ok := h[k]; ok {
			t.Errorf("%s = %q, want it absent", k, v)
		}
	}
	if h.Get("X-Callout-Delivery") == "" {
		t.Error("X-Callout-Delivery is empty, want a generated id")
	}
	if got := h.Get("User-Agent"); got != "callout/test" {
		t.Errorf("User-Agent = %q, want callout/test", got)
	}
}

// TestSignatureTimestamp checks that webhook-timestamp comes from the
// injected clock and the signature covers it.
func TestSignatureTimestamp(t *testing.T) {
	srv := manufacturer(t, nil)
	srv.Answer(http.StatusOK, `{}`)
	now := time.Date(2024, 2, 26, 18, 31, 56, 0, time.UTC)
	c := newClient(t, webhook.Options{Now: func() time.Time { return now }})
	w := newHook(callout.KindSubmission, srv.URL)
	w.SigningSecret = testSigningSecret
	call(t, c, w)
	r := srv.Received()[0]
	if got, want := r.Header.Get("webhook-timestamp"), strconv.FormatInt(now.Unix(), 10); got != want {
		t.Errorf("webhook-timestamp = %s, want %s", got, want)
	}
	if err := verifySignature(testSigningSecret, r.Header, r.Body, now, time.Second); err != nil {
		t.Errorf("signature: %v", err)
	}
}
