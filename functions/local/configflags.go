package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/orrery-ml/orrery/shared/ml/optimization"

	"github.com/orrery-ml/orrery/shared/ml/training"
)

// configFlagAliases are the short names of the config fields whose flags
// predate the generated ones.
var configFlagAliases = map[string]string{
	"dataset_path":   "data",
	"target_column":  "target",
	"positive_class": "positive",
	"hdu":            "hdu",
	"model_type":     "model",
}

// configFlagName is the flag of a TrainingConfig field: its JSON path in
// kebab case (learning_rate -> --learning-rate, lr_schedule.kind ->
// --lr-schedule-kind), or its alias.
func configFlagName(path string) string {
	if a, ok := configFlagAliases[path]; ok {
		return a
	}
	return strings.NewReplacer("_", "-", ".", "-").Replace(path)
}

// configFlag collects one field's value into a FieldValues.
type configFlag struct {
	field training.ConfigField
	into  training.FieldValues
}

func (f configFlag) String() string { return f.field.Default }

func (f configFlag) Set(v string) error {
	f.into[f.field.Path] = v
	return nil
}

// IsBoolFlag lets a bool field be given as --early-stopping-enabled alone.
func (f configFlag) IsBoolFlag() bool { return f.field.Kind == training.FieldBool }

// addConfigFlags defines a flag for every TrainingConfig field (the list
// the JSON decoder decodes; see training.ConfigFields) on fs, skipping the
// names in skip; the values given land in the returned FieldValues, which
// override the config file's fields.
func addConfigFlags(fs *flag.FlagSet, skip ...string) training.FieldValues {
	set := training.FieldValues{}
	for _, f := range training.ConfigFields() {
		name := configFlagName(f.Path)
		if fs.Lookup(name) != nil || contains(skip, name) {
			continue
		}
		doc := f.Doc
		switch f.Kind {
		case training.FieldInts, training.FieldStrings:
			doc += " (comma-separated)"
		}
		fs.Var(configFlag{field: f, into: set}, name, doc+" [config: "+f.Path+"]")
	}
	return set
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// flagError rewrites a config field error for the command line: the
// field's flag rather than its JSON path, where a flag set it ("--learning-rate: ..." for
// "training: invalid config: learning_rate: ...").
func flagError(err error, set training.FieldValues) string {
	msg := strings.TrimPrefix(oneLine(err), training.ErrInvalidConfig.Error()+": ")
	path, rest, ok := strings.Cut(msg, ": ")
	if !ok {
		return msg
	}
	if _, ok := set[path]; ok {
		return "--" + configFlagName(path) + ": " + rest
	}
	return msg
}

// trialConfig is the configuration study STUDY's best trial (STUDY/N:
// trial N) trained with, for `orrery train --from-trial`.
func trialConfig(ctx context.Context, home, ref string, stderr io.Writer) (training.TrainingConfig, error) {
	studyID, number, err := parseTrialRef(ref)
	if err != nil {
		return training.TrainingConfig{}, err
	}
	rt, err := openRuntime(ctx, home, nil)
	if err != nil {
		return training.TrainingConfig{}, err
	}
	defer rt.Close()
	cfg, t, err := optimization.TrialConfig(ctx, rt.OptimizationStores(), studyID, number)
	if err != nil {
		return cfg, fmt.Errorf("train --from-trial %s: %w", ref, err)
	}
	v := "-"
	if len(t.Values) > 0 {
		v = num(t.Values[0])
	}
	fmt.Fprintln(stderr, wrap(fmt.Sprintf("study %s trial %d (value %s): %s", studyID, t.Number, v,
		strings.ReplaceAll(strings.TrimSuffix(t.Params.Key(), ";"), ";", " ")), "  "))
	return cfg, nil
}

// parseTrialRef splits STUDY[/N].
func parseTrialRef(ref string) (string, int, error) {
	studyID, n, ok := strings.Cut(ref, "/")
	if studyID == "" {
		return "", 0, usagef("--from-trial: want STUDY or STUDY/TRIAL, got %q", ref)
	}
	if !ok {
		return studyID, optimization.BestTrialNumber, nil
	}
	number, err := strconv.Atoi(n)
	if err != nil || number < 0 {
		return "", 0, usagef("--from-trial %s: trial %q is not a trial number", ref, n)
	}
	return studyID, number, nil
}
