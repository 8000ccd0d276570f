package config

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
}

func TestValidate(t *testing.T) {
	const key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	tests := []struct {
		name   string
		change func(*Config)
		want   string // the variable the only error line must name; "" for valid
	}{
		{"listen on all interfaces", func(c *Config) { c.Listen = ":8080" }, ""},
		{"listen on any port", func(c *Config) { c.Listen = "127.0.0.1:0" }, ""},
		{"listen on IPv6", func(c *Config) { c.Listen = "[::1]:8080" }, ""},
		{"listen without port", func(c *Config) { c.Listen = "127.0.0.1" }, "CALLOUT_LISTEN"},
		{"listen empty port", func(c *Config) { c.Listen = "127.0.0.1:" }, "CALLOUT_LISTEN"},
		{"listen empty", func(c *Config) { c.Listen = "" }, "CALLOUT_LISTEN"},
		{"data dir empty", func(c *Config) { c.DataDir = "" }, "CALLOUT_DATA_DIR"},
		{"postgres", func(c *Config) { c.DatabaseURL = "postgres://u:p@db/callout" }, ""},
		{"postgresql", func(c *Config) { c.DatabaseURL = "postgresql://db/callout?sslmode=verify-full" }, ""},
		{"postgres upper case", func(c *Config) { c.DatabaseURL = "POSTGRES://db/callout" }, ""},
		{"sqlite URL", func(c *Config) { c.DatabaseURL = "sqlite:///data/callout.db" }, "CALLOUT_DATABASE_URL"},
		{"unparseable URL", func(c *Config) { c.DatabaseURL = "postgres://u:p%zz@db/x" }, "CALLOUT_DATABASE_URL"},
		{"JWT secret of 32 bytes", func(c *Config) { c.JWTSecret = strings.Repeat("k", 32) }, ""},
		{"JWT secret of 31 bytes", func(c *Config) { c.JWTSecret = strings.Repeat("k", 31) }, "CALLOUT_JWT_SECRET"},
		{"secret key", func(c *Config) { c.SecretKey = key }, ""},
		{"secret key short", func(c *Config) { c.SecretKey = key[:20] }, "CALLOUT_SECRET_KEY"},
		{"request bytes zero", func(c *Config) { c.MaxRequestBytes = 0 }, "CALLOUT_MAX_REQUEST_BYTES"},
		{"payload bytes negative", func(c *Config) { c.MaxPayloadBytes = -1 }, "CALLOUT_MAX_PAYLOAD_BYTES"},
		{"response bytes zero", func(c *Config) { c.MaxResponseBytes = 0 }, "CALLOUT_MAX_RESPONSE_BYTES"},
		{"no callouts at once", func(c *Config) { c.MaxConcurrentCallouts = 0 }, "CALLOUT_MAX_CONCURRENT_CALLOUTS"},
		{"no callouts per manufacturer", func(c *Config) { c.MaxCalloutsPerManufacturer = 0 }, "CALLOUT_MAX_CALLOUTS_PER_MANUFACTURER"},
		{"bodies in flight below one body", func(c *Config) { c.MaxInflightBodyBytes = c.MaxRequestBytes - 1 }, "CALLOUT_MAX_INFLIGHT_BODY_BYTES"},
		{"body rate zero", func(c *Config) { c.BodyMinRate = 0 }, "CALLOUT_BODY_MIN_RATE"},
		{"retention zero", func(c *Config) { c.DeliveryRetention = 0 }, "CALLOUT_DELIVERY_RETENTION"},
		{"shutdown negative", func(c *Config) { c.ShutdownTimeout = -time.Second }, "CALLOUT_SHUTDOWN_TIMEOUT"},
		{"lease zero", func(c *Config) { c.SubmissionLease = 0 }, "CALLOUT_SUBMISSION_LEASE"},
		{"lease shorter than a webhook timeout", func(c *Config) { c.SubmissionLease = 30 * time.Second }, "CALLOUT_SUBMISSION_LEASE"},
		{"lease without margin", func(c *Config) { c.SubmissionLease = MinSubmissionLease - time.Second }, "CALLOUT_SUBMISSION_LEASE"},
		{"lease at the minimum", func(c *Config) { c.SubmissionLease = MinSubmissionLease }, ""},
		{"short lease in development", func(c *Config) { c.SubmissionLease, c.Dev = 2*time.Second, true }, ""},
		{"event lease shorter than an endpoint timeout", func(c *Config) { c.Events.Lease = 30 * time.Second }, "CALLOUT_EVENTS_LEASE"},
		{"short event lease in development", func(c *Config) { c.Events.Lease, c.Dev = 2*time.Second, true }, ""},
		{"event data limit zero", func(c *Config) { c.Events.MaxDataBytes = 0 }, "CALLOUT_EVENTS_MAX_DATA_BYTES"},
		{"log level", func(c *Config) { c.LogLevel = "trace" }, "CALLOUT_LOG_LEVEL"},
		{"log level upper case", func(c *Config) { c.LogLevel = "INFO" }, "CALLOUT_LOG_LEVEL"},
		{"log format", func(c *Config) { c.LogFormat = "logfmt" }, "CALLOUT_LOG_FORMAT"},
		{"open conns negative", func(c *Config) { c.DB.MaxOpenConns = -1 }, "CALLOUT_DB_MAX_OPEN_CONNS"},
		{"idle conns negative", func(c *Config) { c.DB.MaxIdleConns = -1 }, "CALLOUT_DB_MAX_IDLE_CONNS"},
		{"lifetime negative", func(c *Config) { c.DB.ConnMaxLifetime = -time.Minute }, "CALLOUT_DB_CONN_MAX_LIFETIME"},
		{"pool settings", func(c *Config) { c.DB = DB{MaxOpenConns: 10, MaxIdleConns: 2, ConnMaxLifetime: time.Hour} }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.change(c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			assertLines(t, err, tt.want+": ")
		})
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	c := Default()
	c.Listen, c.LogLevel, c.DB.MaxIdleConns = "nowhere", "loud", -2
	assertLines(t, c.Validate(), "CALLOUT_LISTEN: ", "CALLOUT_LOG_LEVEL: ", "CALLOUT_DB_MAX_IDLE_CONNS: ")
}
