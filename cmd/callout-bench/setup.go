package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/callout/callout/auth"
	"github.com/callout/callout/config"
	"github.com/callout/callout/internal/fakeauth0"
	"github.com/callout/callout/internal/fakemanufacturer"
	"github.com/callout/callout/payload"
	"github.com/callout/callout/secret"
	"github.com/callout/callout/server"
)

// The manufacturers of the benchmark, one per measurement that needs its own
// webhook.
const (
	// mfrPricing prices through a bearer webhook on the fake webhook.
	mfrPricing = "103"
	// mfrBroken prices through a webhook whose port refuses connections,
	// to trip its breaker.
	mfrBroken = "104"
	// mfrAuth0 prices through an auth0 webhook, for the token burst.
	mfrAuth0 = "105"

	// seedJob is the job of seed 001; its copies take the ids that follow.
	seedJob    = 338167
	seedJobID  = `"id": 338167`
	customerID = "27465"

	// benchBearer is the pricing webhook's bearer token: a fixed fake
	// credential, checked by the fake webhook.
	benchBearer = "bench-bearer-token-not-a-secret"
	// benchAccessToken is what the fake Auth0 hands out.
	benchAccessToken = "bench-access-token-not-a-secret"

	// breakerFailures is the broken webhook's consecutive_failures.
	breakerFailures = 5
	// tokenDelay is how long the fake Auth0 takes to answer: long enough
	// that a whole burst arrives while the first token is being fetched,
	// which is what a shared cache must withstand.
	tokenDelay = 20 * time.Millisecond
)

// webhookAnswer is the fake webhooks' answer to every price.
var webhookAnswer = []byte(`{"cost": 1234.56}`)

// serve answers on a new loopback listener with h, and returns the server
// and its base URL.
func serve(side string, h http.Handler) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("listening for the %s: %w", side, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
	}
	go func() { _ = srv.Serve(ln) }()
	return srv, "http://" + ln.Addr().String(), nil
}

// fakeWebhooks are the manufacturers' webhooks, each answering every price
// at once and counting its calls. The first request on bearer is kept, for
// the proxy to be given its bytes.
type fakeWebhooks struct {
	bearer *fakemanufacturer.Server // Callout's bearer webhook
	auth0  *fakemanufacturer.Server // Callout's auth0 webhook
	proxy  *fakemanufacturer.Server // the proxy's target
	bad    atomic.Int64             // requests refused for a wrong credential
}

func startWebhooks() *fakeWebhooks {
	f := &fakeWebhooks{}
	start := func(token string, record int) *fakemanufacturer.Server {
		return fakemanufacturer.New(fakemanufacturer.WithHandler(f.accepting(token)), fakemanufacturer.WithRecordLimit(record))
	}
	f.bearer, f.auth0, f.proxy = start(benchBearer, 1), start(benchAccessToken, 0), start(benchBearer, 0)
	return f
}

// accepting answers like a pricing webhook that accepts every job, to
// requests that carry token.
func (f *fakeWebhooks) accepting(token string) http.HandlerFunc {
	want := "Bearer " + token
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Header.Get("Authorization") != want {
			f.bad.Add(1)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(webhookAnswer)
	}
}

// captured returns the body and headers of the first request Callout sent
// to the bearer webhook, or an error when none came yet.
func (f *fakeWebhooks) captured() ([]byte, http.Header, error) {
	reqs := f.bearer.Received()
	if len(reqs) == 0 {
		return nil, nil, errors.New("the fake webhook has not been called by Callout")
	}
	return reqs[0].Body, reqs[0].Header.Clone(), nil
}

// Close stops the webhooks.
func (f *fakeWebhooks) Close() {
	f.bearer.Close()
	f.auth0.Close()
	f.proxy.Close()
}

// startAuth0 starts the Auth0 tenant, which counts its token requests. Every
// token it hands out is benchAccessToken, which the fake webhook checks.
func startAuth0() *fakeauth0.Server {
	a := fakeauth0.New("bench")
	a.Respond(func(w http.ResponseWriter, _ fakeauth0.Request) {
		time.Sleep(tokenDelay)
		fakeauth0.WriteToken(w, benchAccessToken, 3600)
	})
	return a
}

// startProxy starts the baseline: a plain reverse proxy to target, with the
// same connection pool sizes as Callout's outbound client, so that the
// comparison is of the work done and not of pool settings.
func startProxy(target string) (*http.Server, string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, "", fmt.Errorf("proxy target: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1024, 64
	rp := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(u) },
		Transport: tr,
		ErrorLog:  slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
	}
	return serve("proxy", rp)
}

// refusedURL returns a loopback URL on a port nothing listens on: the port
// of a listener just closed.
func refusedURL() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a closed port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", err
	}
	return "http://" + addr + "/price", nil
}

// child is a process of this program serving one side of the comparison on
// loopback: Callout, or the plain reverse proxy it is compared with. Each
// side has a process of its own, so that both pay the same cost to be
// reached and each one's memory is measured apart from the other's and from
// the load generator's.
type child struct {
	cmd *exec.Cmd
	url string
}

// Environment variables that make this program serve one side (see serve).
const (
	calloutDirEnv      = "CALLOUT_BENCH_CALLOUT_DIR"
	calloutProfileEnv  = "CALLOUT_BENCH_CPUPROFILE"
	calloutDatabaseEnv = "CALLOUT_BENCH_DATABASE_URL"
	proxyTargetEnv     = "CALLOUT_BENCH_PROXY_TARGET"
)

// startChild runs this program again with env added, its standard error going
// to stderr, and returns once the child has printed the URL it serves.
func startChild(side string, env []string, stderr io.Writer) (*child, error) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the %s: %w", side, err)
	}
	c := &child{cmd: cmd}
	line, err := bufio.NewReader(out).ReadString('\n')
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		c.Close()
		return nil, fmt.Errorf("the %s did not start (%q): %v", side, line, err)
	}
	c.url = url
	return c, nil
}

// Close stops the child (SIGTERM: Callout finishes its CPU profile) and
// waits for it.
func (c *child) Close() error {
	err := c.cmd.Process.Signal(syscall.SIGTERM)
	if werr := c.cmd.Wait(); werr != nil && err == nil {
		err = fmt.Errorf("the benchmark's child process exited: %w", werr)
	}
	return err
}

// serveChild serves the side that the environment names, until SIGTERM;
// ok is false when it names none.
func serveChild(ctx context.Context) (ok bool, err error) {
	if target := os.Getenv(proxyTargetEnv); target != "" {
		return true, serveProxy(ctx, target)
	}
	if dir := os.Getenv(calloutDirEnv); dir != "" {
		return true, serveCallout(ctx, dir, os.Getenv(calloutDatabaseEnv), os.Getenv(calloutProfileEnv))
	}
	return false, nil
}

// serveProxy is the proxy's process.
func serveProxy(ctx context.Context, target string) error {
	proxy, url, err := startProxy(target)
	if err != nil {
		return err
	}
	defer proxy.Close()
	fmt.Printf("listening %s\n", url)
	<-ctx.Done()
	return nil
}

// calloutServer is the system under test: Callout on a temporary SQLite
// store, or on a PostgreSQL schema of its own, in a process of its own.
type calloutServer struct {
	*child
	secret []byte
	dir    string
	// schema is the PostgreSQL schema, also the application_name of
	// Callout's connections, and dropSchema removes it; both unset on SQLite.
	schema     string
	dropSchema func() error
}

// calloutConfig is the configuration of the benchmarked Callout: development
// mode (private networks and plain http allowed), logging warnings and errors,
// on PostgreSQL when databaseURL is not empty.
func calloutConfig(dir, databaseURL string) (*config.Config, *config.Secrets, error) {
	cfg := config.Default()
	cfg.Dev, cfg.DataDir, cfg.LogLevel = true, dir, "warn"
	if databaseURL != "" {
		// PostgreSQL needs a sealing key, which every process sharing the
		// database is given; the one in the data directory serves the
		// benchmark's two processes alike.
		key, err := secret.LoadOrCreateKeyFile(filepath.Join(dir, config.SecretKeyFile))
		if err != nil {
			return nil, nil, err
		}
		cfg.DatabaseURL, cfg.SecretKey = databaseURL, base64.StdEncoding.EncodeToString(key)
	}
	cfg.ShutdownTimeout = 5 * time.Second
	secrets, err := cfg.Prepare()
	if err != nil {
		return nil, nil, fmt.Errorf("preparing the configuration: %w", err)
	}
	return cfg, secrets, nil
}

// startCallout starts Callout, its logs going to logs, and a CPU profile of
// its whole run written to cpuprofile unless that is empty. With a
// databaseURL it runs on a new schema of that PostgreSQL database, which
// Close drops; otherwise on SQLite.
func startCallout(ctx context.Context, logs io.Writer, databaseURL, cpuprofile string) (_ *calloutServer, err error) {
	dir, err := os.MkdirTemp("", "callout-bench-")
	if err != nil {
		return nil, err
	}
	c := &calloutServer{dir: dir}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if databaseURL != "" {
		if databaseURL, c.schema, c.dropSchema, err = newSchema(ctx, databaseURL); err != nil {
			return nil, err
		}
	}
	// Prepared here first, so that both processes share the generated secrets.
	_, secrets, err := calloutConfig(dir, databaseURL)
	if err != nil {
		return nil, err
	}
	c.secret = secrets.JWTSecret
	c.child, err = startChild("Callout", []string{calloutDirEnv + "=" + dir, calloutDatabaseEnv + "=" + databaseURL,
		calloutProfileEnv + "=" + cpuprofile}, logs)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// newSchema creates a schema of its own for one run in the database at base,
// and returns the URL that selects it, its name and the function that drops
// it. The URL names the connections after the schema too, so that
// pg_stat_activity tells which backends serve this run.
func newSchema(ctx context.Context, base string) (url, schema string, drop func() error, err error) {
	db, err := sql.Open("pgx", base)
	if err != nil {
		return "", "", nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	schema = "callout_bench_" + strings.ToLower(rand.Text()[:12])
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		return "", "", nil, fmt.Errorf("PostgreSQL: creating schema %s: %w", schema, err)
	}
	drop = func() error {
		defer db.Close()
		if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			return fmt.Errorf("PostgreSQL: dropping schema %s: %w", schema, err)
		}
		return nil
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema + "&application_name=" + schema, schema, drop, nil
}

// serveCallout is Callout's process.
func serveCallout(ctx context.Context, dir, databaseURL, cpuprofile string) error {
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	cfg, secrets, err := calloutConfig(dir, databaseURL)
	if err != nil {
		return err
	}
	srv, err := server.New(ctx, cfg, secrets, server.NewLogger(cfg, os.Stderr), "bench")
	if err != nil {
		return fmt.Errorf("starting Callout: %w", err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening for Callout: %w", err)
	}
	fmt.Printf("listening http://%s\n", ln.Addr())
	return srv.Serve(ctx, ln)
}

// Close stops Callout and removes its data directory and schema.
func (c *calloutServer) Close() error {
	var errs []error
	if c.child != nil {
		errs = append(errs, c.child.Close())
	}
	if c.dropSchema != nil {
		errs = append(errs, c.dropSchema())
	}
	return errors.Join(append(errs, os.RemoveAll(c.dir))...)
}

// priceURL is the price route of a job.
func (c *calloutServer) priceURL(m string, job int) string {
	return c.url + "/v1/manufacturers/" + m + "/jobs/" + strconv.Itoa(job) + "/price"
}

// token mints an API token of role for manufacturer m ("" for the platform).
func (c *calloutServer) token(role auth.Role, m string) (string, error) {
	return auth.Mint(c.secret, role, m, 24*time.Hour, time.Now())
}

// admin sends one configuration request to Callout as role and fails unless
// it is answered with a 2xx status.
func (c *calloutServer) admin(ctx context.Context, hc *http.Client, role auth.Role, m, method, path string, body any) error {
	tok, err := c.token(role, m)
	if err != nil {
		return err
	}
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, answer)
	}
	return nil
}

// manufacturerSetup is one manufacturer to create: its pricing webhook and
// how many copies of the seed job it gets.
type manufacturerSetup struct {
	id      string
	webhook map[string]any
	jobs    []int // job ids
}

// setUp creates the manufacturer, its pricing webhook, the seed customer
// and its jobs, storing the jobs with a few requests in parallel.
func (c *calloutServer) setUp(ctx context.Context, hc *http.Client, m manufacturerSetup) error {
	base := "/v1/manufacturers/" + m.id
	if err := c.admin(ctx, hc, auth.RolePlatform, "", "PUT", base, map[string]string{"name": "Bench " + m.id}); err != nil {
		return err
	}
	if err := c.admin(ctx, hc, auth.RoleAdmin, m.id, "PUT", base+"/webhooks/pricing", m.webhook); err != nil {
		return err
	}
	export, job, customer := payload.Sample()
	if err := c.admin(ctx, hc, auth.RoleApp, m.id, "PUT", base+"/customers/"+customerID, customer); err != nil {
		return err
	}
	const parallel = 8
	errs := make(chan error, len(m.jobs))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, id := range m.jobs {
		doc, err := jobCopy(job, id)
		if err != nil {
			return err
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			body := map[string]json.RawMessage{"job": doc, "export": export}
			errs <- c.admin(ctx, hc, auth.RoleApp, m.id, "PUT", base+"/jobs/"+strconv.Itoa(id), body)
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// jobCopy is the seed job document with its id replaced by id. Ids of as many
// digits as the seed's keep the payload's size.
func jobCopy(job json.RawMessage, id int) (json.RawMessage, error) {
	if !bytes.Contains(job, []byte(seedJobID)) {
		return nil, fmt.Errorf("the seed job document has no %s member", seedJobID)
	}
	return bytes.Replace(job, []byte(seedJobID), []byte(`"id": `+strconv.Itoa(id)), 1), nil
}

// jobIDs returns n consecutive job ids from first.
func jobIDs(first, n int) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = first + i
	}
	return ids
}

// loadClient is the load generator's HTTP client, shared by every request
// of every phase, with room for a whole burst of idle connections.
func loadClient(burst int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 2 * burst
	tr.MaxIdleConnsPerHost = burst
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}
