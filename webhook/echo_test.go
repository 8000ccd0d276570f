package webhook_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/callout/callout"
	"github.com/callout/callout/webhook"
)

// staticTokens hands out one Auth0 access token.
type staticTokens string

func (s staticTokens) Token(context.Context, callout.Auth0) (string, error) { return string(s), nil }
func (staticTokens) Invalidate(callout.Auth0, string)                       {}

var _ webhook.Tokens = staticTokens("")

// echoing is a manufacturer that echoes its bearer credential, encoded by
// form into the text of a JSON string, into every text of its answer:
// errors, messages, the id, a breakdown node's name, and so the body.
func echoing(status int, form func(string) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		e := form(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"success": %t, "errors": ["refused %s"], "message": "seen %s", "id": "%s", "cost": 1, "breakdown": [{"name": "token %s", "cost": 1}]}`,
			status == http.StatusOK, e, e, e, e)
	}
}

// TestEchoedCredentialForms checks that a bearer token or an Auth0 access
// token that a manufacturer echoes back encoded (URL-encoded, base64, JSON,
// a hex token in another case) is redacted like one echoed as it is.
func TestEchoedCredentialForms(t *testing.T) {
	const (
		special = `tok/en+with "odd" chars?&=é`
		hexTok  = "9f86d081884c7d659a2feaa0c55ad015"
	)
	b64 := func(e *base64.Encoding) func(string) string {
		return func(s string) string { return e.EncodeToString([]byte(s)) }
	}
	jsonText := func(escapeHTML bool) func(string) string {
		return func(s string) string {
			var b strings.Builder
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(escapeHTML)
			enc.Encode(s)
			q := strings.TrimSuffix(b.String(), "\n")
			return q[1 : len(q)-1]
		}
	}
	php := func(s string) string { return strings.ReplaceAll(jsonText(false)(s), "/", `\/`) }
	forms := []struct {
		name    string
		form    func(string) string // the text put inside a JSON string
		hexOnly bool
	}{
		{name: "JSON-escaped", form: jsonText(true)},
		{name: "JSON-escaped as PHP does", form: php},
		{name: "query-escaped", form: url.QueryEscape},
		{name: "path-escaped", form: url.PathEscape},
		{name: "base64", form: b64(base64.StdEncoding)},
		{name: "base64 unpadded", form: b64(base64.RawStdEncoding)},
		{name: "base64 slashes escaped", form: func(s string) string { return php(b64(base64.StdEncoding)(s)) }},
		{name: "base64url", form: b64(base64.URLEncoding)},
		{name: "base64url unpadded", form: b64(base64.RawURLEncoding)},
		{name: "hex upper case", form: strings.ToUpper, hexOnly: true},
		{name: "hex mixed case", form: func(s string) string { return strings.ToUpper(s[:7]) + s[7:] }, hexOnly: true},
	}
	for _, auth := range []string{"bearer", "auth0"} {
		for _, secret := range []string{special, hexTok} {
			for _, f := range forms {
				if f.hexOnly && secret != hexTok {
					continue
				}
				for _, kind := range []callout.Kind{callout.KindSubmission, callout.KindPricing} {
					for _, status := range []int{http.StatusOK, http.StatusUnprocessableEntity} {
						echoed := f.form(secret)
						var decoded string // what the answer's texts hold
						if err := json.Unmarshal([]byte(`"`+echoed+`"`), &decoded); err != nil {
							t.Fatalf("%s: %q is not the text of a JSON string: %v", f.name, echoed, err)
						}
						name := strings.Join([]string{auth, secret[:3], f.name, string(kind), http.StatusText(status)}, "/")
						t.Run(name, func(t *testing.T) {
							srv := manufacturer(t, echoing(status, f.form))
							w := newHook(kind, srv.URL)
							o := webhook.Options{}
							if auth == "bearer" {
								w.Auth = callout.Auth{Type: callout.AuthBearer, BearerToken: secret}
							} else {
								w.Auth = callout.Auth{Type: callout.AuthAuth0, Auth0: callout.Auth0{TenantDomain: "tenant.example.com", ClientID: "client-1", ClientSecret: testClientSecret}}
								o.Tokens = staticTokens(secret)
							}
							res := call(t, newClient(t, o), w)
							if res.HTTPStatus != status {
								t.Fatalf("HTTP %d (%s), want %d", res.HTTPStatus, res.Detail, status)
							}
							if !strings.Contains(string(res.ResponseBody), callout.Redacted) {
								t.Errorf("ResponseBody = %q, want the echo redacted", res.ResponseBody)
							}
							checkNoSecret(t, res, echoed, decoded)
						})
					}
				}
			}
		}
	}
}
