package finitejson

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
)

// marshalerType is json.Marshaler's reflect type.
var marshalerType = reflect.TypeFor[json.Marshaler]()

// Marshal encodes v as encoding/json would, except that NaN and ±Inf floats,
// which encoding/json refuses, are written as null. Structs are encoded by
// their json tags (name, "-", omitempty, omitzero; embedded structs inlined);
// values whose type has its own MarshalJSON (time.Time, json.RawMessage) are
// encoded by it.
func Marshal(v any) ([]byte, error) {
	return json.Marshal(finiteValue(reflect.ValueOf(v)))
}

// finiteValue turns v into a tree of maps, slices and scalars with
// non-finite floats replaced by nil, honouring json struct tags (name, "-",
// omitempty) on exported fields.
func finiteValue(v reflect.Value) any {
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
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return f
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return finiteValue(v.Elem())
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Interface()
		}
		fallthrough
	case reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = finiteValue(v.Index(i))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		out := make(map[string]any, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			out[fmt.Sprint(iter.Key().Interface())] = finiteValue(iter.Value())
		}
		return out
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" && opts == "" {
				continue
			}
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				// Embedded struct: its fields are promoted, as encoding/json does.
				if inner, ok := finiteValue(v.Field(i)).(map[string]any); ok {
					for k, x := range inner {
						if _, taken := out[k]; !taken {
							out[k] = x
						}
					}
				}
				continue
			}
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			if omitted(fv, opts) {
				continue
			}
			out[name] = finiteValue(fv)
		}
		return out
	}
	return v.Interface()
}

// omitted reports whether a field with these tag options is left out.
func omitted(v reflect.Value, opts string) bool {
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "omitempty":
			switch v.Kind() {
			case reflect.Slice, reflect.Map, reflect.String, reflect.Array:
				if v.Len() == 0 {
					return true
				}
			default:
				if v.IsZero() {
					return true
				}
			}
		case "omitzero":
			if v.IsZero() {
				return true
			}
		}
	}
	return false
}
