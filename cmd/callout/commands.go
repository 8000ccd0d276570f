package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/callout/callout"
	"github.com/callout/callout/auth"
	"github.com/callout/callout/config"
	"github.com/callout/callout/queue"
	"github.com/callout/callout/server"
	"github.com/callout/callout/store"
)

// load parses the command's flags and layers the configuration. Usage and
// flag errors go to out.
func load(fs *pflag.FlagSet, args, environ []string, out io.Writer) (*config.Config, error) {
	fs.SetOutput(out)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return config.Load(fs, environ)
}

// serve runs the gateway until ctx ends. ready, when not nil, is told the
// address it listens on (tests listen on port 0).
func serve(ctx context.Context, args, environ []string, stderr io.Writer, ready func(net.Addr)) error {
	cfg, err := load(config.Flags("serve"), args, environ, stderr)
	if err != nil {
		return err
	}
	secrets, err := cfg.Prepare()
	if err != nil {
		return err
	}
	log := server.NewLogger(cfg, stderr)
	a, err := server.New(ctx, cfg, secrets, log, buildVersion())
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	if cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listening for metrics on %s (CALLOUT_METRICS_LISTEN): %w", cfg.MetricsListen, err)
		}
		log.Info("metrics serving", "addr", mln.Addr().String(), "path", "/metrics")
		go func() {
			if err := a.ServeMetrics(ctx, mln); err != nil {
				log.Error("metrics stopped", "error", err)
			}
		}()
	}
	if cfg.DatabaseURL == "" {
		log.Info("data directory", "data_dir", cfg.DataDir)
	}
	if cfg.Dev {
		log.Warn("development mode: private networks and plain http allowed; mint a token with: callout token --dev --data-dir "+cfg.DataDir+" --role platform",
			"jwt_secret_file", cfg.JWTSecretPath())
	}
	if cfg.DatabaseURL == "" && cfg.SecretKey == "" {
		log.Info("webhook secrets are sealed with the generated key file; back it up with the database", "secret_key_file", cfg.SecretKeyPath())
	}
	if ready != nil {
		ready(ln.Addr())
	}
	return a.Serve(ctx, ln)
}

// migrate applies the schema migrations and exits. It needs no secret: it
// seals and opens nothing.
func migrate(ctx context.Context, args, environ []string, stdout io.Writer) error {
	cfg, err := load(config.Flags("migrate", "data_dir", "database_url"), args, environ, stdout)
	if err != nil {
		return err
	}
	// Open applies every pending migration.
	st, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, Sealer: noSealer{}})
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	defer st.Close()
	// The queue's own tables: New applies River's migrations.
	q, err := queue.New(ctx, queue.Options{Store: st, URL: cfg.DatabaseURL})
	if err != nil {
		return fmt.Errorf("migrating the event queue: %w", err)
	}
	q.Stop(ctx)
	if applied := st.Applied(); len(applied) > 0 {
		fmt.Fprintf(stdout, "callout: %s schema migrated: applied %s\n", st.Dialect(), strings.Join(applied, ", "))
	} else {
		fmt.Fprintf(stdout, "callout: %s schema is up to date: nothing to apply\n", st.Dialect())
	}
	return nil
}

// noSealer is the Sealer of migrate and console-link, which read and write
// no webhook secret, so that they need no secret key.
type noSealer struct{}

var _ store.Sealer = noSealer{}

func (noSealer) Seal(_, _ []byte) ([]byte, error) {
	return nil, errors.New("this command seals no secrets")
}

func (noSealer) Open(_, _ []byte) ([]byte, error) {
	return nil, errors.New("this command opens no secrets")
}

// token mints an API token signed with the JWT secret the server of the
// same configuration verifies with.
func token(args, environ []string, stdout io.Writer) error {
	fs := config.Flags("token", "data_dir", "dev")
	role := fs.String("role", "", "the token's role: platform, admin or app")
	mfr := fs.String("manufacturer", "", "the manufacturer id (required for admin and app, refused for platform)")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	cfg, err := load(fs, args, environ, stdout)
	if err != nil {
		return err
	}
	switch r := auth.Role(*role); {
	case r == "":
		return errors.New("--role is required: platform, admin or app")
	case (r == auth.RoleAdmin || r == auth.RoleApp) && *mfr == "":
		return fmt.Errorf("--manufacturer is required for an %s token: the id of the manufacturer it acts for", r)
	}
	secret, err := cfg.TokenSecret()
	if err != nil {
		return err
	}
	tok, err := auth.Mint(secret, auth.Role(*role), *mfr, *ttl, time.Now())
	if err != nil {
		return flagErrors(err)
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// flagErrors restates a validation error of the API in the words of the
// command line: each bad field as its flag.
func flagErrors(err error) error {
	var e *callout.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	var errs []error
	for _, f := range e.Fields {
		errs = append(errs, fmt.Errorf("--%s: %s", f.Field, f.Message))
	}
	return errors.Join(errs...)
}
