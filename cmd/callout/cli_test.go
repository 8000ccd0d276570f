package main

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/callout/callout/internal/storetest"
)

// runCLI runs the callout command as a process with args and the extra
// environment (and no other CALLOUT_ variable), and returns its exit status
// and its stdout and stderr together.
func runCLI(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CALLOUT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, childEnv+"=cli")
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("callout %q: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

func TestHelpExitsZero(t *testing.T) {
	tests := []struct {
		args      []string
		want      []string
		wantNot   []string
		wantUsage string
	}{
		{[]string{"--help"}, []string{"serve", "migrate", "token", "demo", "version"}, nil, "Usage: callout <command>"},
		{[]string{"help"}, []string{"serve"}, nil, "Usage: callout <command>"},
		{[]string{"serve", "--help"}, []string{"--listen", "--data-dir", "--dev", "--allow-private-networks"}, nil, "Usage: callout serve"},
		{[]string{"migrate", "--help"}, []string{"--data-dir", "--database-url"}, []string{"--listen", "--allow-", "--dev"}, "Usage: callout migrate"},
		{[]string{"token", "-h"}, []string{"--role", "--manufacturer", "--ttl", "--data-dir", "--dev"}, []string{"--listen", "--allow-", "--database-url"}, "Usage: callout token"},
		{[]string{"demo", "--help"}, []string{"--serve-manufacturer", "sample manufacturer", "POST /pricing"}, nil, "Usage: callout demo"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out := runCLI(t, nil, tt.args...)
			if code != 0 {
				t.Errorf("exit status %d, want 0:\n%s", code, out)
			}
			for _, want := range append([]string{tt.wantUsage}, tt.want...) {
				if !strings.Contains(out, want) {
					t.Errorf("help does not mention %q:\n%s", want, out)
				}
			}
			for _, not := range append([]string{"pflag:"}, tt.wantNot...) {
				if strings.Contains(out, not) {
					t.Errorf("help mentions %q:\n%s", not, out)
				}
			}
		})
	}
	if code, _ := runCLI(t, nil, "serve", "--no-such-flag"); code != 1 {
		t.Errorf("serve --no-such-flag: exit status %d, want 1", code)
	}
}

// TestMigrateNeedsNoSecrets migrates a new SQLite database, and a new
// PostgreSQL schema, with no secret set: migrating seals nothing.
func TestMigrateNeedsNoSecrets(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		code, out := runCLI(t, nil, "migrate", "--data-dir", dir)
		if code != 0 || !strings.Contains(out, "callout: sqlite schema migrated: applied 00001_init.sql, ") {
			t.Fatalf("first migrate: exit %d, %q; want 0 and the migrations applied", code, out)
		}
		for _, name := range []string{"secret.key", "jwt_secret"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				t.Errorf("migrate wrote %s; it needs no secret", name)
			}
		}
		code, out = runCLI(t, []string{"CALLOUT_DATA_DIR=" + dir}, "migrate")
		if code != 0 || out != "callout: sqlite schema is up to date: nothing to apply\n" {
			t.Errorf("second migrate: exit %d, %q; want 0 and up to date", code, out)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		code, out := runCLI(t, []string{"CALLOUT_DATABASE_URL=" + storetest.Schema(t)}, "migrate")
		if code != 0 || !strings.Contains(out, "callout: postgres schema migrated: applied 00001_init.sql, ") {
			t.Errorf("migrate: exit %d, %q; want 0 and the migrations applied", code, out)
		}
	})
}

// TestCLIWording checks that the command line answers in its own words:
// flags by their names, never the API's error codes.
func TestCLIWording(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"bad --listen", nil, []string{"serve", "--listen", "8080"}, `callout: --listen: "8080" is not host:port`},
		{"bad listen variable", []string{"CALLOUT_LISTEN=8080"}, []string{"serve"}, `callout: CALLOUT_LISTEN: "8080" is not host:port`},
		{"token without --manufacturer", nil, []string{"token", "--dev", "--data-dir", dir, "--role", "admin"},
			"callout: --manufacturer is required for an admin token"},
		{"token with a bad --manufacturer", []string{"CALLOUT_JWT_SECRET=cli-test-jwt-secret-0123456789abcdef"}, []string{"token", "--role", "app", "--manufacturer", "a b"},
			"callout: --manufacturer: "},
		{"token of an unused data directory", nil, []string{"token", "--dev", "--data-dir", dir, "--role", "platform"},
			"callout: no JWT secret in " + filepath.Join(dir, "jwt_secret") + ": start `callout serve --dev --data-dir " + dir + "` first"},
		{"misspelt variable", []string{"CALLOUT_LISTN=:80"}, []string{"serve"}, `CALLOUT_LISTN: unknown setting (in the environment) (did you mean "CALLOUT_LISTEN"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := runCLI(t, tt.env, tt.args...)
			if code != 1 || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d, %q; want 1 and %q", code, out, tt.want)
			}
			if strings.Contains(out, "validation_failed") {
				t.Errorf("%q speaks the API's words", out)
			}
		})
	}
}

func TestVersionFromBuildInfo(t *testing.T) {
	vcs := func(rev, modified string) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified},
		}}
	}
	tests := []struct {
		name    string
		stamped string
		bi      *debug.BuildInfo
		want    string
	}{
		{"stamped", "1.4.0", vcs("0123456789abcdef0123", "false"), "1.4.0"},
		{"module version", "dev", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{"empty stamp", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{"git checkout", "dev", vcs("0123456789abcdef0123", "false"), "dev-0123456789ab"},
		{"uncommitted changes", "dev", vcs("0123456789abcdef0123", "true"), "dev-0123456789ab-dirty"},
		{"nothing known", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
		{"no build information", "dev", nil, "dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionOf(tt.stamped, tt.bi); got != tt.want {
				t.Errorf("versionOf(%q) = %q, want %q", tt.stamped, got, tt.want)
			}
		})
	}
	if code, out := runCLI(t, nil, "version"); code != 0 || !strings.HasPrefix(out, "callout ") {
		t.Errorf("callout version: exit %d, %q", code, out)
	}
}

// TestStartupLogNamesDataDir checks that `serve --dev` says where its data
// and generated secrets are, and how to mint a token for it.
func TestStartupLogNamesDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "elsewhere")
	p := startProcess(t, dir, "CALLOUT_DEV=true", "CALLOUT_JWT_SECRET=", "CALLOUT_LOG_LEVEL=info")
	wants := []string{
		`"data_dir":"` + dir + `"`,
		"callout token --dev --data-dir " + dir + " --role platform",
		`"jwt_secret_file":"` + filepath.Join(dir, "jwt_secret") + `"`,
		`"secret_key_file":"` + filepath.Join(dir, "secret.key") + `"`,
	}
	logged := func() bool {
		for _, want := range wants {
			if !strings.Contains(p.stderr.String(), want) {
				return false
			}
		}
		return true
	}
	eventually(logged)
	for _, want := range wants {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("the start-up log lacks %s:\n%s", want, p.stderr)
		}
	}
}

// TestSampleManufacturerPrintsOnlyKeysSent checks that the demo's
// manufacturer shows an Idempotency-Key only when one was sent: a price
// carries none.
func TestSampleManufacturerPrintsOnlyKeysSent(t *testing.T) {
	var out bytes.Buffer
	h := sampleManufacturer(&out)
	for _, r := range []struct{ path, key string }{{"/pricing", ""}, {"/submit", "callout-0123"}} {
		req := httptest.NewRequest("POST", r.path, strings.NewReader(`{}`))
		if r.key != "" {
			req.Header.Set("Idempotency-Key", r.key)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || strings.Contains(lines[0], "Idempotency-Key") || !strings.Contains(lines[1], `Idempotency-Key "callout-0123"`) {
		t.Errorf("the sample manufacturer printed:\n%s\nwant no key for the price, the key for the submission", out.String())
	}
}
