package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/tracking"
	"github.com/orrery-ml/orrery/shared/tracking/progressbar"
)

const usage = `orrery — train, evaluate and register classifiers for astronomy detection data,
on this machine (the embedded default; state under --home, $ORRERY_HOME or ./.orrery).

Usage:
  orrery run     [--config FILE] [--json] [--home DIR]
                 validate, train, evaluate and register an MLP on the bundled HTRU2 pulsar data
  orrery train   --data PATH --target COL [--positive VALUE] [--hdu N|NAME] [--config FILE] [--from-trial STUDY[/N]]
                 [--epochs N --learning-rate X ... every TrainingConfig field] [--json] [--home DIR]
                 the same on your CSV, Parquet, FITS or VOTable file; --config is a TrainingConfig JSON file,
                 --from-trial starts from a study's best (or Nth) trial; field flags override both
                 ('orrery train --help' lists them with their defaults)
  orrery status  JOB_ID [--json] [--home DIR]      a job's status, stage, progress and result
  orrery jobs    [--json] [--home DIR]             recent jobs
  orrery models  [--json] [--home DIR]             registered models
  orrery predict --model MODEL_ID|--endpoint E --data PATH [--hdu N|NAME] [--out FILE] [--home DIR]
                 score a data file with a registered model (row, label, probabilities; CSV, or FITS
                 when --out ends in .fits or .fits.gz, Parquet in .parquet)
  orrery evaluate --model MODEL_ID --data PATH [--target COL] [--positive V] [--hdu N|NAME] [--cv K] [--threshold X] [--json] [--home DIR]
                 metrics with confidence intervals, thresholds, calibration, latency, cross-validation
                 and an HTML report (see README, "Evaluating models")
  orrery compare MODEL_ID MODEL_ID ... --data PATH [--hdu N|NAME] [--metric auc_roc|accuracy|auc_pr|f1_score] [--json]
                 rank models on one frozen test set; statistical ties share a rank
` + studiesUsage + retrainUsage + generateUsage + tuneUsage + serveUsage + deployUsage + exportUsage + trackingUsage + openUsage + completionUsage + `  orrery version

Flags common to the training commands:
  --progress bar|json|none   progress display on stderr (default: bar; none with --json)
  --quiet                    no progress display

Exit status: 0 success, 1 failure (one line on stderr), 2 usage error.
`

// command runs one subcommand with its arguments.
type command func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// commands maps subcommand names to their implementations. Each command's
// file registers itself here, so adding one touches no other file but the
// usage text.
var commands = map[string]command{
	"run": func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return cmdTrain(ctx, args, stdout, stderr, true)
	},
	"train": func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return cmdTrain(ctx, args, stdout, stderr, false)
	},
	"status": func(ctx context.Context, args []string, stdout, _ io.Writer) error {
		return cmdStatus(ctx, args, stdout)
	},
	"jobs": func(ctx context.Context, args []string, stdout, _ io.Writer) error { return cmdJobs(ctx, args, stdout) },
	"models": func(ctx context.Context, args []string, stdout, _ io.Writer) error {
		return cmdModels(ctx, args, stdout)
	},
	"predict": func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return cmdPredict(ctx, args, stdout, stderr)
	},
	"tune":     cmdTune,
	"evaluate": cmdEvaluate,
	"compare":  cmdCompare,
	"serve":    cmdServe,
}

// errUsage marks command-line mistakes (exit status 2).
var errUsage = fault.New(fault.Invalid, "usage")

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }
func (e usageError) Unwrap() error { return errUsage }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// runCLI runs one command and returns the process exit status.
func runCLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "version", "--version":
		fmt.Fprintln(stdout, "orrery", nn.Version())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		c, ok := commands[cmd]
		if !ok {
			err = usagef("unknown command %q (see 'orrery help')", cmd)
			break
		}
		err = c(ctx, rest, stdout, stderr)
	}
	if err == nil {
		return 0
	}
	var help helpText
	if errors.As(err, &help) {
		fmt.Fprint(stdout, string(help))
		return 0
	}
	fmt.Fprintln(stderr, "orrery:", oneLine(err))
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// helpText is the answer to a command's --help: printed on stdout, exit 0.
type helpText string

func (h helpText) Error() string { return string(h) }

// commandOutputs describes what a command prints, for its --help; a
// command's file adds its entry.
var commandOutputs = map[string]string{}

// commandHelp is a command's --help: its usage lines, what it prints, and
// every flag with its default.
func commandHelp(fs *flag.FlagSet) helpText {
	var b strings.Builder
	name := fs.Name()
	b.WriteString("Usage:\n")
	lines := strings.Split(usage, "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(strings.TrimSpace(lines[i]), "orrery "+name+" ") && strings.TrimSpace(lines[i]) != "orrery "+name {
			continue
		}
		b.WriteString(lines[i] + "\n")
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "        ") {
			i++
			b.WriteString(lines[i] + "\n")
		}
	}
	if out, ok := commandOutputs[name]; ok {
		b.WriteString("\nOutput:\n" + out)
	}
	var own, config strings.Builder
	fs.VisitAll(func(f *flag.Flag) {
		typ, doc := flag.UnquoteUsage(f)
		to := &own
		if cf, ok := f.Value.(configFlag); ok {
			to, typ = &config, string(cf.field.Kind)
			if cf.field.Kind == training.FieldBool {
				typ = ""
			}
		}
		line := "  --" + f.Name
		if typ != "" {
			line += " " + typ
		}
		fmt.Fprintf(to, "%-34s %s", line, doc)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" || isConfigFlag(f) && f.DefValue != "" {
			fmt.Fprintf(to, " (default %s)", f.DefValue)
		}
		to.WriteString("\n")
	})
	b.WriteString("\nFlags:\n" + own.String())
	if config.Len() > 0 {
		b.WriteString("\nTraining configuration (each flag overrides that field of --config; zero is a value):\n" + config.String())
	}
	return helpText(b.String())
}

func isConfigFlag(f *flag.Flag) bool {
	_, ok := f.Value.(configFlag)
	return ok
}

// parseFlags parses flags that may come before or after positional
// arguments, and returns the positional ones.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, commandHelp(fs)
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// progressRecorder builds the progress display chosen by the flags; the
// returned function flushes it.
func progressRecorder(mode string, quiet, jsonOut bool, stderr io.Writer) (tracking.Recorder, func(), error) {
	if mode == "" {
		mode = "bar"
		if jsonOut {
			mode = "none"
		}
	}
	if quiet {
		mode = "none"
	}
	switch mode {
	case "none":
		return tracking.Discard, func() {}, nil
	case "json":
		return progressbar.JSONLines(stderr), func() {}, nil
	case "bar":
		// The command prints its error once, on its last line.
		bars := progressbar.New(stderr, progressbar.Options{TerseFailures: true})
		return bars, func() { _ = bars.Close() }, nil
	}
	return nil, nil, usagef("--progress: %q is not bar, json or none", mode)
}

func openRuntime(ctx context.Context, home string, rec tracking.Recorder) (*embedded.Runtime, error) {
	return embedded.Open(ctx, embedded.Home(home), rec)
}

// dataFile is the file of a data path, without a table selector
// ("x.fits[EVENTS]" is the file x.fits).
func dataFile(p string) string {
	file, _ := dataset.SplitHDU(p)
	return file
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
