package training

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// FieldKind is how a ConfigField's value is written on a command line.
type FieldKind string

// Field kinds.
const (
	FieldString  FieldKind = "string"
	FieldInt     FieldKind = "int"
	FieldFloat   FieldKind = "float"
	FieldBool    FieldKind = "bool"
	FieldInts    FieldKind = "ints"    // comma-separated integers ("64,32"); "" is the empty list
	FieldStrings FieldKind = "strings" // comma-separated words; "" is the empty list
	FieldJSON    FieldKind = "json"    // a JSON value, or a bare word taken as a JSON string
)

// ConfigField is one settable leaf of TrainingConfig, named by its JSON
// path ("learning_rate", "lr_schedule.kind").
type ConfigField struct {
	Path    string
	Kind    FieldKind
	Default string // Defaults()'s value, as it would be written on a command line
	Doc     string
}

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

// ConfigFields lists every field DecodeConfig accepts, walked from the
// same struct tags encoding/json decodes by, so a command line built from
// it cannot drift from the JSON body: a field added to TrainingConfig gets
// its flag with no other change (and fieldDocs a test-enforced line).
func ConfigFields() []ConfigField {
	var out []ConfigField
	// The defaults shown: the mlp's, and for the tree settings (empty for
	// an mlp) those of the tree model types they apply to.
	defs := []reflect.Value{reflect.ValueOf(Defaults()), reflect.ValueOf(DefaultsFor(ModelGradientBoosting)),
		reflect.ValueOf(DefaultsFor(ModelRandomForest))}
	walkFields(reflect.TypeFor[TrainingConfig](), defs, "", &out)
	return out
}

func walkFields(t reflect.Type, defs []reflect.Value, prefix string, out *[]ConfigField) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		ft := f.Type
		sub := make([]reflect.Value, len(defs))
		for k, d := range defs {
			sub[k] = d.Field(i)
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			// An embedded struct's fields are the JSON object's own
			// (encoding/json flattens them).
			walkFields(ft, sub, prefix, out)
			continue
		}
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		path := prefix + name
		if ft.Kind() == reflect.Struct && !reflect.PointerTo(ft).Implements(jsonUnmarshaler) {
			walkFields(ft, sub, path+".", out)
			continue
		}
		def := ""
		for _, d := range sub {
			if def = formatDefault(d); def != "" {
				break
			}
		}
		*out = append(*out, ConfigField{Path: path, Kind: kindOf(ft), Default: def, Doc: fieldDocs[path]})
	}
}

func kindOf(t reflect.Type) FieldKind {
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		return FieldJSON
	}
	switch t.Kind() {
	case reflect.String:
		return FieldString
	case reflect.Int, reflect.Int64:
		return FieldInt
	case reflect.Float64:
		return FieldFloat
	case reflect.Bool:
		return FieldBool
	case reflect.Pointer:
		return kindOf(t.Elem())
	case reflect.Slice:
		switch t.Elem().Kind() {
		case reflect.Int:
			return FieldInts
		case reflect.String:
			return FieldStrings
		}
	}
	return FieldJSON
}

func formatDefault(v reflect.Value) string {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if v.IsZero() {
		return ""
	}
	switch kindOf(v.Type()) {
	case FieldString:
		return v.String()
	case FieldInt:
		return strconv.FormatInt(v.Int(), 10)
	case FieldFloat:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case FieldBool:
		return strconv.FormatBool(v.Bool())
	case FieldInts:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = strconv.FormatInt(v.Index(i).Int(), 10)
		}
		return strings.Join(parts, ",")
	case FieldStrings:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = v.Index(i).String()
		}
		return strings.Join(parts, ",")
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return ""
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		return s
	}
	return string(b)
}

// FieldValues are command-line values of ConfigFields, by path.
type FieldValues map[string]string

// Apply returns c with the values set, decoded by the JSON decoder itself
// (strictly, onto c, so fields not named keep c's values) and checked like
// a decoded body: an explicit zero is a value, refused where it is not a
// valid setting (epochs 0) rather than read as "unset". The error wraps
// ErrInvalidConfig and names the field.
func (v FieldValues) Apply(c TrainingConfig) (TrainingConfig, error) {
	if len(v) == 0 {
		return c, nil
	}
	kinds := map[string]FieldKind{}
	for _, f := range ConfigFields() {
		kinds[f.Path] = f.Kind
	}
	root := map[string]any{}
	for path, raw := range v {
		kind, ok := kinds[path]
		if !ok {
			return c, fmt.Errorf("%w: %s: no such field", ErrInvalidConfig, path)
		}
		val, err := fieldJSON(kind, raw)
		if err != nil {
			return c, fmt.Errorf("%w: %s: %v", ErrInvalidConfig, path, err)
		}
		obj := root
		parts := strings.Split(path, ".")
		for _, p := range parts[:len(parts)-1] {
			next, ok := obj[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				obj[p] = next
			}
			obj = next
		}
		obj[parts[len(parts)-1]] = val
	}
	b, err := json.Marshal(root)
	if err != nil {
		return c, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	out := c
	// Maps and pointers decode into what they point at: give the
	// decoder fresh ones so c is left as it was.
	out.ErrorColumns = nil
	if _, ok := v["error_columns"]; !ok {
		out.ErrorColumns = c.ErrorColumns
	}
	if c.EarlyStop.Enabled != nil {
		on := *c.EarlyStop.Enabled
		out.EarlyStop.Enabled = &on
	}
	if c.Bootstrap != nil {
		on := *c.Bootstrap
		out.Bootstrap = &on
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return c, fmt.Errorf("%w: %s", ErrInvalidConfig, strings.TrimPrefix(err.Error(), "json: "))
	}
	if err := CheckDecoded(out); err != nil {
		return c, err
	}
	return out, nil
}

// fieldJSON converts a command-line value to the JSON value of its kind.
func fieldJSON(kind FieldKind, raw string) (any, error) {
	switch kind {
	case FieldString:
		return raw, nil
	case FieldInt:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", raw)
		}
		return n, nil
	case FieldFloat:
		x, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%q is not a finite number", raw)
		}
		return x, nil
	case FieldBool:
		b, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", raw)
		}
		return b, nil
	case FieldInts:
		out := []int64{}
		for _, p := range splitList(raw) {
			n, err := strconv.ParseInt(p, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not a comma-separated list of integers", raw)
			}
			out = append(out, n)
		}
		return out, nil
	case FieldStrings:
		return append([]string{}, splitList(raw)...), nil
	}
	if json.Valid([]byte(raw)) {
		return json.RawMessage(raw), nil
	}
	return raw, nil
}

func splitList(raw string) []string {
	var out []string
	for p := range strings.SplitSeq(raw, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// fieldDocs describes each ConfigField for help texts; a test checks that
// every field has a line and every line a field.
var fieldDocs = map[string]string{
	"model_type":                "mlp, logistic_regression, gradient_boosting, random_forest or auto",
	"dataset_path":              "CSV, Parquet, FITS or VOTable file to train on",
	"target_column":             "target (label) column",
	"positive_class":            "positive class, as written in the data",
	"features":                  "feature columns (default: every numeric column but the target)",
	"validation_split":          "fraction held out for validation, in (0, 1)",
	"test_split":                "fraction held out for the test metrics, in (0, 1)",
	"batch_size":                "rows per gradient step",
	"epochs":                    "training epochs (at most)",
	"learning_rate":             "peak learning rate",
	"optimizer":                 "sgd, momentum, adam, adamw or rmsprop",
	"momentum":                  "momentum of sgd momentum and rmsprop, in [0, 1)",
	"loss_function":             "binary_cross_entropy or cross_entropy (default: by the number of classes)",
	"metrics":                   "metrics reported",
	"hidden_layers":             "hidden layer widths of an mlp (default 64,32)",
	"activation":                "relu, tanh, gelu or sigmoid",
	"dropout_rate":              "dropout after each hidden layer, in [0, 1)",
	"regularization":            "L2 penalty (adamw: decoupled weight decay)",
	"class_weights":             `balanced, none, or JSON {"label": weight}`,
	"lr_schedule.kind":          "constant, step, exponential or cosine",
	"lr_schedule.warmup_epochs": "epochs of linear warm-up from lr/10",
	"lr_schedule.step_size":     "epochs between step decays",
	"lr_schedule.gamma":         "decay factor of step and exponential, in (0, 1]",
	"lr_schedule.min_lr":        "floor of the cosine schedule",
	"early_stopping.enabled":    "stop when the metric stops improving",
	"early_stopping.metric":     "val_loss, val_auc_pr or val_auc_roc",
	"early_stopping.patience":   "epochs without improvement before stopping",
	"early_stopping.min_delta":  "smallest change that counts as improvement",
	"seed":                      "random seed of splits, initialisation and batches",
	"decision_threshold":        "f1, youden or a number in (0, 1)",
	"leakage":                   "error or warning: severity of the target-leakage check",
	"precision":                 "float32 or float64: arithmetic of the pure-Go engine's training steps",
	"name":                      "model name in the registry",
	"streaming":                 "stream a Parquet file by row groups (bounded memory; hash split)",
	"shuffle_rows":              "shuffle buffer of streamed training, in rows (0: 262144)",
	"hdu":                       "FITS HDU (number or EXTNAME) or VOTable TABLE; default: the first table",
	"missing_values":            `sentinels meaning "no measurement": JSON [99, -99] or {"col": [..], "*": [..]}`,
	"id_column":                 "row identifier column, never a feature",
	"group_column":              "column whose equal values are one object, never split apart",
	"split_column":              "column of published train/validation/test labels",
	"split_values.train":        "split_column value of training rows",
	"split_values.validation":   "split_column value of validation rows",
	"split_values.test":         "split_column value of test rows",
	"test_dataset_path":         "separate test file (same columns)",
	"sample_weight":             "none or inverse_variance",
	"error_columns":             `JSON {"feature": "its error column"}`,
	"max_iter":                  "boosting iterations (gradient_boosting, auto)",
	"max_leaves":                "leaves of a boosted tree, at least 2",
	"max_depth":                 "depth bound of every tree (0: no limit)",
	"min_samples_leaf":          "fewest training rows in a leaf",
	"l2_regularization":         "L2 penalty on boosted leaf values",
	"subsample":                 "fraction of rows per boosting iteration, in (0, 1]",
	"colsample":                 "fraction of features per boosted tree, in (0, 1]",
	"n_estimators":              "trees of a random_forest",
	"max_features":              "features tried per random_forest node: sqrt, log2, all, a count or a fraction",
	"bootstrap":                 "grow each random_forest tree on a bootstrap sample",
}
