package api

import (
	"encoding/json"
	"path"
	"reflect"
	"sync"
	"time"

	"github.com/orrery-ml/orrery/shared/ml/deployment"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/serving"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// Schema is a JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1) as a
// JSON object.
type Schema = map[string]any

var (
	timeType       = reflect.TypeFor[time.Time]()
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	marshalerType  = reflect.TypeFor[json.Marshaler]()
)

// fieldHints add constraints and descriptions to generated schemas, keyed by
// "TypeName.json_name". They restate what the Go checks enforce
// (TrainingConfig.Normalize and the request normalisers); the tests check
// each bound and enum against those checks, so the document cannot drift
// from the code.
// The table is built on first use, not at INIT.
var fieldHints = sync.OnceValue(func() map[string]Schema {
	return map[string]Schema{
		"TrainingConfig.model_type":         {"enum": []string{"mlp", "logistic_regression"}},
		"TrainingConfig.dataset_path":       {"description": "A CSV, TSV or Parquet file: a path under the server's data roots (relative paths are looked up in each root), or s3://bucket/key on AWS.", "minLength": 1},
		"TrainingConfig.target_column":      {"description": "The label column.", "minLength": 1},
		"TrainingConfig.positive_class":     {"description": "The positive class as written in the data; for a multi-class target it trains one-vs-rest, left out it trains a softmax classifier over all classes."},
		"TrainingConfig.features":           {"description": "Feature columns (default: every numeric column but the target)."},
		"TrainingConfig.validation_split":   {"exclusiveMinimum": 0, "exclusiveMaximum": 1, "description": "Fraction of rows for validation; validation_split + test_split < 0.9."},
		"TrainingConfig.test_split":         {"exclusiveMinimum": 0, "exclusiveMaximum": 1},
		"TrainingConfig.batch_size":         {"minimum": 1, "maximum": 1 << 20},
		"TrainingConfig.epochs":             {"minimum": 1, "maximum": 100000},
		"TrainingConfig.learning_rate":      {"exclusiveMinimum": 0, "maximum": 10},
		"TrainingConfig.optimizer":          {"enum": []string{"sgd", "momentum", "adam", "adamw", "rmsprop"}},
		"TrainingConfig.momentum":           {"minimum": 0, "exclusiveMaximum": 1},
		"TrainingConfig.loss_function":      {"enum": []string{"", "binary_cross_entropy", "cross_entropy"}, "description": "Empty picks by the number of classes."},
		"TrainingConfig.hidden_layers":      {"minItems": 1, "maxItems": 16, "items": Schema{"type": "integer", "minimum": 1, "maximum": 8192}, "description": "Units per hidden layer of an MLP; left out for logistic_regression (which takes none; an empty list is refused for every other model type)."},
		"TrainingConfig.activation":         {"enum": []string{"relu", "tanh", "gelu", "sigmoid"}},
		"TrainingConfig.dropout_rate":       {"minimum": 0, "exclusiveMaximum": 1},
		"TrainingConfig.regularization":     {"minimum": 0, "maximum": 1, "description": "L2 penalty (for adamw: the decoupled weight decay)."},
		"TrainingConfig.decision_threshold": {"description": "f1 (F1-optimal on the validation split), youden, or a number in (0, 1) written as a string.", "examples": []string{"f1", "youden", "0.4"}},
		"TrainingConfig.name":               {"maxLength": training.MaxNameLength, "pattern": training.NamePattern(), "description": "At most 200 characters, no control, format (bidi, zero-width) or line-separator characters."},
		"TrainingConfig.leakage":            {"enum": []string{"error", "warning"}, "description": "Severity of the target-leakage check."},
		"TrainingConfig.precision":          {"enum": []string{"float32", "float64"}, "description": "Arithmetic of the pure-Go engine's training steps (float32: packed GEMM across the cores)."},
		"Schedule.kind":                     {"enum": []string{"constant", "step", "exponential", "cosine"}},
		"Schedule.warmup_epochs":            {"minimum": 0},
		"Schedule.step_size":                {"minimum": 1},
		"Schedule.gamma":                    {"exclusiveMinimum": 0, "maximum": 1},
		"Schedule.min_lr":                   {"minimum": 0},
		"EarlyStopping.metric":              {"enum": []string{"val_loss", "val_auc_pr", "val_auc_roc"}},
		"EarlyStopping.patience":            {"minimum": 1},
		"EarlyStopping.min_delta":           {"minimum": 0},

		"OptimizationRequest.strategy":           {"enum": Strategies},
		"OptimizationRequest.name":               {"maxLength": maxStudyName, "pattern": training.NamePattern(), "description": "At most 200 characters, no control, format (bidi) or line-separator characters."},
		"OptimizationRequest.objectives":         {"items": Schema{"type": "string", "enum": validMetrics}},
		"OptimizationRequest.directions":         {"items": Schema{"type": "string", "enum": []string{"maximize", "minimize"}}},
		"OptimizationRequest.pruner":             {"enum": []string{"none", "median", "percentile", "asha", "hyperband", "patience"}},
		"OptimizationRequest.search_space":       {"minItems": 1, "maxItems": 16},
		"SearchDimension.name":                   {"enum": sortedTunable()},
		"SearchDimension.kind":                   {"enum": []string{"float", "int", "categorical"}},
		"SearchDimension.choices":                {"minItems": 1, "maxItems": 64, "items": Schema{"not": Schema{"type": "null"}}},
		"OptimizationBudget.max_trials":          {"minimum": 1, "maximum": 1000},
		"OptimizationBudget.max_parallel":        {"minimum": 1, "maximum": 64},
		"OptimizationBudget.timeout_seconds":     {"minimum": 0, "maximum": 604800},
		"EvaluationRequest.model_id":             {"pattern": idPatternExpr},
		"EvaluationRequest.compare_to":           {"maxItems": 10, "items": Schema{"type": "string", "pattern": idPatternExpr}},
		"EvaluationRequest.decision_threshold":   {"description": "model (the threshold stored with the model; the default), f1 or youden (the metrics at the model's threshold, and a new model version saved with the F1-optimal or Youden threshold), or a number in (0, 1) written as a string: the binary decision threshold to compute the metrics, confidence intervals and slices at, for binary models only; the model is unchanged. The evaluation records it as decision_threshold with threshold_source.", "examples": []string{"model", "f1", "0.3"}},
		"CrossValidation.folds":                  {"minimum": 2, "maximum": 20},
		"Bootstrap.iterations":                   {"minimum": 100, "maximum": 100000},
		"Bootstrap.confidence":                   {"exclusiveMinimum": 0, "exclusiveMaximum": 1},
		"DeploymentRequest.model_id":             {"pattern": idPatternExpr},
		"DeploymentRequest.endpoint":             {"pattern": idPatternExpr, "description": "The endpoint (default: the model's name, made an id)."},
		"DeploymentRequest.environment":          {"enum": deployment.Environments},
		"DeploymentRequest.strategy":             {"enum": []string{"all_at_once", "canary", "linear"}},
		"DeploymentRequest.canary_percent":       {"minimum": 1, "maximum": 50},
		"DeploymentRequest.linear_step_percent":  {"minimum": 1, "maximum": 50},
		"DeploymentRequest.interval_seconds":     {"minimum": 1, "maximum": 3600},
		"DeploymentRequest.bake_seconds":         {"minimum": 0, "maximum": 86400},
		"AlarmSettings.error_rate":               {"minimum": 0, "maximum": 1},
		"AlarmSettings.p99_latency_ms":           {"exclusiveMinimum": 0},
		"AlarmSettings.schema_violation_rate":    {"minimum": 0, "maximum": 1},
		"AlarmSettings.score_psi":                {"exclusiveMinimum": 0, "description": "The highest population stability index of the new version's scores (20 bins on [0, 1]) against the live version's on the same window; it fires only beyond its chance level as well."},
		"AlarmSettings.positive_rate_confidence": {"exclusiveMinimum": 0, "exclusiveMaximum": 1, "description": "Confidence of the Wilson intervals compared: the window's predicted positive rate against the validation split's."},
		"AlarmSettings.min_requests":             {"minimum": 1, "maximum": 1000000},
		"AlarmSettings.window_seconds":           {"minimum": 10, "maximum": 3600},
		"AlarmSettings.cloudwatch":               {"maxItems": 10, "items": Schema{"type": "string", "minLength": 1, "maxLength": 255}},
		"GateSettings.alpha":                     {"exclusiveMinimum": 0, "maximum": 0.5},
		"GateSettings.min_auc_roc":               {"minimum": 0, "maximum": 1, "description": "Floor on the model's test-split ROC AUC (default 0.5; null: none)."},
		"GateSettings.min_auc_pr":                {"minimum": 0, "maximum": 1},
		"GateSettings.min_f1_score":              {"minimum": 0, "maximum": 1},
		"GateSettings.max_latency_ms":            {"exclusiveMinimum": 0},
		"CancelRequest.reason":                   {"maxLength": 500},
		"RetrainingPolicyRequest.config":         {"type": "object", "description": "A TrainingConfig; its dataset_path may be left out (the uploads stand in for it)."},

		"PredictRequest.instances": {"minItems": 1, "maxItems": serving.DefaultMaxRows, "description": "Give instances or rows, not both: objects of feature: value holding every feature of the model (null: a missing measurement)."},
		"PredictRequest.rows":      {"minItems": 1, "maxItems": serving.DefaultMaxRows, "description": "Arrays of the model's features in its order (null: a missing measurement)."},
	}
})

// typeRules add constraints across a type's fields, keyed by type name:
// what SearchDimension.check enforces between kind and the other fields.
// (The rules between model_type and the tree settings, and between
// search_space and hyperparameter_space, are left to the checks and their
// 400s: stated as if/then or not keywords they slowed Schemathesis's
// generation from seconds to over ten minutes.)
// Built on first use.
var typeRules = sync.OnceValue(func() map[string]Schema {
	return map[string]Schema{
		"SearchDimension": {"allOf": []Schema{
			{"if": Schema{"properties": Schema{"kind": Schema{"enum": []string{"float", "int"}}}, "required": []string{"kind"}},
				"then": Schema{"required": []string{"low", "high"}, "not": Schema{"required": []string{"choices"}}}},
			{"if": Schema{"properties": Schema{"kind": Schema{"const": "categorical"}}, "required": []string{"kind"}},
				"then": Schema{"required": []string{"choices"}, "properties": Schema{"low": false, "high": false, "log": Schema{"const": false}}}},
		}},
	}
})

// documentedAs gives the type a raw JSON field holds, for the document:
// "TypeName.json_name" -> the Go type whose schema describes it.
var documentedAs = map[string]reflect.Type{
	"JobStatus.progress": reflect.TypeFor[tracking.Event](),
}

// requiredInRequests lists the fields a request must carry although their
// Go field is omitempty (the zero value means "use the default" elsewhere).
var requiredInRequests = map[string][]string{
	"TrainingConfig": {"dataset_path", "target_column"},
}

// typeDefaults gives the default of each field of a request type, shown in
// the document: the value the service fills in when the field is left out.
// Built on first use.
var typeDefaults = sync.OnceValue(func() map[reflect.Type]any {
	return map[reflect.Type]any{
		reflect.TypeFor[training.TrainingConfig]():  training.Defaults(),
		reflect.TypeFor[DeploymentRequest]():        DeploymentRequest{Request: deployment.Defaults()},
		reflect.TypeFor[deployment.AlarmSettings](): deployment.Defaults().Alarms,
		reflect.TypeFor[deployment.GateSettings]():  deployment.Defaults().Gates,
	}
})

// schemas builds JSON Schemas for Go types, placing named struct types in
// components and referring to them with $ref.
type schemas struct {
	components Schema
	names      map[reflect.Type]string
}

func newSchemas() *schemas {
	return &schemas{components: Schema{}, names: map[reflect.Type]string{}}
}

// of returns the schema of t.
func (s *schemas) of(t reflect.Type) Schema { return s.build(t, false) }

// build returns the schema of t; nullableFloats makes floating-point values
// nullable (types whose MarshalJSON writes NaN as null).
func (s *schemas) build(t reflect.Type, nullableFloats bool) Schema {
	switch {
	case t == rawMessageType || t.Kind() == reflect.Interface:
		return Schema{}
	case t == timeType:
		return Schema{"type": "string", "format": "date-time"}
	case t == reflect.TypeFor[store.Status]():
		return Schema{"type": "string", "enum": []store.Status{store.Queued, store.Running, store.Succeeded, store.Failed, store.Cancelled}}
	case t == reflect.TypeFor[training.MaxFeatures]():
		// MaxFeatures.check: a rule, or a count of at least 1, or a fraction in (0, 1).
		return Schema{
			"description": `Random forest: features tried per split — "sqrt", "log2", "all", a count ≥ 1, or a fraction in (0, 1).`,
			"oneOf": []Schema{
				{"type": "string", "enum": []string{"sqrt", "log2", "all"}},
				{"type": "integer", "minimum": 1},
				{"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
			},
		}
	case t == reflect.TypeFor[training.ClassWeights]():
		return Schema{
			"description": `"balanced" (n / (k·n_c) on the training split), "none", or a weight per class label.`,
			"oneOf": []Schema{
				{"type": "string", "enum": []string{"balanced", "none"}},
				{"type": "object", "additionalProperties": Schema{"type": "number", "exclusiveMinimum": 0}},
			},
		}
	case t == reflect.TypeFor[training.MissingValues]():
		return Schema{
			"description": `Catalog sentinels that are missing values: [v, ...] for every numeric column, or {"column": [v, ...], "*": [v, ...]}.`,
			"oneOf": []Schema{
				{"type": "array", "items": Schema{"type": "number"}},
				{"type": "object", "additionalProperties": Schema{"oneOf": []Schema{
					{"type": "array", "items": Schema{"type": "number"}}, {"type": "number"}}}},
			},
		}
	}
	switch t.Kind() {
	case reflect.Pointer:
		inner := s.build(t.Elem(), nullableFloats)
		if ref, ok := inner["$ref"]; ok {
			return Schema{"oneOf": []Schema{{"$ref": ref}, {"type": "null"}}}
		}
		return withNull(inner)
	case reflect.Struct:
		return s.structRef(t)
	case reflect.Map:
		return Schema{"type": "object", "additionalProperties": s.build(t.Elem(), nullableFloats)}
	case reflect.Slice:
		return Schema{"type": "array", "items": s.build(t.Elem(), nullableFloats)}
	case reflect.Array:
		return Schema{"type": "array", "items": s.build(t.Elem(), nullableFloats), "minItems": t.Len(), "maxItems": t.Len()}
	case reflect.String:
		return Schema{"type": "string"}
	case reflect.Bool:
		return Schema{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return Schema{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		if nullableFloats {
			return Schema{"type": []string{"number", "null"}}
		}
		return Schema{"type": "number"}
	}
	return Schema{}
}

// withNull widens a schema to accept null too.
func withNull(sch Schema) Schema {
	out := Schema{}
	for k, v := range sch {
		out[k] = v
	}
	switch typ := sch["type"].(type) {
	case string:
		out["type"] = []string{typ, "null"}
	case []string:
		out["type"] = append(append([]string(nil), typ...), "null")
	default:
		return Schema{"oneOf": []Schema{sch, {"type": "null"}}}
	}
	return out
}

// structRef puts the schema of struct type t in components (once) and
// returns a reference to it; an unnamed struct type is inlined.
func (s *schemas) structRef(t reflect.Type) Schema {
	if t.Name() == "" {
		return s.structSchema(t)
	}
	name, ok := s.names[t]
	if !ok {
		name = t.Name()
		for _, taken := range s.names {
			if taken == name {
				name = path.Base(t.PkgPath()) + "." + t.Name()
				break
			}
		}
		s.names[t] = name
		s.components[name] = Schema{} // placeholder: recursive types terminate
		s.components[name] = s.structSchema(t)
	}
	return Schema{"$ref": "#/components/schemas/" + name}
}

// structSchema is the object schema of struct type t, as encoding/json
// writes it: fields without omitempty are required, unknown properties are
// not allowed.
func (s *schemas) structSchema(t reflect.Type) Schema {
	nullable := t.Implements(marshalerType)
	props := Schema{}
	var required []string
	var defaults reflect.Value
	if d, ok := typeDefaults()[t]; ok {
		defaults = reflect.ValueOf(d)
	}
	for _, f := range orderedFields(t) {
		typ := f.typ
		if as, ok := documentedAs[t.Name()+"."+f.name]; ok {
			typ = as
		}
		fs := s.build(typ, nullable)
		if hint, ok := fieldHints()[t.Name()+"."+f.name]; ok {
			fs = merge(fs, hint)
		}
		if defaults.IsValid() {
			if v := defaults.FieldByIndex(f.index); !v.IsZero() {
				fs = merge(fs, Schema{"default": v.Interface()})
			}
		}
		props[f.name] = fs
		if !f.omitempty {
			required = append(required, f.name)
		}
	}
	required = append(required, requiredInRequests[t.Name()]...)
	out := Schema{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		out["required"] = required
	}
	for k, v := range typeRules()[t.Name()] {
		out[k] = v
	}
	return out
}

// merge returns base with the keys of extra added (extra wins); a $ref base
// is wrapped so that siblings stay meaningful.
func merge(base, extra Schema) Schema {
	out := Schema{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		if k == "items" {
			if items, ok := out["items"].(Schema); ok {
				out[k] = merge(items, v.(Schema))
				continue
			}
		}
		out[k] = v
	}
	return out
}
