package callout

import (
	"errors"
	"testing"
)

// TestValidateScheme checks the message for a URL of another scheme: it
// names the schemes the policy allows.
func TestValidateScheme(t *testing.T) {
	tests := []struct {
		name   string
		url    string
		policy URLPolicy
		want   string
	}{
		{"ftp", "ftp://erp.example.com/x", URLPolicy{}, "must use https"},
		{"ftp in development", "ftp://erp.example.com/x", URLPolicy{AllowInsecureHTTP: true, AllowPrivateNetworks: true}, "must use http or https"},
		{"http", "http://erp.example.com/x", URLPolicy{}, "must use https (plain http is allowed only with CALLOUT_ALLOW_INSECURE_HTTP=true)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWebhook("103", KindPricing)
			w.Enabled, w.URL = true, tt.url
			var e *Error
			if err := w.Validate(tt.policy); !errors.As(err, &e) || len(e.Fields) != 1 {
				t.Fatalf("Validate = %v, want one bad field", err)
			}
			if got := e.Fields[0]; got != (FieldError{"url", tt.want}) {
				t.Errorf("got %q, want url: %q", got, tt.want)
			}
		})
	}
}
