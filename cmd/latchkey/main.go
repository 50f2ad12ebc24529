// Command latchkey is the Latchkey OAuth 2.0 authorization server and the
// tool that manages its clients and users.
//
// main is the only place that reads os.Args, the process environment and
// standard streams, and the only caller of os.Exit; everything else runs
// through run, which tests call in-process.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal starts a graceful shutdown, a second one
		// gets the default behaviour: exit at once.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, formatError(err))
		os.Exit(1)
	}
}

// run executes the command line args (without the program name) and returns
// its error; the caller prints it and sets the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, lookupEnv: os.LookupEnv}
	return a.run(ctx, args)
}

// app holds what the commands share: the streams, the environment and the
// hooks tests use.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// lookupEnv reads LATCHKEY_* overrides (os.LookupEnv in production).
	lookupEnv func(string) (string, bool)
	// now is the clock for timestamps; nil means time.Now.
	now func() time.Time
	// onListen, if set, is called by serve with the address it listens on,
	// once the server is about to answer (tests use it with --listen :0).
	onListen func(addr string)
}

func (a *app) clock() time.Time {
	if a.now != nil {
		return a.now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

// run builds the command tree and executes args.
func (a *app) run(ctx context.Context, args []string) error {
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	return root.ExecuteContext(ctx)
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "latchkey",
		Short: "Latchkey: an OAuth 2.0 and OpenID Connect authorization server in one binary",
		Long: `Latchkey is an OAuth 2.0 and OpenID Connect authorization server in one binary.

Start it with "latchkey serve --dev" to try it: it creates a local SQLite
database, a demo user and a demo client, and prints how to sign in.

Configuration comes from a YAML file (--config FILE, or LATCHKEY_CONFIG),
then LATCHKEY_* environment variables, then flags: a flag beats the
environment, which beats the file, which beats the default.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		if strings.HasPrefix(err.Error(), "unknown flag: --server") || strings.HasPrefix(err.Error(), "unknown flag: --token") {
			// Commands the admin API cannot serve have no --server.
			return usageError(cmd, err.Error()+": "+cmd.CommandPath()+" works on the database only, not through the admin API")
		}
		return usageError(cmd, err.Error())
	})
	root.AddCommand(
		a.serveCommand(),
		a.migrateCommand(),
		a.clientsCommand(),
		a.resourcesCommand(),
		a.registrationTokensCommand(),
		a.keysCommand(),
		a.dbCommand(),
		a.janitorCommand(),
		a.usersCommand(),
		a.demoCommand(),
		a.versionCommand(),
	)
	root.Long += "\n\nEnvironment: " + configEnv + ", " + strings.Join(config.EnvNames(), ", ") + "."
	// A usage line that already lists its flags needs no "[flags]".
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.DisableFlagsInUseLine = strings.Contains(c.Use, "--")
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return root
}

// usageError is a command-line mistake, with a pointer to the help.
func usageError(cmd *cobra.Command, msg string) error {
	return fmt.Errorf("%s (see '%s --help')", msg, cmd.CommandPath())
}

// wantArgs requires exactly the named positional arguments.
func wantArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usageError(cmd, fmt.Sprintf("usage: %s %s", cmd.CommandPath(), strings.Join(names, " ")))
		}
		return nil
	}
}
