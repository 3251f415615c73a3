package optimization

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
)

// MarshalNullingNaN encodes v as JSON with every NaN or infinite float
// written as null (encoding/json refuses them; a study's values, reports
// and best-so-far curve hold NaN for trials without a value). Structs are
// encoded by their json tags (name, omitempty, "-", embedded structs
// inlined); values that marshal themselves (time.Time, json.RawMessage)
// are kept as they encode.
func MarshalNullingNaN(v any) ([]byte, error) {
	return json.Marshal(nullNaN(reflect.ValueOf(v)))
}

var marshalerType = reflect.TypeFor[json.Marshaler]()

func nullNaN(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	if v.Type().Implements(marshalerType) && (v.Kind() != reflect.Pointer || !v.IsNil()) {
		b, err := v.Interface().(json.Marshaler).MarshalJSON()
		if err != nil {
			return nil
		}
		return json.RawMessage(b)
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return nullNaN(v.Elem())
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return f
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = nullNaN(v.Index(i))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			k, _ := json.Marshal(it.Key().Interface())
			key := strings.Trim(string(k), `"`)
			out[key] = nullNaN(it.Value())
		}
		return out
	case reflect.Struct:
		out := map[string]any{}
		structFields(v, out)
		return out
	}
	return v.Interface()
}

func structFields(v reflect.Value, out map[string]any) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fv := v.Field(i)
		if f.Anonymous && name == "" && fv.Kind() == reflect.Struct {
			structFields(fv, out)
			continue
		}
		if name == "" {
			name = f.Name
		}
		if (strings.Contains(opts, "omitempty") && fv.IsZero()) || (strings.Contains(opts, "omitzero") && fv.IsZero()) {
			continue
		}
		if strings.Contains(opts, "omitempty") && (fv.Kind() == reflect.Slice || fv.Kind() == reflect.Map) && fv.Len() == 0 {
			continue
		}
		out[name] = nullNaN(fv)
	}
}
