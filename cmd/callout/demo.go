package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/callout/callout/auth"
	"github.com/callout/callout/config"
	"github.com/callout/callout/internal/fakemanufacturer"
	"github.com/callout/callout/payload"
	"github.com/callout/callout/server"
)

// DefaultSampleManufacturer is where `callout demo --serve-manufacturer`
// listens unless told otherwise; the README's walk-through points its
// webhooks there.
const DefaultSampleManufacturer = "127.0.0.1:9090"

const demoUsage = `Usage: callout demo [flags]

Without flags: starts Callout (development mode, a temporary SQLite database
that is removed afterwards) next to a sample manufacturer, and walks one
pricing and one submission through it, printing every request Callout
receives, every callout the manufacturer receives, and every answer.

With --serve-manufacturer: serves only the sample manufacturer on --listen,
until interrupted, printing what it receives. The README's walk-through
points its webhooks at it:
  POST /pricing        answers a price: {"success": true, "cost": 1234.56, ...}
  POST /submit         accepts the submission: {"success": true, "id": "JPS-990495", ...}
  POST /oauth/token    a sample Auth0 token endpoint (client credentials)

Flags:
`

// demo starts Callout on a temporary SQLite store next to a sample
// manufacturer webhook, and walks one pricing and one submission through it,
// printing every request and answer.
func demo(ctx context.Context, args []string, stdout io.Writer) error {
	fs := pflag.NewFlagSet("demo", pflag.ContinueOnError)
	serveMfr := fs.Bool("serve-manufacturer", false, "only serve the sample manufacturer, until interrupted, for the README's walk-through")
	listen := fs.String("listen", DefaultSampleManufacturer, "with --serve-manufacturer: the sample manufacturer's address")
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), demoUsage, fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if *serveMfr {
		return serveSampleManufacturer(ctx, *listen, stdout)
	}
	dir, err := os.MkdirTemp("", "callout-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	cfg := config.Default()
	cfg.Dev, cfg.DataDir, cfg.LogLevel = true, dir, "error"
	secrets, err := cfg.Prepare()
	if err != nil {
		return err
	}
	a, err := server.New(ctx, cfg, secrets, server.NewLogger(cfg, io.Discard), buildVersion())
	if err != nil {
		return err
	}
	defer a.Close()

	mfr := fakemanufacturer.New(fakemanufacturer.WithHandler(sampleManufacturer(stdout)), fakemanufacturer.WithRecordLimit(0))
	defer mfr.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = a.Serve(sctx, ln) }()

	w := &walk{out: stdout, base: "http://" + ln.Addr().String(), secret: secrets.JWTSecret}
	hook := mfr.URL
	export, job, customer := payload.Sample()
	steps := []struct {
		note, method, path string
		role               auth.Role
		body               any
	}{
		{"The platform creates manufacturer 103.", "PUT", "/v1/manufacturers/103", auth.RolePlatform, map[string]string{"name": "Example Cabinets"}},
		{"Its administrator points the pricing webhook at the manufacturer's ERP, with a bearer token.", "PUT", "/v1/manufacturers/103/webhooks/pricing", auth.RoleAdmin,
			map[string]any{"url": hook + "/pricing", "auth": map[string]any{"type": "bearer", "bearer_token": "demo-token-not-shown"}}},
		{"And the submission webhook.", "PUT", "/v1/manufacturers/103/webhooks/submission", auth.RoleAdmin,
			map[string]any{"url": hook + "/submit", "auth": map[string]any{"type": "bearer", "bearer_token": "demo-token-not-shown"}}},
		{"The order-entry app stores the customer…", "PUT", "/v1/manufacturers/103/customers/27465", auth.RoleApp, json.RawMessage(customer)},
		{"…and the job with its export.", "PUT", "/v1/manufacturers/103/jobs/338167", auth.RoleApp,
			map[string]json.RawMessage{"job": job, "export": export}},
		{"The cart asks for a live price: Callout calls the pricing webhook.", "POST", "/v1/manufacturers/103/jobs/338167/price", auth.RoleApp, nil},
		{"The customer submits the job: Callout calls the submission webhook.", "POST", "/v1/manufacturers/103/jobs/338167/submit", auth.RoleApp, nil},
		{"Submitting again is refused: the job is submitted.", "POST", "/v1/manufacturers/103/jobs/338167/submit", auth.RoleApp, nil},
		{"The administrator reads the record of every call.", "GET", "/v1/manufacturers/103/deliveries?limit=5", auth.RoleAdmin, nil},
	}
	for _, s := range steps {
		if err := w.step(ctx, s.note, s.method, s.path, s.role, s.body); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, "\nDone. Run `callout serve --dev` to start Callout yourself.")
	return nil
}

// walk sends the demo's requests and prints them.
type walk struct {
	out    io.Writer
	base   string
	secret []byte
}

func (w *walk) step(ctx context.Context, note, method, path string, role auth.Role, body any) error {
	mfr := "103"
	if role == auth.RolePlatform {
		mfr = ""
	}
	tok, err := auth.Mint(w.secret, role, mfr, time.Hour, time.Now())
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, w.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	fmt.Fprintf(w.out, "\n# %s\n> %s %s (as %s)\n", note, method, path, role)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, data, "  ", "  ") != nil {
		pretty.Write(data)
	}
	fmt.Fprintf(w.out, "< %s\n  %s\n", resp.Status, pretty.String())
	return nil
}

// sampleManufacturer is the demo's manufacturer webhook: it prices every
// job and accepts every submission, printing what it receives to out.
func sampleManufacturer(out io.Writer) http.Handler {
	answer := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			line := fmt.Sprintf("  [manufacturer] %s %s: %d-byte payload, X-Request-Id %q", r.Method, r.URL.Path, n, r.Header.Get("X-Request-Id"))
			// Only submissions carry one: a price is safe to repeat.
			if key := r.Header.Get("Idempotency-Key"); key != "" {
				line += fmt.Sprintf(", Idempotency-Key %q", key)
			}
			if r.Header.Get("Webhook-Signature") != "" {
				line += ", signed"
			}
			fmt.Fprintln(out, line)
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, body)
		}
	}
	mux := http.NewServeMux()
	// The token endpoint of an Auth0 tenant, for a webhook whose auth is
	// auth0 with the tenant_domain http://<this address>.
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(out, "  [auth0] %s %s: client_id %q\n", r.Method, r.URL.Path, r.PostFormValue("client_id"))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token": "sample-access-token", "token_type": "Bearer", "expires_in": 86400}`)
	})
	mux.Handle("POST /pricing", answer(`{"success": true, "cost": 1234.56, "message": "10% first order discount applied",
		"breakdown": [{"name": "Discounts", "collapse": true, "items": [{"name": "10% First Order Discount", "cost": -123.46}]}, {"name": "Tax", "cost": 101.01}]}`))
	mux.Handle("POST /submit", answer(`{"success": true, "message": "Order #123456", "id": "JPS-990495"}`))
	return mux
}

// serveSampleManufacturer serves the sample manufacturer on addr until ctx
// ends.
func serveSampleManufacturer(ctx context.Context, addr string, out io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sample manufacturer: %w", err)
	}
	srv := &http.Server{Handler: sampleManufacturer(out), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "sample manufacturer listening on http://%s (pricing: /pricing, submission: /submit, Auth0: /oauth/token)\n", ln.Addr())
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
