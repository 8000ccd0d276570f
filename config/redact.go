package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/callout/callout"
)

// urlRedacted replaces a password inside a URL, where brackets would be
// escaped; it is what net/url's Redacted writes.
const urlRedacted = "xxxxx"

// LogValue shows the configuration to log/slog with the secrets replaced: the
// JWT secret, the secret key and any password in the database URL. An unset
// secret shows as "", so a log still tells whether one was given.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("listen", c.Listen),
		slog.String("data_dir", c.DataDir),
		slog.String("database_url", redactURL(c.DatabaseURL)),
		slog.String("jwt_secret", redact(c.JWTSecret)),
		slog.String("secret_key", redact(c.SecretKey)),
		slog.Bool("allow_private_networks", c.AllowPrivateNetworks),
		slog.Bool("allow_insecure_http", c.AllowInsecureHTTP),
		slog.Bool("dev", c.Dev),
		slog.Int64("max_request_bytes", c.MaxRequestBytes),
		slog.Int64("max_payload_bytes", c.MaxPayloadBytes),
		slog.Int64("max_response_bytes", c.MaxResponseBytes),
		slog.Int("max_concurrent_callouts", c.MaxConcurrentCallouts),
		slog.Duration("delivery_retention", c.DeliveryRetention),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.Duration("submission_lease", c.SubmissionLease),
		slog.String("log_level", c.LogLevel),
		slog.String("log_format", c.LogFormat),
		slog.Group("db",
			slog.Int("max_open_conns", c.DB.MaxOpenConns),
			slog.Int("max_idle_conns", c.DB.MaxIdleConns),
			slog.Duration("conn_max_lifetime", c.DB.ConnMaxLifetime),
		),
	)
}

// String shows the configuration as key=value pairs with the secrets
// replaced, so that printing a Config with fmt is safe too.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("config{")
	for i, a := range c.LogValue().Group() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", a.Key, a.Value)
	}
	b.WriteString("}")
	return b.String()
}

// GoString makes %#v as safe as %v.
func (c Config) GoString() string { return c.String() }

func redact(s string) string {
	if s == "" {
		return ""
	}
	return callout.Redacted
}

// redactURL hides the password of a database URL, whether in its user
// information or in a password query parameter (which PostgreSQL accepts).
// A URL that does not parse is hidden whole: it cannot be split safely.
func redactURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return callout.Redacted
	}
	// An unencoded "/", "?" or "#" in a password moves its tail out of the
	// user information, where Redacted would not hide it.
	if strings.Contains(u.Path, "@") || strings.Contains(u.RawQuery, "@") || strings.Contains(u.Fragment, "@") {
		return u.Scheme + "://" + callout.Redacted
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", urlRedacted)
		u.RawQuery = q.Encode()
	}
	// Redacted replaces a user-information password with urlRedacted.
	return u.Redacted()
}
