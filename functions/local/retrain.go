package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
)

const retrainUsage = `  orrery retrain set --prefix P --model NAME --config FILE [--paused] [--home DIR]
                 uploads under prefix P retrain model NAME with the TrainingConfig in FILE
                 (its dataset_path is each upload; checked like a training request)
  orrery retrain list [--json] [--home DIR]     policies (PREFIX, MODEL, STATUS, UPDATED)
  orrery retrain delete --prefix P [--home DIR]
                 the policies of this home (orrery serve's PUT|GET|DELETE /ml/retraining/policies;
                 on AWS the api function's same routes keep them in DynamoDB)
`

func init() {
	commands["retrain"] = func(ctx context.Context, args []string, stdout, _ io.Writer) error {
		return cmdRetrain(ctx, args, stdout)
	}
}

// cmdRetrain sets, lists and deletes retraining policies, through the
// API's own checks (api.DecodeRetrainingPolicyRequest) so that what the
// CLI stores is what the API would.
func cmdRetrain(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("retrain: want set, list or delete\n%s", retrainUsage)
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("retrain "+sub, flag.ContinueOnError)
	prefix := fs.String("prefix", "", "data-set key prefix, ending in /")
	model := fs.String("model", "", "set: name of the model the uploads retrain")
	configPath := fs.String("config", "", "set: TrainingConfig JSON file")
	paused := fs.Bool("paused", false, "set: keep the policy without starting jobs")
	jsonOut := fs.Bool("json", false, "list: print as JSON")
	home := fs.String("home", "", "state directory")
	pos, err := parseFlags(fs, rest)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("retrain %s: unexpected argument %q", sub, pos[0])
	}
	var req api.RetrainingPolicyRequest
	switch sub {
	case "set":
		if *prefix == "" || *model == "" || *configPath == "" {
			return usagef("retrain set: --prefix, --model and --config are required")
		}
		cfg, err := os.ReadFile(*configPath)
		if err != nil {
			return fmt.Errorf("retrain set: config: %w", err)
		}
		body, err := jsonBody(api.RetrainingPolicyRequest{Prefix: *prefix, ModelName: *model, Config: cfg, Paused: *paused})
		if err != nil {
			return usagef("retrain set: config %s is not JSON", *configPath)
		}
		if req, err = api.DecodeRetrainingPolicyRequest(body); err != nil {
			return usagef("retrain set: %v", err)
		}
	case "delete":
		if *prefix == "" {
			return usagef("retrain delete: --prefix is required")
		}
	case "list":
	default:
		return usagef("retrain: want set, list or delete\n%s", retrainUsage)
	}
	rt, err := openRuntime(ctx, *home, nil)
	if err != nil {
		return err
	}
	defer rt.Close()
	svc := &api.Service{Retraining: rt.DB}
	switch sub {
	case "set":
		p, err := svc.PutRetrainingPolicy(ctx, req)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "uploads under %s retrain %s%s\n", p.Prefix, training.PrintableName(p.ModelName), map[bool]string{true: " (paused)"}[p.Paused])
		return nil
	case "delete":
		p, err := svc.DeleteRetrainingPolicy(ctx, *prefix)
		if err != nil {
			return fmt.Errorf("retrain delete: %w", err)
		}
		fmt.Fprintf(stdout, "deleted the policy of %s (model %s)\n", p.Prefix, training.PrintableName(p.ModelName))
		return nil
	}
	list, err := svc.ListRetrainingPolicies(ctx)
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSON(stdout, list.Policies)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PREFIX\tMODEL\tSTATUS\tUPDATED")
	for _, p := range list.Policies {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Prefix, training.PrintableName(p.ModelName), policyStatus(p), p.UpdatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func policyStatus(p store.RetrainingPolicy) string {
	if p.Paused {
		return "paused"
	}
	return "active"
}

// jsonBody encodes v as a request body; a json.RawMessage that is not JSON
// fails here.
func jsonBody(v any) ([]byte, error) { return json.Marshal(v) }
