package serving_test

import (
	"errors"
	"testing"

	"github.com/orrery-ml/orrery/shared/serving"
)

// FuzzPredictBody feeds arbitrary bodies to the predict decoder: no panic;
// a refusal is an *InputError or *SchemaError (a 400/413 the client can
// act on); an accepted batch holds between one row and MaxRows.
func FuzzPredictBody(f *testing.F) {
	for _, b := range []string{
		`{"instances": [{"mean_ip": 1, "sd_ip": 2, "kurt_ip": 3, "skew_ip": null}]}`,
		`{"rows": [[1, 2, 3, 4], [null, 1e308, -0, 5e-324]]}`,
		`{"rows": [[1, 2, 3]]}`, `{"instances": [], "rows": []}`, `{"rows": [[1,2,3,4]], "rows": []}`,
		`{"instances": [{"mean_ip": "1"}]}`, `[`, ``, `{"rows": [[1e999, 2, 3, 4]]}`,
	} {
		f.Add([]byte(b))
	}
	const maxRows = 50
	p, err := serving.NewPredictor("mdl-f", testModel(f, "mdl-f", []string{"0", "1"}, 1), serving.Limits{MaxRows: maxRows})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := p.Decode(body)
		if err != nil {
			var in *serving.InputError
			var sch *serving.SchemaError
			if !errors.As(err, &in) && !errors.As(err, &sch) {
				t.Fatalf("refusal is neither an InputError nor a SchemaError: %T %v", err, err)
			}
			return
		}
		if b.Rows < 1 || b.Rows > maxRows {
			t.Fatalf("accepted %d rows", b.Rows)
		}
	})
}
