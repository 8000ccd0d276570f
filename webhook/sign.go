package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
)

// The Standard Webhooks headers.
const (
	headerWebhookID        = "webhook-id"
	headerWebhookTimestamp = "webhook-timestamp"
	headerWebhookSignature = "webhook-signature"
)

// signer computes Standard Webhooks signatures for one callout's body.
type signer struct {
	key  []byte
	id   string
	body Body
}

// sign returns the webhook-signature value for the given unix timestamp:
// "v1," and the base64 of HMAC-SHA256(key, id + "." + timestamp + "." + body).
// The body is streamed through the MAC, never buffered. Each attempt signs
// anew: retries are rare, and one more pass over the payload is cheap next
// to sending it.
func (s *signer) sign(ts int64) (string, error) {
	mac := hmac.New(sha256.New, s.key)
	io.WriteString(mac, s.id)
	io.WriteString(mac, ".")
	io.WriteString(mac, strconv.FormatInt(ts, 10))
	io.WriteString(mac, ".")
	if s.body != nil {
		if _, err := io.Copy(mac, s.body.Reader()); err != nil {
			return "", fmt.Errorf("signing the payload: %w", err)
		}
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}
