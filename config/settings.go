package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/callout/callout"
)

// setting declares one configuration key, once: its YAML key (dotted when
// nested), from which its environment variable and flag names are derived;
// whether it is a flag; whether it is a secret; and its field of Config with
// its default. Default, Flags, Load (with its unknown-key check) and
// LogValue are all produced from the table of settings.
type setting struct {
	key string
	// flag makes the setting a command-line flag too, with usage as its
	// help. The JWT secret and the secret key are none: a command line is
	// visible to every local user.
	flag  bool
	usage string
	// redact, set for secrets, is how the value shows in logs; a secret
	// is never quoted in an error either.
	redact func(string) string
	value
}

// value is a setting's field of Config: its default, how a value read from
// YAML, the environment or a flag is stored into it, and how it shows.
type value struct {
	def   any
	reset func(*Config)
	set   func(*Config, any) error
	show  func(*Config) slog.Value
}

// field declares a setting's field, its default and how a value is read.
func field[T any](p func(*Config) *T, def T, parse func(any) (T, error)) value {
	return value{
		def:   def,
		reset: func(c *Config) { *p(c) = def },
		set: func(c *Config, v any) error {
			x, err := parse(v)
			if err != nil {
				return err
			}
			*p(c) = x
			return nil
		},
		show: func(c *Config) slog.Value { return slog.AnyValue(*p(c)) },
	}
}

// env is the setting's environment variable: CALLOUT_ and the key in upper
// snake case.
func (s setting) env() string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(s.key, ".", "_"))
}

// flagName is the flag of the setting key: the key with dashes.
func flagName(key string) string { return strings.ReplaceAll(key, "_", "-") }

// settings lists every key Callout understands, in the order they are
// documented.
var settings = []setting{
	{key: "listen", flag: true, usage: "address to listen on, host:port",
		value: field(func(c *Config) *string { return &c.Listen }, DefaultListen, parseString)},
	{key: "metrics_listen", flag: true, usage: "address to serve /metrics on, host:port; empty serves it on --listen",
		value: field(func(c *Config) *string { return &c.MetricsListen }, DefaultMetricsListen, parseString)},
	{key: "data_dir", flag: true, usage: "directory for the embedded database and generated keys",
		value: field(func(c *Config) *string { return &c.DataDir }, DefaultDataDir, parseString)},
	{key: "database_url", flag: true, usage: "PostgreSQL URL; empty for the embedded SQLite database (prefer the variable when it holds a password)",
		redact: redactURL, value: field(func(c *Config) *string { return &c.DatabaseURL }, "", parseString)},
	{key: "jwt_secret", redact: redact, value: field(func(c *Config) *string { return &c.JWTSecret }, "", parseString)},
	{key: "secret_key", redact: redact, value: field(func(c *Config) *string { return &c.SecretKey }, "", parseString)},
	{key: "allow_private_networks", flag: true, usage: "let webhooks reach loopback and private addresses",
		value: field(func(c *Config) *bool { return &c.AllowPrivateNetworks }, false, parseBool)},
	{key: "allow_insecure_http", flag: true, usage: "let webhook URLs use plain http",
		value: field(func(c *Config) *bool { return &c.AllowInsecureHTTP }, false, parseBool)},
	{key: "dev", flag: true, usage: "development mode: allow private networks and plain http, generate secrets in the data directory",
		value: field(func(c *Config) *bool { return &c.Dev }, false, parseBool)},
	{key: "max_request_bytes", value: field(func(c *Config) *int64 { return &c.MaxRequestBytes }, callout.DefaultMaxRequestBytes, parseSize)},
	{key: "max_payload_bytes", value: field(func(c *Config) *int64 { return &c.MaxPayloadBytes }, callout.DefaultMaxPayloadBytes, parseSize)},
	{key: "max_response_bytes", value: field(func(c *Config) *int64 { return &c.MaxResponseBytes }, callout.DefaultMaxResponseBytes, parseSize)},
	{key: "max_concurrent_callouts", value: field(func(c *Config) *int { return &c.MaxConcurrentCallouts }, callout.DefaultMaxConcurrentCallouts, parseCount)},
	{key: "max_callouts_per_manufacturer", value: field(func(c *Config) *int { return &c.MaxCalloutsPerManufacturer }, callout.DefaultMaxCalloutsPerManufacturer, parseCount)},
	{key: "max_inflight_body_bytes", value: field(func(c *Config) *int64 { return &c.MaxInflightBodyBytes }, callout.DefaultMaxInflightBodyBytes, parseSize)},
	{key: "body_read_grace", value: field(func(c *Config) *time.Duration { return &c.BodyReadGrace }, callout.DefaultBodyReadGrace, parseDuration)},
	{key: "body_min_rate", value: field(func(c *Config) *int64 { return &c.BodyMinRate }, callout.DefaultBodyMinRate, parseSize)},
	{key: "delivery_retention", value: field(func(c *Config) *time.Duration { return &c.DeliveryRetention }, DefaultDeliveryRetention, parseDuration)},
	{key: "shutdown_timeout", value: field(func(c *Config) *time.Duration { return &c.ShutdownTimeout }, DefaultShutdownTimeout, parseDuration)},
	{key: "submission_lease", value: field(func(c *Config) *time.Duration { return &c.SubmissionLease }, callout.DefaultSubmissionLease, parseDuration)},
	{key: "log_level", flag: true, usage: "debug, info, warn or error",
		value: field(func(c *Config) *string { return &c.LogLevel }, DefaultLogLevel, parseString)},
	{key: "log_format", flag: true, usage: "json or text",
		value: field(func(c *Config) *string { return &c.LogFormat }, DefaultLogFormat, parseString)},
	{key: "db.max_open_conns", value: field(func(c *Config) *int { return &c.DB.MaxOpenConns }, 0, parseCount)},
	{key: "db.max_idle_conns", value: field(func(c *Config) *int { return &c.DB.MaxIdleConns }, 0, parseCount)},
	{key: "db.conn_max_lifetime", value: field(func(c *Config) *time.Duration { return &c.DB.ConnMaxLifetime }, 0, parseDuration)},
	{key: "events.max_data_bytes", value: field(func(c *Config) *int64 { return &c.Events.MaxDataBytes }, callout.DefaultMaxEventDataBytes, parseSize)},
	{key: "events.retention", value: field(func(c *Config) *time.Duration { return &c.Events.Retention }, callout.DefaultEventRetention, parseDuration)},
	{key: "events.disable_after", value: field(func(c *Config) *time.Duration { return &c.Events.DisableAfter }, callout.DefaultEndpointDisableAfter, parseDuration)},
	{key: "events.workers", value: field(func(c *Config) *int { return &c.Events.Workers }, DefaultEventWorkers, parseCount)},
	{key: "events.max_inflight_per_endpoint", value: field(func(c *Config) *int { return &c.Events.MaxInflightPerEndpoint }, DefaultEventInflightPerEndpoint, parseCount)},
	{key: "events.lease", value: field(func(c *Config) *time.Duration { return &c.Events.Lease }, DefaultEventLease, parseDuration)},
}

// groups are the YAML keys that only nest other keys.
var groups = []string{"db", "events"}

// parseString reads a string; YAML numbers and booleans are refused rather
// than converted, since they are most likely a misplaced line.
func parseString(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("is %s, want a string", kind(v))
	}
	return s, nil
}

// parseBool reads true or false, accepting the spellings strconv.ParseBool
// does.
func parseBool(v any) (bool, error) {
	switch v := v.(type) {
	case bool:
		return v, nil
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
			return b, nil
		}
	}
	return false, errors.New("is not a boolean: want true or false")
}

// parseCount reads a non-negative whole number.
func parseCount(v any) (int, error) {
	n, err := wholeNumber(v)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, errors.New("must not be negative")
	}
	if n > math.MaxInt32 {
		return 0, errors.New("is too large")
	}
	return int(n), nil
}

// parseDuration reads a non-negative Go duration such as "30s" or "720h". A
// bare YAML number is refused: its unit would be a guess.
func parseDuration(v any) (time.Duration, error) {
	const want = `is not a duration: want a number with a unit, such as "30s", "2m" or "720h"`
	var d time.Duration
	switch v := v.(type) {
	case time.Duration:
		d = v
	case string:
		var err error
		if d, err = time.ParseDuration(strings.TrimSpace(v)); err != nil {
			return 0, errors.New(want)
		}
	default:
		return 0, errors.New(want)
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	return d, nil
}

// wholeNumber reads an integer from YAML (int, or a float with no fraction)
// or from a string.
func wholeNumber(v any) (int64, error) {
	switch v := v.(type) {
	case int:
		return int64(v), nil
	case int64:
		return v, nil
	case uint64:
		if v > math.MaxInt64 {
			return 0, errors.New("is too large")
		}
		return int64(v), nil
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			return 0, errors.New("is not a whole number")
		}
		return int64(v), nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, errors.New("is not a whole number")
		}
		return n, nil
	}
	return 0, errors.New("is not a whole number")
}

// sizeUnits are the suffixes parseSize accepts, binary as the defaults are.
var sizeUnits = []struct {
	suffix string
	n      int64
}{
	{"GiB", 1 << 30},
	{"MiB", 1 << 20},
	{"KiB", 1 << 10},
	{"B", 1},
}

// parseSize reads a non-negative byte count: a whole number, optionally
// followed by B, KiB, MiB or GiB ("16MiB", "1 KiB").
func parseSize(v any) (int64, error) {
	const want = "is not a size: want a whole number of bytes, optionally with a KiB, MiB or GiB suffix"
	s, ok := v.(string)
	if !ok {
		n, err := wholeNumber(v)
		if err != nil {
			return 0, errors.New(want)
		}
		if n < 0 {
			return 0, errors.New("must not be negative")
		}
		return n, nil
	}
	s = strings.TrimSpace(s)
	unit := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, unit = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.n
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errors.New(want)
	}
	if n < 0 {
		return 0, errors.New("must not be negative")
	}
	if n > math.MaxInt64/unit {
		return 0, errors.New("is too large")
	}
	return n * unit, nil
}

// kind names the type of a YAML value for an error message.
func kind(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case int, int64, uint64, float64:
		return "a number"
	case map[string]any:
		return "a group of keys"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("a %T", v)
}
