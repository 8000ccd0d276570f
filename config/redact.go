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
// secret shows as "", so a log still tells whether one was given. Nested keys
// (db.max_open_conns) show in their group.
func (c Config) LogValue() slog.Value {
	var attrs []slog.Attr
	for _, s := range settings {
		v := s.show(&c)
		if s.redact != nil {
			v = slog.StringValue(s.redact(v.String()))
		}
		group, key, nested := strings.Cut(s.key, ".")
		if !nested {
			attrs = append(attrs, slog.Attr{Key: s.key, Value: v})
			continue
		}
		// The settings of a group are listed together.
		if last := len(attrs) - 1; last >= 0 && attrs[last].Key == group {
			attrs[last].Value = slog.GroupValue(append(attrs[last].Value.Group(), slog.Attr{Key: key, Value: v})...)
		} else {
			attrs = append(attrs, slog.Group(group, slog.Attr{Key: key, Value: v}))
		}
	}
	return slog.GroupValue(attrs...)
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
