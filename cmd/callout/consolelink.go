package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/callout/callout/config"
	"github.com/callout/callout/console"
	"github.com/callout/callout/store"
)

// consoleLink prints a one-time console sign-in link, valid 10 minutes, for
// a manufacturer's administrator or (--platform) for an operator over every
// manufacturer. It writes the link's hash to the database the server uses,
// and needs no secret.
func consoleLink(ctx context.Context, args, environ []string, stdout io.Writer) error {
	fs := config.Flags("console-link", "listen", "data_dir", "database_url", "dev")
	mfr := fs.String("manufacturer", "", "the manufacturer whose console the link opens")
	platform := fs.Bool("platform", false, "a link for a platform operator, over every manufacturer")
	base := fs.String("url", "", "Callout's address as the browser reaches it (default: http:// and the listen address)")
	cfg, err := load(fs, args, environ, stdout)
	if err != nil {
		return err
	}
	if (*mfr == "") == !*platform {
		return errors.New("give one of --manufacturer <id> or --platform")
	}
	if *base == "" {
		host, port, _ := net.SplitHostPort(cfg.Listen) // validated by config
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		*base = "http://" + net.JoinHostPort(host, port)
	}
	// A link is stored as its hash: no secret is sealed or opened.
	st, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, Sealer: noSealer{}})
	if err != nil {
		return fmt.Errorf("opening the store: %w", err)
	}
	defer st.Close()
	link, err := console.NewLinks(st, nil).Issue(ctx, *mfr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, strings.TrimSuffix(*base, "/")+link.Path)
	return nil
}
