package config

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// secretsIn are the secret parts of redactedConfig; none may ever be shown.
var secretsIn = []string{"jwt-0123456789abcdef0123456789abcdef", testSecretKey, "hunter2", "querypw", "12/34"}

func redactedConfig(url string) *Config {
	c := Default()
	c.JWTSecret = "jwt-0123456789abcdef0123456789abcdef"
	c.SecretKey = testSecretKey
	c.DatabaseURL = url
	return c
}

func TestLogValueRedacts(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		wantURL string
	}{
		{"password in user information", "postgres://callout:hunter2@db:5432/callout", "postgres://callout:xxxxx@db:5432/callout"},
		{"password in query", "postgres://db/callout?user=callout&password=querypw", "postgres://db/callout?password=xxxxx&user=callout"},
		{"no password", "postgresql://db/callout?sslmode=require", "postgresql://db/callout?sslmode=require"},
		{"unencoded slash in password", "postgres://callout:12/34@db/callout", "postgres://[redacted]"},
		{"unparseable", "postgres://callout:hunter2%zz@db/callout", "[redacted]"},
		{"embedded database", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("starting", "config", redactedConfig(tt.url))
			var line struct {
				Config map[string]any `json:"config"`
			}
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("log line is not JSON: %v", err)
			}
			for key, want := range map[string]any{
				"listen":       DefaultListen,
				"database_url": tt.wantURL,
				"jwt_secret":   "[redacted]",
				"secret_key":   "[redacted]",
				"log_level":    "info",
			} {
				if got := line.Config[key]; got != want && !(key == "database_url" && got == nil && want == "") {
					t.Errorf("logged %s = %v, want %v", key, got, want)
				}
			}
			assertNoSecrets(t, "log line", buf.String())
		})
	}
}

func TestLogValueShowsUnsetSecrets(t *testing.T) {
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("starting", "config", Default())
	for _, want := range []string{`config.jwt_secret=""`, `config.secret_key=""`, "config.listen=127.0.0.1:8080", "config.db.max_open_conns=0"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log line does not contain %s:\n%s", want, buf.String())
		}
	}
}

func TestFormattingRedacts(t *testing.T) {
	c := redactedConfig("postgres://callout:hunter2@db/callout?password=querypw")
	s := &Secrets{JWTSecret: []byte(c.JWTSecret), SecretKey: []byte(testSecretKey)}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for name, v := range map[string]any{"*Config": c, "Config": *c, "*Secrets": s, "Secrets": *s} {
			assertNoSecrets(t, fmt.Sprintf("%s of %s", verb, name), fmt.Sprintf(verb, v))
		}
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("prepared", "secrets", s)
	assertNoSecrets(t, "logged Secrets", buf.String())
	if !strings.Contains(c.String(), "listen=127.0.0.1:8080") {
		t.Errorf("String() = %q, want it to show the listen address", c.String())
	}
}

// assertNoSecrets fails, without quoting it, when out holds a secret, in
// clear or base64 (as encoding/json and slog write a []byte).
func assertNoSecrets(t *testing.T, what, out string) {
	t.Helper()
	for i, s := range secretsIn {
		if strings.Contains(out, s) || strings.Contains(out, base64.StdEncoding.EncodeToString([]byte(s))) {
			t.Errorf("%s reveals secret %d", what, i)
		}
	}
}
