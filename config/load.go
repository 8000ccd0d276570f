package config

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	env "github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// envPrefix starts every environment variable Callout reads.
const envPrefix = "CALLOUT_"

// envConfig names the YAML file when --config is not given. It is not a
// setting itself, so it lives outside the table.
const envConfig = envPrefix + "CONFIG"

// envTestPrefix is reserved for the test suite (CALLOUT_TEST_DATABASE_URL),
// so a developer's shell that exports it can still run the server.
const envTestPrefix = envPrefix + "TEST_"

// setting describes one configuration key: its YAML key (dotted for nested
// keys), its flag if it has one, and how to store a value into a Config.
type setting struct {
	key  string
	flag string
	// sensitive values are never quoted in an error.
	sensitive bool
	set       func(c *Config, v any) error
}

// env is the setting's environment variable: CALLOUT_ and the key in upper
// snake case.
func (s setting) env() string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(s.key, ".", "_"))
}

// settings lists every key Callout understands, in the order they are
// documented.
var settings = []setting{
	{key: "listen", flag: "listen", set: setString(func(c *Config) *string { return &c.Listen })},
	{key: "data_dir", flag: "data-dir", set: setString(func(c *Config) *string { return &c.DataDir })},
	{key: "database_url", flag: "database-url", sensitive: true, set: setString(func(c *Config) *string { return &c.DatabaseURL })},
	{key: "jwt_secret", sensitive: true, set: setString(func(c *Config) *string { return &c.JWTSecret })},
	{key: "secret_key", sensitive: true, set: setString(func(c *Config) *string { return &c.SecretKey })},
	{key: "allow_private_networks", flag: "allow-private-networks", set: setBool(func(c *Config) *bool { return &c.AllowPrivateNetworks })},
	{key: "allow_insecure_http", flag: "allow-insecure-http", set: setBool(func(c *Config) *bool { return &c.AllowInsecureHTTP })},
	{key: "dev", flag: "dev", set: setBool(func(c *Config) *bool { return &c.Dev })},
	{key: "max_request_bytes", set: setSize(func(c *Config) *int64 { return &c.MaxRequestBytes })},
	{key: "max_payload_bytes", set: setSize(func(c *Config) *int64 { return &c.MaxPayloadBytes })},
	{key: "max_response_bytes", set: setSize(func(c *Config) *int64 { return &c.MaxResponseBytes })},
	{key: "max_concurrent_callouts", set: setInt(func(c *Config) *int { return &c.MaxConcurrentCallouts })},
	{key: "delivery_retention", set: setDuration(func(c *Config) *time.Duration { return &c.DeliveryRetention })},
	{key: "shutdown_timeout", set: setDuration(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	{key: "submission_lease", set: setDuration(func(c *Config) *time.Duration { return &c.SubmissionLease })},
	{key: "log_level", flag: "log-level", set: setString(func(c *Config) *string { return &c.LogLevel })},
	{key: "log_format", flag: "log-format", set: setString(func(c *Config) *string { return &c.LogFormat })},
	{key: "db.max_open_conns", set: setInt(func(c *Config) *int { return &c.DB.MaxOpenConns })},
	{key: "db.max_idle_conns", set: setInt(func(c *Config) *int { return &c.DB.MaxIdleConns })},
	{key: "db.conn_max_lifetime", set: setDuration(func(c *Config) *time.Duration { return &c.DB.ConnMaxLifetime })},
}

// groups are the YAML keys that only nest other keys.
var groups = []string{"db"}

// Flags returns a flag set named name (the subcommand) holding --config and
// the settings that may be given on the command line. Secrets have no flag:
// a command line is visible to every local user. Callers may add their own
// flags to the set; Load ignores them. Parse errors are returned
// (ContinueOnError) and usage goes to the set's output.
func Flags(name string) *pflag.FlagSet {
	d := Default()
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.String("config", "", "read settings from this YAML file (or set "+envConfig+")")
	fs.String("listen", d.Listen, "address to listen on, host:port (CALLOUT_LISTEN)")
	fs.String("data-dir", d.DataDir, "directory for the embedded database and generated keys (CALLOUT_DATA_DIR)")
	fs.String("database-url", d.DatabaseURL, "PostgreSQL URL; empty for the embedded SQLite database (CALLOUT_DATABASE_URL; prefer the variable when it holds a password)")
	fs.Bool("dev", d.Dev, "development mode: allow private networks and plain http, generate secrets in the data directory (CALLOUT_DEV)")
	fs.String("log-level", d.LogLevel, "debug, info, warn or error (CALLOUT_LOG_LEVEL)")
	fs.String("log-format", d.LogFormat, "json or text (CALLOUT_LOG_FORMAT)")
	fs.Bool("allow-private-networks", d.AllowPrivateNetworks, "let webhooks reach loopback and private addresses (CALLOUT_ALLOW_PRIVATE_NETWORKS)")
	fs.Bool("allow-insecure-http", d.AllowInsecureHTTP, "let webhook URLs use plain http (CALLOUT_ALLOW_INSECURE_HTTP)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: callout %s [flags]\n\nFlags:\n%s", name, fs.FlagUsages())
		fmt.Fprintf(fs.Output(), "\nEvery setting can also be given as a CALLOUT_* environment variable or in the YAML file;\nflags override variables, which override the file.\n")
	}
	return fs
}

// Load layers the configuration: Default, then the YAML file named by
// --config (or CALLOUT_CONFIG), then the CALLOUT_* variables in environ (in
// os.Environ form), then the flags of fs that were set on the command line.
// Call it after fs.Parse; fs may be nil. Development mode's implications are
// applied and the result is validated. The error lists every problem found,
// one per line, each naming its environment variable: unknown keys and
// variables are errors, so that a typo does not pass silently.
func Load(fs *pflag.FlagSet, environ []string) (*Config, error) {
	var (
		k      = koanf.New(".")
		source = map[string]string{} // key -> where its winning value came from
		errs   []error
	)
	merge := func(layer *koanf.Koanf, from func(key string) string) error {
		for _, key := range layer.Keys() {
			source[key] = from(key)
		}
		return k.Merge(layer)
	}

	path := lookupEnv(environ, envConfig)
	if fs != nil {
		if f := fs.Lookup("config"); f != nil && f.Changed {
			path = f.Value.String()
		}
	}
	if path != "" {
		layer, unknown, err := readConfigFile(path)
		if err != nil {
			return nil, err
		}
		errs = append(errs, unknown...)
		if err := merge(layer, func(key string) string { return fmt.Sprintf("key %s in %s", key, path) }); err != nil {
			return nil, fmt.Errorf("config file %s: %w", path, err)
		}
	}

	layer, unknown, err := readEnv(environ)
	if err != nil {
		return nil, err
	}
	errs = append(errs, unknown...)
	if err := merge(layer, func(string) string { return "the environment" }); err != nil {
		return nil, fmt.Errorf("environment: %w", err)
	}

	if fs != nil {
		layer, err := readFlags(fs)
		if err != nil {
			return nil, err
		}
		if err := merge(layer, func(key string) string { return "--" + strings.ReplaceAll(key, "_", "-") }); err != nil {
			return nil, fmt.Errorf("flags: %w", err)
		}
	}

	c := Default()
	for _, s := range settings {
		v := k.Get(s.key)
		if v == nil {
			continue // not set, or a YAML key left blank
		}
		if err := s.set(c, v); err != nil {
			if s.sensitive {
				errs = append(errs, fmt.Errorf("%s: %v (from %s)", s.env(), err, source[s.key]))
			} else {
				errs = append(errs, fmt.Errorf("%s: %q %v (from %s)", s.env(), fmt.Sprint(v), err, source[s.key]))
			}
		}
	}
	c.applyDev()
	// A value that could not be read left its default, which is valid, so
	// Validate adds only the other problems.
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// readConfigFile reads the YAML file at path, and reports its keys that match no
// setting.
func readConfigFile(path string) (*koanf.Koanf, []error, error) {
	layer := koanf.New(".")
	if err := layer.Load(file.Provider(path), yaml.Parser()); err != nil {
		return nil, nil, fmt.Errorf("reading config file %s: %w", path, err)
	}
	known := make(map[string]bool, len(settings))
	for _, s := range settings {
		known[s.key] = true
	}
	var unknown []error
	for _, key := range layer.Keys() {
		if known[key] {
			continue
		}
		// "db:" left empty is harmless.
		if slices.Contains(groups, key) {
			v := layer.Get(key)
			if m, ok := v.(map[string]any); v == nil || (ok && len(m) == 0) {
				continue
			}
		}
		unknown = append(unknown, fmt.Errorf("%s: unknown key %q", path, key))
	}
	return layer, unknown, nil
}

// readEnv reads the CALLOUT_* variables of environ, and reports those that
// match no setting.
func readEnv(environ []string) (*koanf.Koanf, []error, error) {
	byEnv := make(map[string]string, len(settings))
	for _, s := range settings {
		byEnv[s.env()] = s.key
	}
	var names []string
	layer := koanf.New(".")
	err := layer.Load(env.Provider(".", env.Opt{
		Prefix:      envPrefix,
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, value string) (string, any) {
			if key, ok := byEnv[name]; ok {
				return key, value
			}
			if name != envConfig && !strings.HasPrefix(name, envTestPrefix) {
				names = append(names, name)
			}
			return "", nil
		},
	}), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the environment: %w", err)
	}
	slices.Sort(names)
	var unknown []error
	for _, name := range slices.Compact(names) {
		unknown = append(unknown, fmt.Errorf("%s: unknown setting (in the environment)", name))
	}
	return layer, unknown, nil
}

// readFlags reads the flags of fs that are settings and were set on the
// command line. Other flags (--config, or a subcommand's own) are left out.
func readFlags(fs *pflag.FlagSet) (*koanf.Koanf, error) {
	byFlag := make(map[string]string, len(settings))
	for _, s := range settings {
		if s.flag != "" {
			byFlag[s.flag] = s.key
		}
	}
	layer := koanf.New(".")
	// A nil koanf makes posflag skip every flag left at its default.
	p := posflag.ProviderWithFlag(fs, ".", nil, func(f *pflag.Flag) (string, any) {
		key, ok := byFlag[f.Name]
		if !ok {
			return "", nil
		}
		return key, posflag.FlagVal(fs, f)
	})
	if err := layer.Load(p, nil); err != nil {
		return nil, fmt.Errorf("reading flags: %w", err)
	}
	return layer, nil
}

// lookupEnv returns the last value of name in environ, as os.Getenv would.
func lookupEnv(environ []string, name string) string {
	var v string
	for _, kv := range environ {
		if n, val, ok := strings.Cut(kv, "="); ok && n == name {
			v = val
		}
	}
	return v
}

// setString stores a string; YAML numbers and booleans are refused rather
// than converted, since they are most likely a misplaced line.
func setString(field func(*Config) *string) func(*Config, any) error {
	return func(c *Config, v any) error {
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("is %s, want a string", kind(v))
		}
		*field(c) = s
		return nil
	}
}

// setBool stores true or false, accepting the spellings strconv.ParseBool does.
func setBool(field func(*Config) *bool) func(*Config, any) error {
	return func(c *Config, v any) error {
		switch v := v.(type) {
		case bool:
			*field(c) = v
			return nil
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return errors.New("is not a boolean: want true or false")
			}
			*field(c) = b
			return nil
		}
		return errors.New("is not a boolean: want true or false")
	}
}

// setSize stores a non-negative byte count, given as a whole number with an
// optional KiB, MiB or GiB suffix.
func setSize(field func(*Config) *int64) func(*Config, any) error {
	return func(c *Config, v any) error {
		n, err := parseSize(v)
		if err != nil {
			return err
		}
		*field(c) = n
		return nil
	}
}

// setInt stores a non-negative whole number.
func setInt(field func(*Config) *int) func(*Config, any) error {
	return func(c *Config, v any) error {
		n, err := wholeNumber(v)
		if err != nil {
			return err
		}
		if n < 0 {
			return errors.New("must not be negative")
		}
		if n > math.MaxInt32 {
			return errors.New("is too large")
		}
		*field(c) = int(n)
		return nil
	}
}

// setDuration stores a non-negative Go duration such as "30s" or "720h". A
// bare YAML number is refused: its unit would be a guess.
func setDuration(field func(*Config) *time.Duration) func(*Config, any) error {
	return func(c *Config, v any) error {
		var d time.Duration
		switch v := v.(type) {
		case time.Duration:
			d = v
		case string:
			var err error
			if d, err = time.ParseDuration(strings.TrimSpace(v)); err != nil {
				return errors.New(`is not a duration: want a number with a unit, such as "30s", "2m" or "720h"`)
			}
		default:
			return errors.New(`is not a duration: want a number with a unit, such as "30s", "2m" or "720h"`)
		}
		if d < 0 {
			return errors.New("must not be negative")
		}
		*field(c) = d
		return nil
	}
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

// parseSize reads a byte count: a whole number, optionally followed by B,
// KiB, MiB or GiB ("16MiB", "1 KiB").
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
