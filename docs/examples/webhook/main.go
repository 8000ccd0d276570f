// Command webhook is a manufacturer's submission webhook in Go, with the
// standard library only: it checks Callout's Standard Webhooks signature
// before it trusts a request, then accepts the job. Serve it behind TLS:
// Callout calls https URLs only.
package main

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// tolerance is how far webhook-timestamp may be from now: an older request
// may be a recorded one, replayed.
const tolerance = 5 * time.Minute

// verify checks a request's signature with secret, the webhook's
// signing_secret ("whsec_" and base64).
func verify(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return fmt.Errorf("the signing secret is not whsec_ and base64: %w", err)
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil {
		return errors.New("webhook-id or webhook-timestamp is missing")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("webhook-timestamp is too far from now")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	// The header holds one or more signatures, space-separated: "v1,<base64>".
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		value, ok := strings.CutPrefix(sig, "v1,")
		got, err := base64.StdEncoding.DecodeString(value)
		if ok && err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no signature matches")
}

// handler answers Callout's submission callouts.
func handler(secret string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 32<<20))
		if err != nil {
			answer(w, http.StatusBadRequest, map[string]any{"errors": []string{"The order could not be read."}})
			return
		}
		if err := verify(secret, r.Header, body, time.Now()); err != nil {
			answer(w, http.StatusUnauthorized, map[string]any{"errors": []string{"signature: " + err.Error()}})
			return
		}
		var p struct {
			Job struct {
				ID json.RawMessage `json:"id"` // a number or a string
			} `json:"job"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			answer(w, http.StatusBadRequest, map[string]any{"errors": []string{"The order is not JSON."}})
			return
		}
		// Record the order here, under the Idempotency-Key header: a key
		// already recorded is a repeat of that request; answer as before.
		id := strings.Trim(string(p.Job.ID), `"`)
		answer(w, http.StatusOK, map[string]any{"success": true, "id": "ERP-" + id, "message": "Order received"})
	}
}

func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func main() {
	addr := cmp.Or(os.Getenv("ADDR"), "127.0.0.1:8443")
	log.Fatal(http.ListenAndServe(addr, handler(os.Getenv("CALLOUT_SIGNING_SECRET"))))
}
