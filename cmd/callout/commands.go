package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/spf13/pflag"

	"github.com/callout/callout/auth"
	"github.com/callout/callout/config"
	"github.com/callout/callout/queue"
	"github.com/callout/callout/secret"
	"github.com/callout/callout/server"
	"github.com/callout/callout/store"
)

// prepare parses the command's flags, layers the configuration and readies
// its secrets. Usage and flag errors go to out.
func prepare(fs *pflag.FlagSet, args, environ []string, out io.Writer) (*config.Config, *config.Secrets, error) {
	fs.SetOutput(out)
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	cfg, err := config.Load(fs, environ)
	if err != nil {
		return nil, nil, err
	}
	secrets, err := cfg.Prepare()
	if err != nil {
		return nil, nil, err
	}
	return cfg, secrets, nil
}

// serve runs the gateway until ctx ends. ready, when not nil, is told the
// address it listens on (tests listen on port 0).
func serve(ctx context.Context, args, environ []string, stderr io.Writer, ready func(net.Addr)) error {
	cfg, secrets, err := prepare(config.Flags("serve"), args, environ, stderr)
	if err != nil {
		return err
	}
	log := server.NewLogger(cfg, stderr)
	a, err := server.New(ctx, cfg, secrets, log, version)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	if cfg.Dev {
		log.Warn("development mode: private networks and plain http allowed; mint a token with: callout token --dev --role platform")
	}
	if ready != nil {
		ready(ln.Addr())
	}
	return a.Serve(ctx, ln)
}

// migrate applies the schema migrations and exits.
func migrate(ctx context.Context, args, environ []string, stdout io.Writer) error {
	cfg, secrets, err := prepare(config.Flags("migrate"), args, environ, stdout)
	if err != nil {
		return err
	}
	box, err := secret.NewBox(secrets.SecretKey)
	if err != nil {
		return err
	}
	// Open applies every pending migration.
	st, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, Sealer: box})
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	defer st.Close()
	// The queue's own tables: New applies River's migrations.
	q, err := queue.New(ctx, queue.Options{Store: st, URL: cfg.DatabaseURL})
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	q.Stop(ctx)
	fmt.Fprintf(stdout, "callout: %s schema is up to date\n", st.Dialect())
	return nil
}

// token mints an API token signed with the configured JWT secret.
func token(args, environ []string, stdout io.Writer) error {
	fs := config.Flags("token")
	role := fs.String("role", "", "the token's role: platform, admin or app")
	mfr := fs.String("manufacturer", "", "the manufacturer id (required for admin and app)")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	_, secrets, err := prepare(fs, args, environ, stdout)
	if err != nil {
		return err
	}
	if *role == "" {
		return errors.New("--role is required: platform, admin or app")
	}
	tok, err := auth.Mint(secrets.JWTSecret, auth.Role(*role), *mfr, *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
