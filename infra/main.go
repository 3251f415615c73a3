package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"

	"github.com/orrery-ml/orrery/infra/stacks"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(); err != nil {
		logger.Error("cdk app failed", "error", err)
		os.Exit(1)
	}
}

func run() error {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	env, err := stacks.FromContext(app.Node())
	if err != nil {
		return err
	}
	root, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("repository root: %w", err)
	}
	machines, err := stacks.DefaultMachines()
	if err != nil {
		return err
	}
	if _, err := stacks.New(app, stacks.AppProps{
		Env: env, RepoRoot: root, Machines: machines,
		Account: os.Getenv("CDK_DEFAULT_ACCOUNT"), Region: os.Getenv("CDK_DEFAULT_REGION"),
	}); err != nil {
		return err
	}
	return errorsOf(app.Synth(nil))
}

// errorsOf returns the error-level messages of the synthesized stacks (cdk-nag's unsuppressed findings among
// them) as one error.
func errorsOf(assembly cxapi.CloudAssembly) error {
	var msgs []string
	for _, stack := range *assembly.Stacks() {
		for _, m := range *stack.Messages() {
			if m.Level == cxapi.SynthesisMessageLevel_ERROR {
				msgs = append(msgs, fmt.Sprintf("%s: %v", *m.Id, m.Entry.Data))
			}
		}
	}
	if len(msgs) > 0 {
		return errors.New("synthesis reported errors:\n" + strings.Join(msgs, "\n"))
	}
	return nil
}
