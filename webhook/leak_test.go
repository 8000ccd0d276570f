package webhook_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/callout/callout"
	"github.com/callout/callout/internal/buffertest"
	"github.com/callout/callout/webhook"
)

// echo is a manufacturer that hands every request header back: as errors
// (shown to customers), as messages, as a warning-raising id, and in the
// body kept on the delivery.
func echo(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var all []string
		for k, vs := range r.Header {
			for _, v := range vs {
				all = append(all, k+": "+v)
			}
		}
		// PHP's json_encode escapes slashes; echo both ways.
		body, _ := json.Marshal(map[string]any{
			"success": status == http.StatusOK,
			"errors":  all,
			"message": all,
			"cost":    1,
			"id":      map[string]any{"headers": all},
			"breakdown": []map[string]any{
				{"name": r.Header.Get("Authorization"), "cost": 1},
			},
		})
		body = bytes.ReplaceAll(body, []byte("/"), []byte(`\/`))
		w.WriteHeader(status)
		w.Write(body)
	}
}

// TestNoSecretLeaks checks that no bearer token, Auth0 token or client
// secret, or signing secret reaches a result, a delivery or a log line, even
// when the webhook echoes them back.
func TestNoSecretLeaks(t *testing.T) {
	// Characters that JSON escapes (" and <), and / that PHP escapes too.
	const bearer = `bearer/secret+"tok"<en>==`
	quoted, _ := json.Marshal(bearer)
	escaped := string(quoted[1 : len(quoted)-1])
	for _, status := range []int{http.StatusOK, http.StatusUnprocessableEntity, http.StatusInternalServerError} {
		for _, kind := range []callout.Kind{callout.KindSubmission, callout.KindPricing} {
			t.Run(string(kind)+"/"+http.StatusText(status), func(t *testing.T) {
				t.Run("bearer", func(t *testing.T) {
					var logs buffertest.Buffer
					srv := manufacturer(t, echo(status))
					c := newClient(t, webhook.Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
					w := newHook(kind, srv.URL)
					w.Auth = callout.Auth{Type: callout.AuthBearer, BearerToken: bearer}
					w.SigningSecret = testSigningSecret
					res := call(t, c, w)
					if res.Attempts != 1 {
						t.Fatalf("Attempts = %d (%s), want 1", res.Attempts, res.Detail)
					}
					if !strings.Contains(string(res.ResponseBody), "[redacted]") {
						t.Errorf("the echoed body shows no redaction: the test is not testing anything")
					}
					checkNoSecret(t, res, bearer, escaped, strings.ReplaceAll(escaped, "/", `\/`), testSigningSecret, strings.TrimPrefix(testSigningSecret, "whsec_"))
					if s := logs.String(); strings.Contains(s, bearer) || strings.Contains(s, testSigningSecret) {
						t.Error("the log holds a secret")
					}
				})
				t.Run("auth0", func(t *testing.T) {
					_, c, w := auth0Setup(t, manufacturer(t, echo(status)))
					w.Kind = kind
					res := call(t, c, w)
					checkNoSecret(t, res, "tok-1", testClientSecret)
				})
			})
		}
	}
}
