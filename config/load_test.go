package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/callout/callout"
)

// load parses args with the serve flags and loads the configuration, as
// cmd/callout does.
func load(t *testing.T, args, environ []string) (*Config, error) {
	t.Helper()
	fs := Flags("serve")
	fs.SetOutput(&bytes.Buffer{})
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parsing %q: %v", args, err)
	}
	return Load(fs, environ)
}

// mustLoad is load for configurations that must be valid.
func mustLoad(t *testing.T, args, environ []string) *Config {
	t.Helper()
	c, err := load(t, args, environ)
	if err != nil {
		t.Fatalf("Load(%q, %q): %v", args, environ, err)
	}
	return c
}

func TestLoadDefaults(t *testing.T) {
	got := mustLoad(t, nil, []string{"PATH=/usr/bin", "HOME=/root"})
	if diff := cmp.Diff(Default(), got); diff != "" {
		t.Errorf("Load with nothing set (-want +got):\n%s", diff)
	}
	got, err := Load(nil, nil)
	if err != nil {
		t.Fatalf("Load(nil, nil): %v", err)
	}
	if diff := cmp.Diff(Default(), got); diff != "" {
		t.Errorf("Load(nil, nil) (-want +got):\n%s", diff)
	}
}

func TestLoadPrecedence(t *testing.T) {
	const file = "--config=testdata/layer.yaml"
	env := []string{
		"CALLOUT_LISTEN=127.0.0.3:1002",
		"CALLOUT_MAX_REQUEST_BYTES=1002",
		"CALLOUT_LOG_LEVEL=error",
		"CALLOUT_DB_MAX_OPEN_CONNS=12",
	}
	flags := []string{"--listen=127.0.0.4:1003", "--log-level=debug"}

	type want struct {
		listen   string
		maxBytes int64
		logLevel string
		maxOpen  int
	}
	tests := []struct {
		name    string
		args    []string
		environ []string
		want    want
	}{
		{"defaults", nil, nil, want{DefaultListen, callout.DefaultMaxRequestBytes, "info", 0}},
		{"yaml over defaults", []string{file}, nil, want{"127.0.0.2:1001", 1001, "warn", 11}},
		{"env over defaults", nil, env, want{"127.0.0.3:1002", 1002, "error", 12}},
		{"env over yaml", []string{file}, env, want{"127.0.0.3:1002", 1002, "error", 12}},
		{"flags over defaults", flags, nil, want{"127.0.0.4:1003", callout.DefaultMaxRequestBytes, "debug", 0}},
		{"flags over yaml", append([]string{file}, flags...), nil, want{"127.0.0.4:1003", 1001, "debug", 11}},
		{"flags over env over yaml", append([]string{file}, flags...), env, want{"127.0.0.4:1003", 1002, "debug", 12}},
		// Only --listen is given: the unset --log-level keeps its
		// default out of the way of the variable and the file.
		{"unset flag does not override env", []string{"--listen=127.0.0.4:1003"}, env, want{"127.0.0.4:1003", 1002, "error", 12}},
		{"unset flag does not override yaml", []string{file, "--listen=127.0.0.4:1003"}, nil, want{"127.0.0.4:1003", 1001, "warn", 11}},
		{"CALLOUT_CONFIG names the file", nil, []string{"CALLOUT_CONFIG=testdata/layer.yaml"}, want{"127.0.0.2:1001", 1001, "warn", 11}},
		{"--config over CALLOUT_CONFIG", []string{file}, []string{"CALLOUT_CONFIG=testdata/missing.yaml"}, want{"127.0.0.2:1001", 1001, "warn", 11}},
		{"later duplicate variable wins", nil, []string{"CALLOUT_LISTEN=127.0.0.9:1", "CALLOUT_LISTEN=127.0.0.3:1002"}, want{"127.0.0.3:1002", callout.DefaultMaxRequestBytes, "info", 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, tt.args, tt.environ)
			got := want{c.Listen, c.MaxRequestBytes, c.LogLevel, c.DB.MaxOpenConns}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLoadEverySetting(t *testing.T) {
	want := &Config{
		Listen:                     "0.0.0.0:9090",
		MetricsListen:              "0.0.0.0:9100",
		DataDir:                    "/var/lib/callout",
		DatabaseURL:                "postgres://callout@db.internal:5432/callout?sslmode=require",
		JWTSecret:                  "0123456789abcdef0123456789abcdef-yaml",
		SecretKey:                  "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		AllowPrivateNetworks:       true,
		AllowInsecureHTTP:          true,
		MaxRequestBytes:            8 << 20,
		MaxPayloadBytes:            4 << 20,
		MaxResponseBytes:           64 << 10,
		MaxConcurrentCallouts:      32,
		MaxCalloutsPerManufacturer: 16,
		MaxInflightBodyBytes:       64 << 20,
		BodyReadGrace:              5 * time.Second,
		BodyMinRate:                32 << 10,
		DeliveryRetention:          168 * time.Hour,
		ShutdownTimeout:            90 * time.Second,
		SubmissionLease:            5 * time.Minute,
		LogLevel:                   "debug",
		LogFormat:                  "text",
		DB:                         DB{MaxOpenConns: 20, MaxIdleConns: 5, ConnMaxLifetime: 30 * time.Minute},
		Events: Events{MaxDataBytes: 2 << 20, Retention: 240 * time.Hour, DisableAfter: 72 * time.Hour,
			Workers: 50, MaxInflightPerEndpoint: 8, Lease: 2 * time.Minute},
	}

	t.Run("yaml", func(t *testing.T) {
		got := mustLoad(t, []string{"--config", "testdata/full.yaml"}, nil)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("environment", func(t *testing.T) {
		got := mustLoad(t, nil, []string{
			"CALLOUT_LISTEN=0.0.0.0:9090",
			"CALLOUT_METRICS_LISTEN=0.0.0.0:9100",
			"CALLOUT_DATA_DIR=/var/lib/callout",
			"CALLOUT_DATABASE_URL=postgres://callout@db.internal:5432/callout?sslmode=require",
			"CALLOUT_JWT_SECRET=0123456789abcdef0123456789abcdef-yaml",
			"CALLOUT_SECRET_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
			"CALLOUT_ALLOW_PRIVATE_NETWORKS=true",
			"CALLOUT_ALLOW_INSECURE_HTTP=1",
			"CALLOUT_DEV=false",
			"CALLOUT_MAX_REQUEST_BYTES=8MiB",
			"CALLOUT_MAX_PAYLOAD_BYTES=4194304",
			"CALLOUT_MAX_RESPONSE_BYTES=64KiB",
			"CALLOUT_MAX_CONCURRENT_CALLOUTS=32",
			"CALLOUT_MAX_CALLOUTS_PER_MANUFACTURER=16",
			"CALLOUT_MAX_INFLIGHT_BODY_BYTES=64MiB",
			"CALLOUT_BODY_READ_GRACE=5s",
			"CALLOUT_BODY_MIN_RATE=32KiB",
			"CALLOUT_DELIVERY_RETENTION=168h",
			"CALLOUT_SHUTDOWN_TIMEOUT=90s",
			"CALLOUT_SUBMISSION_LEASE=5m",
			"CALLOUT_LOG_LEVEL=debug",
			"CALLOUT_LOG_FORMAT=text",
			"CALLOUT_DB_MAX_OPEN_CONNS=20",
			"CALLOUT_DB_MAX_IDLE_CONNS=5",
			"CALLOUT_DB_CONN_MAX_LIFETIME=30m",
			"CALLOUT_EVENTS_MAX_DATA_BYTES=2MiB",
			"CALLOUT_EVENTS_RETENTION=240h",
			"CALLOUT_EVENTS_DISABLE_AFTER=72h",
			"CALLOUT_EVENTS_WORKERS=50",
			"CALLOUT_EVENTS_MAX_INFLIGHT_PER_ENDPOINT=8",
			"CALLOUT_EVENTS_LEASE=2m",
		})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("flags", func(t *testing.T) {
		got := mustLoad(t, []string{
			"--listen", "0.0.0.0:9090",
			"--metrics-listen", "0.0.0.0:9100",
			"--data-dir", "/var/lib/callout",
			"--database-url", "postgres://callout@db.internal:5432/callout?sslmode=require",
			"--allow-private-networks",
			"--allow-insecure-http",
			"--log-level", "debug",
			"--log-format", "text",
		}, nil)
		w := *Default()
		w.Listen, w.DataDir, w.DatabaseURL = want.Listen, want.DataDir, want.DatabaseURL
		w.MetricsListen = want.MetricsListen
		w.AllowPrivateNetworks, w.AllowInsecureHTTP = true, true
		w.LogLevel, w.LogFormat = "debug", "text"
		if diff := cmp.Diff(&w, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestLoadBlankYAMLKeysKeepDefaults(t *testing.T) {
	got := mustLoad(t, []string{"--config=testdata/blank.yaml"}, nil)
	if diff := cmp.Diff(Default(), got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLoadDevImpliesAllows(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		environ []string
	}{
		{"flag", []string{"--dev"}, nil},
		{"environment", nil, []string{"CALLOUT_DEV=true"}},
		{"explicit false does not undo it", []string{"--dev", "--allow-private-networks=false"}, []string{"CALLOUT_ALLOW_INSECURE_HTTP=false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, tt.args, tt.environ)
			if !c.Dev || !c.AllowPrivateNetworks || !c.AllowInsecureHTTP {
				t.Errorf("Dev, AllowPrivateNetworks, AllowInsecureHTTP = %v, %v, %v, want all true", c.Dev, c.AllowPrivateNetworks, c.AllowInsecureHTTP)
			}
		})
	}
	c := mustLoad(t, nil, nil)
	if c.AllowPrivateNetworks || c.AllowInsecureHTTP {
		t.Errorf("without dev: AllowPrivateNetworks, AllowInsecureHTTP = %v, %v, want false", c.AllowPrivateNetworks, c.AllowInsecureHTTP)
	}
}

func TestLoadUnknownSettings(t *testing.T) {
	t.Run("yaml", func(t *testing.T) {
		_, err := load(t, []string{"--config=testdata/unknown.yaml"}, nil)
		assertLines(t, err, `testdata/unknown.yaml: unknown key "db.max_open" (did you mean "db.max_open_conns"?)`, `testdata/unknown.yaml: unknown key "lisen" (did you mean "listen"?)`)
	})
	t.Run("environment", func(t *testing.T) {
		_, err := load(t, nil, []string{"CALLOUT_LISTN=0.0.0.0:80", "CALLOUT_DB_MAX_OPEN=3", "CALLOUT_LISTEN=127.0.0.1:1"})
		assertLines(t, err, `CALLOUT_DB_MAX_OPEN: unknown setting (in the environment) (did you mean "CALLOUT_DB_MAX_OPEN_CONNS"?)`,
			`CALLOUT_LISTN: unknown setting (in the environment) (did you mean "CALLOUT_LISTEN"?)`)
	})
	t.Run("nothing close", func(t *testing.T) {
		_, err := load(t, nil, []string{"CALLOUT_FROBNICATE=1"})
		assertLines(t, err, "CALLOUT_FROBNICATE: unknown setting (in the environment)")
		if strings.Contains(err.Error(), "did you mean") {
			t.Errorf("got %q, want no suggestion", err)
		}
	})
	t.Run("reserved and foreign variables pass", func(t *testing.T) {
		mustLoad(t, nil, []string{
			"CALLOUT_TEST_DATABASE_URL=postgres://postgres@127.0.0.1/test",
			"CALLOUT_CONFIG=testdata/layer.yaml",
			"OTHER_LISTEN=x",
			"callout_listen=x",
			"NOEQUALS",
		})
	})
	t.Run("no flag for secrets", func(t *testing.T) {
		for _, name := range []string{"jwt-secret", "secret-key"} {
			if Flags("serve").Lookup(name) != nil {
				t.Errorf("--%s exists; secrets must not be flags", name)
			}
		}
	})
}

func TestLoadBadValues(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		environ []string
		want    []string // the start of each line of the error, in order
	}{
		{"not a number", nil, []string{"CALLOUT_MAX_REQUEST_BYTES=lots"}, []string{`CALLOUT_MAX_REQUEST_BYTES: "lots" is not a size`}},
		{"negative size", nil, []string{"CALLOUT_MAX_RESPONSE_BYTES=-5"}, []string{`CALLOUT_MAX_RESPONSE_BYTES: "-5" must not be negative`}},
		{"zero size", nil, []string{"CALLOUT_MAX_PAYLOAD_BYTES=0"}, []string{"CALLOUT_MAX_PAYLOAD_BYTES: must be a positive number of bytes"}},
		{"size overflow", nil, []string{"CALLOUT_MAX_PAYLOAD_BYTES=9223372036854775807GiB"}, []string{`CALLOUT_MAX_PAYLOAD_BYTES: "9223372036854775807GiB" is too large`}},
		{"negative conns", nil, []string{"CALLOUT_DB_MAX_IDLE_CONNS=-1"}, []string{`CALLOUT_DB_MAX_IDLE_CONNS: "-1" must not be negative`}},
		{"conns not a number", nil, []string{"CALLOUT_DB_MAX_OPEN_CONNS=ten"}, []string{`CALLOUT_DB_MAX_OPEN_CONNS: "ten" is not a whole number`}},
		{"bad duration", nil, []string{"CALLOUT_DELIVERY_RETENTION=30d"}, []string{`CALLOUT_DELIVERY_RETENTION: "30d" is not a duration`}},
		{"negative duration", nil, []string{"CALLOUT_DB_CONN_MAX_LIFETIME=-1s"}, []string{`CALLOUT_DB_CONN_MAX_LIFETIME: "-1s" must not be negative`}},
		{"short lease", nil, []string{"CALLOUT_SUBMISSION_LEASE=1m"}, []string{"CALLOUT_SUBMISSION_LEASE: 1m0s is shorter than the longest webhook timeout (1m0s) plus a margin: want at least 1m10s"}},
		{"zero duration", nil, []string{"CALLOUT_SHUTDOWN_TIMEOUT=0s"}, []string{"CALLOUT_SHUTDOWN_TIMEOUT: must be a positive duration"}},
		{"bad bool", nil, []string{"CALLOUT_DEV=yes"}, []string{`CALLOUT_DEV: "yes" is not a boolean`}},
		{"bad log level", nil, []string{"CALLOUT_LOG_LEVEL=verbose"}, []string{`CALLOUT_LOG_LEVEL: "verbose" is not one of`}},
		{"bad log level flag", []string{"--log-level=loud"}, nil, []string{`--log-level: "loud" is not one of`}},
		{"bad log format", nil, []string{"CALLOUT_LOG_FORMAT=logfmt"}, []string{`CALLOUT_LOG_FORMAT: "logfmt" is not one of`}},
		{"listen without port", nil, []string{"CALLOUT_LISTEN=localhost"}, []string{`CALLOUT_LISTEN: "localhost" is not host:port`}},
		{"listen bad port", []string{"--listen=localhost:http"}, nil, []string{`--listen: "localhost:http": port "http"`}},
		{"listen port too large", nil, []string{"CALLOUT_LISTEN=:65536"}, []string{`CALLOUT_LISTEN: ":65536": port "65536"`}},
		{"metrics listen without port", nil, []string{"CALLOUT_METRICS_LISTEN=localhost"}, []string{`CALLOUT_METRICS_LISTEN: "localhost" is not host:port (or empty`}},
		{"database of another scheme", nil, []string{"CALLOUT_DATABASE_URL=mysql://db/callout"}, []string{`CALLOUT_DATABASE_URL: scheme "mysql" is not supported`}},
		{"database without scheme", nil, []string{"CALLOUT_DATABASE_URL=db.internal/callout"}, []string{"CALLOUT_DATABASE_URL: want a postgres:// or postgresql:// URL"}},
		{"short JWT secret", nil, []string{"CALLOUT_JWT_SECRET=too-short"}, []string{"CALLOUT_JWT_SECRET: too short: 9 bytes, want at least 32"}},
		{"secret key not base64", nil, []string{"CALLOUT_SECRET_KEY=not base64!"}, []string{"CALLOUT_SECRET_KEY: secret key: not base64"}},
		{"secret key wrong length", nil, []string{"CALLOUT_SECRET_KEY=AAECAw=="}, []string{"CALLOUT_SECRET_KEY: secret key: got 4 bytes"}},
		{"empty data dir", []string{"--data-dir="}, nil, []string{"--data-dir: must not be empty"}},
		{"every problem at once", nil, []string{"CALLOUT_LISTEN=nowhere", "CALLOUT_DEV=maybe", "CALLOUT_LOG_FORMAT=xml", "CALLOUT_TYPO=1"},
			[]string{"CALLOUT_TYPO: unknown setting", `CALLOUT_DEV: "maybe"`, `CALLOUT_LISTEN: "nowhere"`, `CALLOUT_LOG_FORMAT: "xml"`}},
		{"yaml values", []string{"--config=testdata/bad.yaml"}, nil, []string{
			"CALLOUT_LISTEN: \"8080\" is a number, want a string (from key listen in testdata/bad.yaml)",
			"CALLOUT_JWT_SECRET: is a number, want a string (from key jwt_secret in testdata/bad.yaml)",
			`CALLOUT_MAX_PAYLOAD_BYTES: "-1" must not be negative`,
			`CALLOUT_DELIVERY_RETENTION: "30" is not a duration`,
			`CALLOUT_LOG_FORMAT: "xml" is not one of`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.args, tt.environ)
			assertLines(t, err, tt.want...)
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	for _, path := range []string{"testdata/missing.yaml", "testdata/malformed.yaml"} {
		t.Run(path, func(t *testing.T) {
			_, err := load(t, []string{"--config", path}, nil)
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("got %v, want an error naming %s", err, path)
			}
		})
	}
}

// TestLoadIgnoresOtherFlags checks that a subcommand may add its own flags to
// the set without Load mistaking them for settings.
func TestLoadIgnoresOtherFlags(t *testing.T) {
	fs := Flags("token")
	role := fs.String("role", "", "")
	if err := fs.Parse([]string{"--role=admin", "--dev"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(fs, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if *role != "admin" || !c.Dev {
		t.Errorf("role, Dev = %q, %v, want admin, true", *role, c.Dev)
	}
}

func TestFlagsUsage(t *testing.T) {
	fs := Flags("serve")
	var out bytes.Buffer
	fs.SetOutput(&out)
	if err := fs.Parse([]string{"--help"}); !errors.Is(err, pflag.ErrHelp) {
		t.Fatalf("Parse(--help) = %v, want pflag.ErrHelp", err)
	}
	for _, want := range []string{"callout serve", "--listen", "CALLOUT_LISTEN", "--config"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage does not mention %q:\n%s", want, out.String())
		}
	}
	if err := fs.Parse([]string{"--jwt-secret=x"}); err == nil {
		t.Error("Parse(--jwt-secret) succeeded, want an unknown flag error")
	}
}

// assertLines checks that err has exactly one line per wanted problem, each
// starting as wanted.
func assertLines(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %q", want)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), err)
	}
	for i, line := range lines {
		if !strings.HasPrefix(line, want[i]) {
			t.Errorf("line %d is %q, want it to start %q", i+1, line, want[i])
		}
	}
}
