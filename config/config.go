// Package config reads Callout's settings: built-in defaults, then an optional
// YAML file, then CALLOUT_* environment variables, then command-line flags,
// each layer overriding the one before. It validates them and prepares the
// secrets the server needs, generating them in the data directory where the
// specification allows.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/callout/callout"
	"github.com/callout/callout/secret"
)

// Defaults. They are named so that documentation and tests can refer to them.
const (
	DefaultListen = "127.0.0.1:8080"
	// DefaultMetricsListen keeps the metrics, labelled per manufacturer,
	// off the API's address and on loopback.
	DefaultMetricsListen     = "127.0.0.1:9091"
	DefaultDataDir           = "./data"
	DefaultDeliveryRetention = 30 * 24 * time.Hour
	// DefaultShutdownTimeout outlasts the longest webhook timeout (60 s), so
	// that a callout in flight at SIGTERM can finish and be recorded.
	DefaultShutdownTimeout = 65 * time.Second
	DefaultLogLevel        = "info"
	DefaultLogFormat       = "json"
)

// MinSubmissionLease is the shortest submission lease accepted outside
// development mode: the longest webhook timeout and a margin for recording
// the answer. A claim that expired while its callout still ran would let
// another process call the manufacturer a second time.
const MinSubmissionLease = callout.MaxTimeoutMS*time.Millisecond + 10*time.Second

// MinJWTSecretBytes is the shortest JWT secret accepted: HS256 wants a key at
// least as long as its 32-byte output.
const MinJWTSecretBytes = 32

// Config holds every setting of a Callout process. The comment on each field
// names its environment variable; its YAML key is the same name in lower case
// without the CALLOUT_ prefix (DB settings nest under db:).
type Config struct {
	// Listen is the address the HTTP server listens on (CALLOUT_LISTEN, --listen).
	Listen string
	// MetricsListen is the address /metrics is served on, apart from the
	// API; empty serves it on Listen instead (CALLOUT_METRICS_LISTEN,
	// --metrics-listen).
	MetricsListen string
	// DataDir holds the embedded database and generated key files
	// (CALLOUT_DATA_DIR, --data-dir).
	DataDir string
	// DatabaseURL selects PostgreSQL when set; empty means the embedded SQLite
	// database in DataDir (CALLOUT_DATABASE_URL, --database-url).
	DatabaseURL string
	// JWTSecret signs and verifies API tokens (CALLOUT_JWT_SECRET). It has no
	// flag because command lines are visible to every local user.
	JWTSecret string
	// SecretKey is the base64 of the 32-byte key that seals webhook secrets at
	// rest (CALLOUT_SECRET_KEY).
	SecretKey string
	// AllowPrivateNetworks lets webhooks reach loopback and private addresses
	// (CALLOUT_ALLOW_PRIVATE_NETWORKS, --allow-private-networks).
	AllowPrivateNetworks bool
	// AllowInsecureHTTP lets webhook URLs use plain http
	// (CALLOUT_ALLOW_INSECURE_HTTP, --allow-insecure-http).
	AllowInsecureHTTP bool
	// Dev turns on development mode (CALLOUT_DEV, --dev): it implies both
	// Allow* settings, and Prepare generates a JWT secret in DataDir.
	Dev bool
	// MaxRequestBytes caps inbound request bodies (CALLOUT_MAX_REQUEST_BYTES).
	MaxRequestBytes int64
	// MaxPayloadBytes caps the payload sent to a webhook (CALLOUT_MAX_PAYLOAD_BYTES).
	MaxPayloadBytes int64
	// MaxResponseBytes caps how much of a manufacturer's answer is read
	// (CALLOUT_MAX_RESPONSE_BYTES).
	MaxResponseBytes int64
	// MaxConcurrentCallouts bounds the price, submit and webhook test
	// requests served at once (CALLOUT_MAX_CONCURRENT_CALLOUTS).
	MaxConcurrentCallouts int
	// MaxCalloutsPerManufacturer bounds those of one manufacturer
	// (CALLOUT_MAX_CALLOUTS_PER_MANUFACTURER).
	MaxCalloutsPerManufacturer int
	// MaxInflightBodyBytes bounds the request bodies being read and handled
	// at once, as declared (CALLOUT_MAX_INFLIGHT_BODY_BYTES).
	MaxInflightBodyBytes int64
	// BodyReadGrace and BodyMinRate pace inbound bodies: one may take the
	// grace plus its length at the rate, in bytes a second
	// (CALLOUT_BODY_READ_GRACE, CALLOUT_BODY_MIN_RATE).
	BodyReadGrace time.Duration
	BodyMinRate   int64
	// DeliveryRetention is how long delivery records are kept
	// (CALLOUT_DELIVERY_RETENTION).
	DeliveryRetention time.Duration
	// ShutdownTimeout bounds the graceful shutdown (CALLOUT_SHUTDOWN_TIMEOUT).
	ShutdownTimeout time.Duration
	// SubmissionLease is how long a submission in progress holds its job
	// before another attempt may take it over (CALLOUT_SUBMISSION_LEASE).
	SubmissionLease time.Duration
	// LogLevel is debug, info, warn or error (CALLOUT_LOG_LEVEL, --log-level).
	LogLevel string
	// LogFormat is json or text (CALLOUT_LOG_FORMAT, --log-format).
	LogFormat string
	// DB tunes the database connection pool; zero leaves the store's default.
	DB DB
	// Events tunes event delivery.
	Events Events
}

// Events holds the settings of event delivery (CALLOUT_EVENTS_*, YAML
// events:).
type Events struct {
	// MaxDataBytes bounds an event's data; larger is 413
	// (CALLOUT_EVENTS_MAX_DATA_BYTES).
	MaxDataBytes int64
	// Retention is how long events, messages and attempts are kept
	// (CALLOUT_EVENTS_RETENTION).
	Retention time.Duration
	// DisableAfter is how long an endpoint's every attempt may fail before
	// it is disabled (CALLOUT_EVENTS_DISABLE_AFTER).
	DisableAfter time.Duration
	// Workers is how many messages one process attempts at once
	// (CALLOUT_EVENTS_WORKERS).
	Workers int
	// MaxInflightPerEndpoint bounds the attempts to one endpoint one
	// process makes at once (CALLOUT_EVENTS_MAX_INFLIGHT_PER_ENDPOINT).
	MaxInflightPerEndpoint int
	// Lease is how long an attempt may run before another process may take
	// its message over (CALLOUT_EVENTS_LEASE).
	Lease time.Duration
}

// Event delivery defaults.
const (
	DefaultEventWorkers             = 100
	DefaultEventInflightPerEndpoint = 4
	// DefaultEventLease and MinEventLease outlast the longest endpoint
	// timeout, so that a message is taken over only when its process died.
	DefaultEventLease = callout.MaxEndpointTimeoutMS*time.Millisecond + 15*time.Second
	MinEventLease     = callout.MaxEndpointTimeoutMS*time.Millisecond + 5*time.Second
)

// DB holds the connection pool settings (CALLOUT_DB_*, YAML db:).
type DB struct {
	// MaxOpenConns is CALLOUT_DB_MAX_OPEN_CONNS.
	MaxOpenConns int
	// MaxIdleConns is CALLOUT_DB_MAX_IDLE_CONNS.
	MaxIdleConns int
	// ConnMaxLifetime is CALLOUT_DB_CONN_MAX_LIFETIME.
	ConnMaxLifetime time.Duration
}

// Default returns the configuration used when nothing is set.
func Default() *Config {
	c := &Config{}
	for _, s := range settings {
		s.reset(c)
	}
	return c
}

// applyDev turns on what development mode implies. It only ever loosens, so
// that an explicit false cannot silently re-tighten a --dev run half-way.
func (c *Config) applyDev() {
	if c.Dev {
		c.AllowPrivateNetworks = true
		c.AllowInsecureHTTP = true
	}
}

// Validate reports every invalid setting, one per line, each named by its
// environment variable. It never quotes a secret.
func (c *Config) Validate() error {
	var errs []error
	bad := func(env, format string, args ...any) {
		errs = append(errs, &problem{env: env, msg: fmt.Sprintf(format, args...)})
	}

	if err := checkListen(c.Listen); err != nil {
		bad("CALLOUT_LISTEN", "%v", err)
	}
	if c.MetricsListen != "" {
		if err := checkListen(c.MetricsListen); err != nil {
			bad("CALLOUT_METRICS_LISTEN", "%v (or empty, to serve /metrics on the API's address)", err)
		}
	}
	if c.DataDir == "" {
		bad("CALLOUT_DATA_DIR", "must not be empty")
	}
	if err := checkDatabaseURL(c.DatabaseURL); err != nil {
		bad("CALLOUT_DATABASE_URL", "%v", err)
	}
	if n := len(c.JWTSecret); n > 0 && n < MinJWTSecretBytes {
		bad("CALLOUT_JWT_SECRET", "too short: %d bytes, want at least %d", n, MinJWTSecretBytes)
	}
	if c.SecretKey != "" {
		// ParseKey's errors describe the encoding or length, never the key.
		if _, err := secret.ParseKey(c.SecretKey); err != nil {
			bad("CALLOUT_SECRET_KEY", "%v", err)
		}
	}
	for _, s := range []struct {
		env string
		n   int64
	}{
		{"CALLOUT_MAX_REQUEST_BYTES", c.MaxRequestBytes},
		{"CALLOUT_MAX_PAYLOAD_BYTES", c.MaxPayloadBytes},
		{"CALLOUT_MAX_RESPONSE_BYTES", c.MaxResponseBytes},
	} {
		if s.n <= 0 {
			bad(s.env, "must be a positive number of bytes, got %d", s.n)
		}
	}
	for _, d := range []struct {
		env string
		d   time.Duration
	}{
		{"CALLOUT_DELIVERY_RETENTION", c.DeliveryRetention},
		{"CALLOUT_SHUTDOWN_TIMEOUT", c.ShutdownTimeout},
		{"CALLOUT_SUBMISSION_LEASE", c.SubmissionLease},
		{"CALLOUT_EVENTS_RETENTION", c.Events.Retention},
		{"CALLOUT_EVENTS_DISABLE_AFTER", c.Events.DisableAfter},
		{"CALLOUT_EVENTS_LEASE", c.Events.Lease},
	} {
		if d.d <= 0 {
			bad(d.env, "must be a positive duration, got %s", d.d)
		}
	}
	// Tests of a process dying mid-callout need a lease of seconds.
	if c.SubmissionLease > 0 && c.SubmissionLease < MinSubmissionLease && !c.Dev {
		bad("CALLOUT_SUBMISSION_LEASE", "%s is shorter than the longest webhook timeout (%s) plus a margin: want at least %s (shorter only with --dev)",
			c.SubmissionLease, callout.MaxTimeoutMS*time.Millisecond, MinSubmissionLease)
	}
	if c.Events.Lease > 0 && c.Events.Lease < MinEventLease && !c.Dev {
		bad("CALLOUT_EVENTS_LEASE", "%s is shorter than the longest endpoint timeout (%s) plus a margin: want at least %s (shorter only with --dev)",
			c.Events.Lease, callout.MaxEndpointTimeoutMS*time.Millisecond, MinEventLease)
	}
	if c.Events.MaxDataBytes <= 0 {
		bad("CALLOUT_EVENTS_MAX_DATA_BYTES", "must be a positive number of bytes, got %d", c.Events.MaxDataBytes)
	}
	if c.Events.Workers <= 0 || c.Events.MaxInflightPerEndpoint <= 0 {
		bad("CALLOUT_EVENTS_WORKERS", "and CALLOUT_EVENTS_MAX_INFLIGHT_PER_ENDPOINT must be positive numbers")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("CALLOUT_LOG_LEVEL", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		bad("CALLOUT_LOG_FORMAT", "%q is not one of json, text", c.LogFormat)
	}
	if c.MaxConcurrentCallouts <= 0 {
		bad("CALLOUT_MAX_CONCURRENT_CALLOUTS", "must be a positive number, got %d", c.MaxConcurrentCallouts)
	}
	if c.MaxCalloutsPerManufacturer <= 0 {
		bad("CALLOUT_MAX_CALLOUTS_PER_MANUFACTURER", "must be a positive number, got %d", c.MaxCalloutsPerManufacturer)
	}
	if c.MaxInflightBodyBytes < c.MaxRequestBytes {
		bad("CALLOUT_MAX_INFLIGHT_BODY_BYTES", "must be at least CALLOUT_MAX_REQUEST_BYTES (%d), got %d", c.MaxRequestBytes, c.MaxInflightBodyBytes)
	}
	if c.BodyMinRate <= 0 {
		bad("CALLOUT_BODY_MIN_RATE", "must be a positive number of bytes a second, got %d", c.BodyMinRate)
	}
	if c.DB.MaxOpenConns < 0 {
		bad("CALLOUT_DB_MAX_OPEN_CONNS", "must not be negative, got %d", c.DB.MaxOpenConns)
	}
	if c.DB.MaxIdleConns < 0 {
		bad("CALLOUT_DB_MAX_IDLE_CONNS", "must not be negative, got %d", c.DB.MaxIdleConns)
	}
	if c.DB.ConnMaxLifetime < 0 {
		bad("CALLOUT_DB_CONN_MAX_LIFETIME", "must not be negative, got %s", c.DB.ConnMaxLifetime)
	}
	return errors.Join(errs...)
}

// problem is one invalid setting, named by its environment variable. Load
// names it by its flag instead when the value came from one.
type problem struct{ env, msg string }

func (p *problem) Error() string { return p.env + ": " + p.msg }

// checkListen accepts host:port with a numeric port; the host may be empty
// (all interfaces) and the port 0 (any free port, for tests).
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	return nil
}

// checkDatabaseURL accepts "" (embedded SQLite) or a PostgreSQL URL. Its
// errors never include the URL, which may carry a password.
func checkDatabaseURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		// Parse errors quote the URL or a piece of it, which may be the
		// password: give none of their detail.
		return errors.New("not a valid URL (special characters in the user name or password must be percent-encoded)")
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		return nil
	case "":
		return errors.New("want a postgres:// or postgresql:// URL, or nothing for the embedded SQLite database")
	default:
		return fmt.Errorf("scheme %q is not supported: want postgres:// or postgresql://, or nothing for the embedded SQLite database", u.Scheme)
	}
}
