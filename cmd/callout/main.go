// Command callout is the Callout webhook gateway: `callout serve` runs it,
// `callout migrate` applies the schema, `callout token` mints an API token,
// `callout demo` walks a pricing and a submission through a sample
// manufacturer, and `callout version` prints the version.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err on stderr and returns the process's exit status: 0
// for no error and for a help request, which has printed the help already.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "callout:", err)
	return 1
}

const usage = `Usage: callout <command> [flags]

Commands:
  serve     run the gateway (--dev for development: private networks, plain http, generated secrets)
  migrate   apply the database schema and exit (needs no secrets)
  token     mint an API token: callout token --role admin --manufacturer 103 --ttl 1h
  console-link  print a one-time console sign-in link: callout console-link --manufacturer 103 (or --platform)
  demo      walk one pricing and one submission through Callout and a sample manufacturer;
            --serve-manufacturer serves that sample manufacturer for the README's walk-through
  version   print the version

Run 'callout <command> --help' for a command's flags.
`

// run runs one subcommand; main does nothing else, so tests can call it.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, environ, stderr, nil)
	case "migrate":
		return migrate(ctx, rest, environ, stdout)
	case "token":
		return token(rest, environ, stdout)
	case "console-link":
		return consoleLink(ctx, rest, environ, stdout)
	case "demo":
		return demo(ctx, rest, stdout)
	case "version", "--version":
		fmt.Fprintln(stdout, "callout", buildVersion())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}
