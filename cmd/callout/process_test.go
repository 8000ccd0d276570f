package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/callout/callout/auth"
	"github.com/callout/callout/internal/buffertest"
	"github.com/callout/callout/internal/fakemanufacturer"
)

// The tests here run Callout as a real process: the test binary re-executes
// itself as `callout serve` when this variable is "serve", and as the
// callout command, its arguments those given, when it is "cli".
const childEnv = "CALLOUT_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "cli" {
		// The command line as main runs it: arguments, exit status.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
		stop()
		os.Exit(exitCode(err, os.Stderr))
	}
	if os.Getenv(childEnv) == "serve" {
		// As in main: SIGTERM shuts down gracefully.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		go func() {
			// The parent closing our stdin means it is gone: stop too.
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
		err := serve(ctx, nil, os.Environ(), os.Stderr, func(a net.Addr) {
			fmt.Printf("listening %s\n", a)
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "callout:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testJWTSecret signs the API tokens of the process tests.
const testJWTSecret = "process-test-jwt-secret-0123456789abcdef"

// process is a Callout process serving on a data directory.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	stderr *buffertest.Buffer
	stdin  io.WriteCloser
}

// startProcess starts `callout serve` on dataDir with the extra environment.
func startProcess(t *testing.T, dataDir string, env ...string) *process {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		childEnv+"=serve",
		"CALLOUT_LISTEN=127.0.0.1:0",
		"CALLOUT_METRICS_LISTEN=127.0.0.1:0",
		"CALLOUT_DATA_DIR="+dataDir,
		"CALLOUT_JWT_SECRET="+testJWTSecret,
		"CALLOUT_ALLOW_PRIVATE_NETWORKS=true",
		"CALLOUT_ALLOW_INSECURE_HTTP=true",
		"CALLOUT_LOG_LEVEL=debug",
	)
	cmd.Env = append(cmd.Env, env...)
	p := &process{t: t, cmd: cmd, stderr: &buffertest.Buffer{}}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	p.url = "http://" + listenAddress(t, "callout", stdout, "listening ", nil, p.stderr)
	return p
}

// listenAddress returns the address that follows prefix on the first line
// that the child process name prints on stdout starting with it, and copies
// every line to seen when seen is not nil. It fails the test, with the
// child's stderr, when the child exits before printing one or does not
// within 30 seconds.
func listenAddress(t *testing.T, name string, stdout io.Reader, prefix string, seen io.Writer, stderr *buffertest.Buffer) string {
	t.Helper()
	addr := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if seen != nil {
				fmt.Fprintln(seen, lines.Text())
			}
			if rest, ok := strings.CutPrefix(lines.Text(), prefix); ok {
				addr <- strings.Fields(rest)[0]
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("%s exited before listening:\n%s", name, stderr)
		}
		return a
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not start:\n%s", name, stderr)
	}
	return ""
}

// kill ends the process at once, as a crash or an OOM kill would.
func (p *process) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
	}
}

// call sends a request as role for manufacturer 103.
func (p *process) call(role auth.Role, method, path string, body string) (int, []byte) {
	p.t.Helper()
	status, data, err := p.send(role, method, path, body)
	if err != nil {
		p.t.Fatal(err)
	}
	return status, data
}

// send is call for a goroutine other than the test's: it returns its error.
func (p *process) send(role auth.Role, method, path string, body string) (int, []byte, error) {
	mfr := "103"
	if role == auth.RolePlatform {
		mfr = ""
	}
	tok, err := auth.Mint([]byte(testJWTSecret), role, mfr, time.Hour, time.Now())
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequest(method, p.url+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// must calls and fails the test unless the status is want.
func (p *process) must(want int, role auth.Role, method, path, body string) []byte {
	p.t.Helper()
	status, data := p.call(role, method, path, body)
	if status != want {
		p.t.Fatalf("%s %s: %d, want %d\n%s\nlogs:\n%s", method, path, status, want, data, p.stderr)
	}
	return data
}

// seedDocs returns seed 001's example documents.
func seedDocs(t *testing.T) (export, job, customer string) {
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "seed001", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(bytes.TrimSpace(data))
	}
	return read("export.json"), read("job.json"), read("customer.json")
}

// setUp configures manufacturer 103 with a submission webhook at url, and
// stores the seed's customer and job.
func setUp(p *process, url, webhookAuth string) {
	p.must(201, auth.RolePlatform, "PUT", "/v1/manufacturers/103", `{"name": "Example Cabinets"}`)
	p.must(200, auth.RoleAdmin, "PUT", "/v1/manufacturers/103/webhooks/submission",
		`{"url": "`+url+`", "auth": `+webhookAuth+`}`)
	export, job, customer := seedDocs(p.t)
	p.must(201, auth.RoleApp, "PUT", "/v1/manufacturers/103/customers/27465", customer)
	p.must(201, auth.RoleApp, "PUT", "/v1/manufacturers/103/jobs/338167", `{"job": `+job+`, "export": `+export+`}`)
}

// eventually reports whether cond holds within 10 seconds, looking every
// 10 ms: for what a child process prints, which reaches the test through a
// pipe a moment after the process acted on it.
func eventually(cond func() bool) bool {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(10 * time.Second); !cond(); <-tick.C {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// awaitHeld fails the test unless mfr comes to hold n requests at once
// within 20 seconds.
func awaitHeld(t *testing.T, mfr *fakemanufacturer.Server, n int) {
	t.Helper()
	select {
	case <-mfr.Held(n):
	case <-time.After(20 * time.Second):
		t.Fatalf("the manufacturer did not get %d requests at once within 20 s", n)
	}
}

// TestKilledAfterSubmit kills Callout right after it answered a submission
// 200, and finds the job submitted with its external id after a restart.
func TestKilledAfterSubmit(t *testing.T) {
	mfr := fakemanufacturer.New()
	defer mfr.Close()
	mfr.Answer(http.StatusOK, `{"success": true, "id": "JPS-990495", "message": "Order #123456"}`)
	dir := t.TempDir()
	p := startProcess(t, dir)
	setUp(p, mfr.URL, `{"type": "none"}`)
	p.must(200, auth.RoleApp, "POST", "/v1/manufacturers/103/jobs/338167/submit", "")
	p.kill()

	p = startProcess(t, dir)
	var job struct {
		Status     string `json:"status"`
		ExternalID string `json:"external_id"`
		Messages   []struct {
			Text string `json:"text"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(p.must(200, auth.RoleApp, "GET", "/v1/manufacturers/103/jobs/338167", ""), &job); err != nil {
		t.Fatal(err)
	}
	if job.Status != "submitted" || job.ExternalID != "JPS-990495" || len(job.Messages) != 1 || job.Messages[0].Text != "Order #123456" {
		t.Fatalf("after restart: %+v", job)
	}
}

// TestSecretsNeverInClear reads every byte Callout wrote (its responses, its
// logs, its data directory) and finds no webhook secret in clear, even when a
// manufacturer echoes the Authorization header back.
func TestSecretsNeverInClear(t *testing.T) {
	const bearer = "bearer-token-9f86d081884c7d65"
	const signing = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	echo := fakemanufacturer.New(fakemanufacturer.WithHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, `{"errors": ["you sent %s"]}`, r.Header.Get("Authorization"))
	})))
	defer echo.Close()
	dir := t.TempDir()
	p := startProcess(t, dir)
	var seen bytes.Buffer
	record := func(data []byte) { seen.Write(data); seen.WriteByte('\n') }

	setUp(p, echo.URL, `{"type": "bearer", "bearer_token": "`+bearer+`"}`)
	record(p.must(200, auth.RoleAdmin, "PATCH", "/v1/manufacturers/103/webhooks/submission", `{"signing_secret": "`+signing+`"}`))
	record(p.must(200, auth.RoleAdmin, "GET", "/v1/manufacturers/103/webhooks/submission", ""))
	_, data := p.call(auth.RoleApp, "POST", "/v1/manufacturers/103/jobs/338167/submit", "")
	record(data)
	record(p.must(200, auth.RoleAdmin, "POST", "/v1/manufacturers/103/webhooks/submission/test", ""))
	record(p.must(200, auth.RoleAdmin, "GET", "/v1/manufacturers/103/deliveries", ""))
	// An invalid config echoes nothing of what it was given either.
	_, data = p.call(auth.RoleAdmin, "PUT", "/v1/manufacturers/103/webhooks/pricing",
		`{"url": "ftp://x", "auth": {"type": "bearer", "bearer_token": "`+bearer+"\n"+`"}}`)
	record(data)
	p.kill()
	seen.WriteString(p.stderr.String())

	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		record(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(seen.String(), "you sent") {
		// The echo must have reached Callout, or the test proves nothing.
		t.Fatalf("the manufacturer's echo was not seen: %.2000s", seen.String())
	}
	for _, s := range []string{bearer, strings.TrimPrefix(signing, "whsec_")} {
		if i := strings.Index(seen.String(), s); i >= 0 {
			t.Errorf("secret %q in clear: …%s…", s[:8], seen.String()[max(0, i-200):i])
		}
	}
}

// TestGracefulShutdown sends SIGTERM while a submission callout is in flight:
// the callout finishes, its caller gets the answer, and the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	mfr := fakemanufacturer.New()
	defer mfr.Close()
	mfr.Answer(http.StatusOK, `{"id": "JPS-1"}`)
	release := mfr.Hold()
	p := startProcess(t, t.TempDir())
	setUp(p, mfr.URL, `{"type": "none"}`)
	type answer struct {
		status int
		body   []byte
		err    error
	}
	done := make(chan answer, 1)
	go func() {
		status, body, err := p.send(auth.RoleApp, "POST", "/v1/manufacturers/103/jobs/338167/submit", "")
		done <- answer{status, body, err}
	}()
	awaitHeld(t, mfr, 1)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The callout stays in flight while the process shuts down.
	time.AfterFunc(500*time.Millisecond, release)
	a := <-done
	if a.err != nil || a.status != 200 || !strings.Contains(string(a.body), `"external_id":"JPS-1"`) {
		t.Fatalf("the in-flight submit got %d %s %v", a.status, a.body, a.err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("callout exited with %v:\n%s", err, p.stderr)
	}
}

// TestOutboundKeyPerInstallation submits job 338167, revision 1, of
// manufacturer 103 from two installations (two data directories) to one
// ERP: each sends its own Idempotency-Key, and one restarted on its data
// sends its own again.
func TestOutboundKeyPerInstallation(t *testing.T) {
	mfr := fakemanufacturer.New()
	defer mfr.Close()
	// Declined, so that the job stays submittable after a restart.
	mfr.Answer(http.StatusOK, `{"success": false, "errors": ["Try again"]}`)
	submit := func(p *process) string {
		p.must(422, auth.RoleApp, "POST", "/v1/manufacturers/103/jobs/338167/submit", "")
		got := mfr.Received()
		return got[len(got)-1].Header.Get("Idempotency-Key")
	}
	here, there := t.TempDir(), t.TempDir()
	p := startProcess(t, here)
	setUp(p, mfr.URL, `{"type": "none"}`)
	first := submit(p)
	p.kill()
	p = startProcess(t, here)
	if again := submit(p); again != first {
		t.Errorf("after a restart on the same data: key %q, want %q as before", again, first)
	}
	p.kill()
	p = startProcess(t, there)
	setUp(p, mfr.URL, `{"type": "none"}`)
	if other := submit(p); first == "" || other == first {
		t.Errorf("two installations sent keys %q and %q for the same job and revision, want two different keys", first, other)
	}
}

// TestMetricsAddress finds /metrics on the metrics address only, by default,
// and on the API's address when the metrics address is empty.
func TestMetricsAddress(t *testing.T) {
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	p := startProcess(t, t.TempDir())
	// The address is logged before the process reports it listens; the
	// log may reach us a moment later.
	var addr string
	eventually(func() bool {
		for line := range strings.SplitSeq(p.stderr.String(), "\n") {
			var entry struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "metrics serving" {
				addr = entry.Addr
			}
		}
		return addr != ""
	})
	if addr == "" {
		t.Fatalf("no metrics address logged:\n%s", p.stderr)
	}
	if status, body := get("http://" + addr + "/metrics"); status != 200 || !strings.Contains(body, "callout_requests_waiting_for_slot") {
		t.Errorf("GET /metrics on the metrics address: %d %.300s", status, body)
	}
	if status, _ := get(p.url + "/metrics"); status != http.StatusNotFound {
		t.Errorf("GET /metrics on the API's address: %d, want 404", status)
	}

	p = startProcess(t, t.TempDir(), "CALLOUT_METRICS_LISTEN=")
	if status, body := get(p.url + "/metrics"); status != 200 || !strings.Contains(body, "callout_requests_waiting_for_slot") {
		t.Errorf("GET /metrics on the API's address with CALLOUT_METRICS_LISTEN empty: %d %.300s", status, body)
	}
}
