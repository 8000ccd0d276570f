package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/callout/callout/internal/buffertest"
)

// The walk-through's fixed addresses, which the test replaces with those of
// the processes it starts, so that it runs beside anything on those ports.
const (
	readmeCallout      = "127.0.0.1:8080"
	readmeManufacturer = DefaultSampleManufacturer
)

// TestReadmeWalkThrough runs every sh block of the README's walk-through, in
// order, in one bash, against a Callout started as the walk-through starts it
// (serve --dev) and the sample manufacturer (demo --serve-manufacturer). Each
// curl command must be followed by a comment giving its answer's status and,
// optionally, a sample of its JSON: the status must be the one given, and
// each "member": value pair of the sample (a string, number, boolean or
// null) must be in the answer. It fails when the README drifts from what
// Callout does.
func TestReadmeWalkThrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed: .ci/run installs it", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	script, answers := walkThrough(t, string(readme))

	// The walk-through runs in a directory of its own, as the repository
	// root: ./callout is this command, ./data its data directory, and
	// testdata the repository's.
	dir := t.TempDir()
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(repo, "testdata"), filepath.Join(dir, "testdata")); err != nil {
		t.Fatal(err)
	}
	wrapper := fmt.Sprintf("#!/bin/sh\nexec env -u CALLOUT_DATABASE_URL %s=cli %q \"$@\"\n", childEnv, os.Args[0])
	if err := os.WriteFile(filepath.Join(dir, "callout"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, filepath.Join(dir, "data"), "CALLOUT_DEV=true", "CALLOUT_JWT_SECRET=", "CALLOUT_LOG_LEVEL=warn")
	erp, seen := startSampleManufacturer(t, dir)

	script = strings.NewReplacer(readmeCallout, strings.TrimPrefix(p.url, "http://"), readmeManufacturer, erp).Replace(script)
	// Each curl reports its status after its body, on a line of its own.
	prelude := "set -euo pipefail\ncurl() { command curl --write-out '\\n@@status %{http_code}\\n' \"$@\"; }\n"
	cmd := exec.Command("bash", "-c", prelude+script)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the walk-through failed: %v\n%s\nstdout:\n%s\nCallout's log:\n%s", err, stderr.String(), out, p.stderr)
	}

	// The submission went through the sample Auth0 tenant, signed. What
	// the manufacturer printed may reach us a moment after its answer.
	saw := func() bool {
		for _, want := range []string{"[auth0] POST /oauth/token", "POST /submit", ", signed"} {
			if !strings.Contains(seen.String(), want) {
				return false
			}
		}
		return true
	}
	if !eventually(saw) {
		t.Errorf("the sample manufacturer saw no signed submission with an Auth0 token:\n%s", seen)
	}

	got := regexp.MustCompile(`(?s)(.*?)\n@@status (\d+)\n`).FindAllStringSubmatch(string(out), -1)
	if len(got) != len(answers) {
		t.Fatalf("the walk-through made %d requests, and documents %d answers:\n%s", len(got), len(answers), out)
	}
	member := regexp.MustCompile(`"([a-z_]+)": ("[^"]*"|-?[0-9][0-9.]*|true|false|null)`)
	for i, a := range answers {
		body, status := got[i][1], got[i][2]
		if status != a.status {
			t.Errorf("%s\ngot status %s, want %s (the README says %q)\n%s", a.command, status, a.status, a.comment, body)
			continue
		}
		for _, m := range member.FindAllStringSubmatch(a.comment, -1) {
			want := strings.NewReplacer(readmeManufacturer, erp).Replace(`"` + m[1] + `":` + m[2])
			if !strings.Contains(body, want) {
				t.Errorf("%s\nthe answer lacks %s (the README says %q):\n%s", a.command, want, a.comment, body)
			}
		}
	}
}

// readmeAnswer is the answer the README gives under one of its commands.
type readmeAnswer struct {
	command, comment, status string
}

// walkThrough returns the sh blocks of the README's walk-through, joined,
// and the answer documented under each curl command.
func walkThrough(t *testing.T, readme string) (string, []readmeAnswer) {
	t.Helper()
	_, section, ok := strings.Cut(readme, "\n## A walk through the API\n")
	if !ok {
		t.Fatal("the README has no walk-through section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	blocks := regexp.MustCompile("(?s)\n```sh\n(.*?)```\n").FindAllStringSubmatch(section, -1)
	if len(blocks) < 4 {
		t.Fatalf("the walk-through has %d sh blocks, want its steps", len(blocks))
	}
	var (
		script  strings.Builder
		answers []readmeAnswer
		command string
	)
	status := regexp.MustCompile(`^# ([1-5][0-9][0-9])\b`)
	for _, b := range blocks {
		script.WriteString(b[1])
		lines := bufio.NewScanner(strings.NewReader(b[1]))
		for lines.Scan() {
			line := lines.Text()
			switch m := status.FindStringSubmatch(line); {
			case strings.HasPrefix(line, "curl "):
				if command != "" {
					t.Fatalf("the README gives no answer under %q", command)
				}
				command = line
			case m != nil:
				if command == "" {
					t.Fatalf("the README's answer %q follows no curl command", line)
				}
				answers = append(answers, readmeAnswer{command: command, comment: line, status: m[1]})
				command = ""
			}
		}
	}
	if command != "" {
		t.Fatalf("the README gives no answer under %q", command)
	}
	return script.String(), answers
}

// startSampleManufacturer runs `callout demo --serve-manufacturer` on a free
// port and returns its address and what it prints.
func startSampleManufacturer(t *testing.T, dir string) (string, *buffertest.Buffer) {
	t.Helper()
	cmd := exec.Command(filepath.Join(dir, "callout"), "demo", "--serve-manufacturer", "--listen", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &buffertest.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	seen := &buffertest.Buffer{}
	return listenAddress(t, "the sample manufacturer", out, "sample manufacturer listening on http://", seen, stderr), seen
}
