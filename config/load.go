package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"

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

// Flags returns a flag set named name (the subcommand) holding --config and
// the settings that may be given on the command line; with keys, only the
// settings of those keys, so that a command lists only the flags it uses.
// Secrets have no flag: a command line is visible to every local user.
// Callers may add their own flags to the set; Load ignores them. Parse errors
// are returned (ContinueOnError) and usage goes to the set's output.
func Flags(name string, keys ...string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.String("config", "", "read settings from this YAML file (or set "+envConfig+")")
	for _, s := range settings {
		if !s.flag || len(keys) > 0 && !slices.Contains(keys, s.key) {
			continue
		}
		usage := s.usage + " (" + s.env() + ")"
		// A boolean flag may be given bare (--dev); any other value is
		// read from its text, as a variable's is.
		if def, ok := s.def.(bool); ok {
			fs.Bool(flagName(s.key), def, usage)
		} else {
			fs.String(flagName(s.key), fmt.Sprint(s.def), usage)
		}
	}
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
		if err := merge(layer, func(key string) string { return "--" + flagName(key) }); err != nil {
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
			if s.redact != nil {
				errs = append(errs, fmt.Errorf("%s: %v (from %s)", s.env(), err, source[s.key]))
			} else {
				errs = append(errs, fmt.Errorf("%s: %q %v (from %s)", s.env(), fmt.Sprint(v), err, source[s.key]))
			}
		}
	}
	c.applyDev()
	// A value that could not be read left its default, which is valid, so
	// Validate adds only the other problems. A value given as a flag is
	// reported as that flag: the user never typed the variable's name.
	if joined, ok := c.Validate().(interface{ Unwrap() []error }); ok {
		for _, err := range joined.Unwrap() {
			if p, ok := err.(*problem); ok {
				for _, s := range settings {
					if s.env() == p.env {
						if from := source[s.key]; strings.HasPrefix(from, "--") {
							err = fmt.Errorf("%s: %s", from, p.msg)
						}
						break
					}
				}
			}
			errs = append(errs, err)
		}
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
	keys := make([]string, 0, len(settings))
	for _, s := range settings {
		known[s.key] = true
		keys = append(keys, s.key)
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
		unknown = append(unknown, fmt.Errorf("%s: unknown key %q%s", path, key, didYouMean(key, keys)))
	}
	return layer, unknown, nil
}

// readEnv reads the CALLOUT_* variables of environ, and reports those that
// match no setting.
func readEnv(environ []string) (*koanf.Koanf, []error, error) {
	byEnv := make(map[string]string, len(settings))
	envs := make([]string, 0, len(settings))
	for _, s := range settings {
		byEnv[s.env()] = s.key
		envs = append(envs, s.env())
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
		unknown = append(unknown, fmt.Errorf("%s: unknown setting (in the environment)%s", name, didYouMean(name, envs)))
	}
	return layer, unknown, nil
}

// readFlags reads the flags of fs that are settings and were set on the
// command line. Other flags (--config, or a subcommand's own) are left out.
func readFlags(fs *pflag.FlagSet) (*koanf.Koanf, error) {
	byFlag := make(map[string]string, len(settings))
	for _, s := range settings {
		if s.flag {
			byFlag[flagName(s.key)] = s.key
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
