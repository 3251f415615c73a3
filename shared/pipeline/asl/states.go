package asl

import (
	"context"
	"fmt"
	"math"
	"time"
)

func (r *run) fail(name string, st State, raw any, cobj *env) error {
	e := &Error{Name: st.Error, Cause: st.Cause}
	for _, f := range []struct {
		path string
		dst  *string
	}{{st.ErrorPath, &e.Name}, {st.CausePath, &e.Cause}} {
		if f.path == "" {
			continue
		}
		var v any
		var err error
		if isIntrinsic(f.path) {
			v, err = evalExpression(f.path, raw, cobj)
		} else {
			var ok bool
			v, ok, err = selectPath(f.path, raw, cobj)
			if err == nil && !ok {
				err = fmt.Errorf("path %s selects nothing", f.path)
			}
		}
		if err != nil {
			return Errorf(ErrorRuntime, "Fail state %s: %v", name, err)
		}
		s, ok := v.(string)
		if !ok {
			return Errorf(ErrorRuntime, "Fail state %s: %s is a %s, not a string", name, f.path, typeName(v))
		}
		*f.dst = s
	}
	return e
}

func (r *run) wait(ctx context.Context, name string, st State, input any, cobj *env) error {
	var d time.Duration
	switch {
	case st.Seconds != nil:
		d = time.Duration(*st.Seconds) * time.Second
	case st.SecondsPath != "":
		v, ok, err := selectPath(st.SecondsPath, input, cobj)
		f, isNum := v.(float64)
		if err != nil || !ok || !isNum || f < 0 || f != math.Trunc(f) {
			return Errorf(ErrorRuntime, "Wait state %s: SecondsPath %s must select a non-negative integer", name, st.SecondsPath)
		}
		d = time.Duration(f) * time.Second
	default:
		ts := st.Timestamp
		if st.TimestampPath != "" {
			v, ok, err := selectPath(st.TimestampPath, input, cobj)
			s, isStr := v.(string)
			if err != nil || !ok || !isStr {
				return Errorf(ErrorRuntime, "Wait state %s: TimestampPath %s must select a timestamp string", name, st.TimestampPath)
			}
			ts = s
		}
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return Errorf(ErrorRuntime, "Wait state %s: %q is not an RFC 3339 timestamp", name, ts)
		}
		// AWS: "Step Functions considers the time value up to seconds and
		// truncates milliseconds."
		d = t.Truncate(time.Second).Sub(r.x.now())
	}
	if err := checkWait(name, d); err != nil {
		return err
	}
	return r.x.sleep(ctx, d)
}
