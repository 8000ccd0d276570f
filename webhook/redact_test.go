package webhook

import (
	"strings"
	"testing"
)

// TestRedactorReplace checks the redactor on text a webhook may send: a hex
// secret in any case beside invalid UTF-8, and a secret inside another.
func TestRedactorReplace(t *testing.T) {
	const hexSecret = "9f86d081884c7d659a2feaa0c55ad015"
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"hex upper case beside invalid UTF-8", []string{hexSecret}, "\xff" + strings.ToUpper(hexSecret) + "\xfe!", "\xff[redacted]\xfe!"},
		{"hex twice, mixed case", []string{hexSecret}, "a 9F86d081884c7d659a2feaa0c55ad015 b " + hexSecret, "a [redacted] b [redacted]"},
		{"no secret", []string{hexSecret}, "nothing here", "nothing here"},
		{"a secret inside another is replaced whole", []string{"abc-secret", "xyz-abc-secret-long"}, "xyz-abc-secret-long", "[redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newRedactor(tt.secrets).replace(tt.in); got != tt.want {
				t.Errorf("replace(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// BenchmarkRedact measures the redaction of a 11 KiB answer with three
// secrets, one of them hex, as a callout's finish does it.
func BenchmarkRedact(b *testing.B) {
	body := []byte(strings.Repeat(`{"errors": ["something went wrong with the job 12345"]}`, 200))
	secrets := []string{"9f86d081884c7d659a2feaa0c55ad015", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	for b.Loop() {
		res := &Result{Detail: "HTTP 500", Warnings: []string{"a"}}
		redact(res, body, secrets)
	}
}
