package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
)

const openUsage = `  orrery open    ID [--browser] [--home DIR]
                 the HTML report of a training or evaluation job, an evaluation, a study or a
                 deployment: prints its path (--browser: opens it when a display exists)
`

func init() {
	commands["open"] = func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return cmdOpen(ctx, args, stdout, stderr)
	}
}

// cmdOpen writes (or finds) the report of a job, study or deployment and
// prints where it is; with --browser it also opens it.
func cmdOpen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("open", flag.ContinueOnError)
	browser := fs.Bool("browser", false, "open the report in a browser when a display exists")
	home := fs.String("home", "", "state directory")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("open: want one JOB_ID, STUDY_ID, EVALUATION_ID or DEPLOYMENT_ID\n%s", openUsage)
	}
	rt, err := openRuntime(ctx, *home, nil)
	if err != nil {
		return err
	}
	defer rt.Close()
	key, err := rt.Reports().Write(ctx, pos[0])
	if err != nil {
		return fmt.Errorf("open %s: %w", pos[0], err)
	}
	file, err := rt.Artifacts.Path(key)
	if err != nil {
		return fmt.Errorf("open %s: %w", pos[0], err)
	}
	fmt.Fprintln(stdout, file)
	if !*browser {
		return nil
	}
	name, argv, why := browserCommand(file)
	if name == "" {
		fmt.Fprintf(stderr, "orrery: not opening a browser: %s\n", why)
		return nil
	}
	cmd := exec.Command(name, argv...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("open %s: start %s: %w", pos[0], name, err)
	}
	// The opener hands the file to the browser and exits; it is not waited
	// for, so a browser that stays open does not hold the command.
	return cmd.Process.Release()
}

// browserCommand is the program that opens file: $BROWSER if set, else the
// desktop's opener (open on macOS, xdg-open elsewhere) — none, with the
// reason, on a Linux or BSD machine without $DISPLAY or $WAYLAND_DISPLAY.
func browserCommand(file string) (name string, args []string, why string) {
	if runtime.GOOS != "darwin" && runtime.GOOS != "windows" && os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return "", nil, "no display ($DISPLAY and $WAYLAND_DISPLAY are unset)"
	}
	if b := os.Getenv("BROWSER"); b != "" {
		return b, []string{file}, ""
	}
	switch runtime.GOOS {
	case "darwin":
		return "open", []string{file}, ""
	case "windows":
		return "rundll32", []string{"url.dll,FileProtocolHandler", file}, ""
	}
	return "xdg-open", []string{file}, ""
}
