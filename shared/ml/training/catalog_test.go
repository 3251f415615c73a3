package training_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/training"
)

func TestDecodeCatalogConfig(t *testing.T) {
	tests := []struct {
		name, json string
		check      func(t *testing.T, c training.TrainingConfig)
		err        string
	}{
		{name: "absent fields keep their defaults", json: `{}`, check: func(t *testing.T, c training.TrainingConfig) {
			assert.True(t, c.MissingValues.IsZero())
			assert.Empty(t, c.SplitColumn)
			assert.Empty(t, c.SampleWeight)
		}},
		{name: "sentinels for every column, zero included", json: `{"missing_values": [99, -9999, 0]}`,
			check: func(t *testing.T, c training.TrainingConfig) {
				assert.Equal(t, []float64{99, -9999, 0}, c.MissingValues.All)
				assert.Equal(t, []float64{99, -9999, 0}, c.MissingValues.For("mag"))
			}},
		{name: "sentinels per column and for all", json: `{"missing_values": {"mag_g": [99.99], "*": [-99], "flux": 0}}`,
			check: func(t *testing.T, c training.TrainingConfig) {
				assert.Equal(t, []float64{-99, 99.99}, c.MissingValues.For("mag_g"))
				assert.Equal(t, []float64{-99, 0}, c.MissingValues.For("flux"))
				assert.Equal(t, []float64{-99}, c.MissingValues.For("other"))
			}},
		{name: "catalog columns", json: `{"target_column": "class", "id_column": "source_id", "group_column": "obj",
			"split_column": "split", "split_values": {"validation": "val"}, "hdu": "EVENTS", "sample_weight": "inverse_variance",
			"error_columns": {"mag": "sigma_mag"}}`, check: func(t *testing.T, c training.TrainingConfig) {
			assert.Equal(t, []string{"source_id", "obj", "split"}, c.Excluded())
			assert.Equal(t, "val", c.SplitValues.WithDefaults().Validation)
			assert.Equal(t, "test", c.SplitValues.WithDefaults().Test)
			c.DatasetPath = "cat.fits"
			assert.Equal(t, "cat.fits[EVENTS]", c.DataPath())
		}},
		{name: "unknown field", json: `{"split_colum": "split"}`, err: `unknown field "split_colum"`},
		{name: "bad sentinels", json: `{"missing_values": "99"}`, err: "missing_values"},
		{name: "id column is the target", json: `{"target_column": "class", "id_column": "class"}`, err: "id_column"},
		{name: "group and split column alike", json: `{"group_column": "s", "split_column": "s"}`, err: "split_column"},
		{name: "id column among features", json: `{"id_column": "id", "features": ["id", "x"]}`, err: "never a feature"},
		{name: "split column and test file", json: `{"split_column": "s", "test_dataset_path": "t.csv"}`, err: "not both"},
		{name: "split values without a column", json: `{"split_values": {"test": "holdout"}}`, err: "needs split_column"},
		{name: "split values alike", json: `{"split_column": "s", "split_values": {"train": "a", "test": "A"}}`, err: "must differ"},
		{name: "unknown weighting", json: `{"sample_weight": "snr"}`, err: "sample_weight"},
		{name: "hdu with brackets", json: `{"hdu": "[1]"}`, err: "hdu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := training.DecodeConfig(strings.NewReader(tt.json))
			if err == nil {
				c, err = c.Normalize()
			}
			if tt.err != "" {
				require.ErrorIs(t, err, training.ErrInvalidConfig)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			tt.check(t, c)
			again, err := training.DecodeConfig(strings.NewReader(string(c.JSON())))
			require.NoError(t, err)
			assert.Equal(t, c.MissingValues, again.MissingValues, "the JSON round-trips")
		})
	}
}

// catalog is a small table with measurement errors, a sentinel and an
// identifier.
func catalog(t *testing.T) *dataset.Table {
	var b strings.Builder
	b.WriteString("source_id,mag,mag_err,e_color,color,label\n")
	for i := range 200 {
		mag, err := 18+float64(i%40)/10, 0.01+float64(i%5)/100
		if i%17 == 0 {
			mag = 99
		}
		fmt.Fprintf(&b, "%d,%g,%g,0.05,%g,%d\n", 100000+i, mag, err, float64(i%7)/7, i%3/2)
	}
	tab, err := dataset.ReadCSV(context.Background(), strings.NewReader(b.String()), "cat.csv", ',')
	require.NoError(t, err)
	return tab
}

func TestPrepareDataCatalogConventions(t *testing.T) {
	cfg := training.Defaults()
	cfg.TargetColumn, cfg.IDColumn = "label", "source_id"
	cfg.MissingValues = training.MissingValues{Columns: map[string][]float64{"mag": {99}}}
	cfg.SampleWeight = training.SampleWeightInverseVariance
	cfg, err := cfg.Normalize()
	require.NoError(t, err)
	p, err := cfg.PrepareData(catalog(t), nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"mag", "mag_err", "e_color", "color"}, p.Data.FeatureNames, "the identifier is no feature")
	assert.Equal(t, map[string]int{"mag": 12}, p.Marked)
	assert.Equal(t, map[string]string{"mag": "mag_err", "color": "e_color"}, p.ErrorColumns)
	require.Len(t, p.Data.Weights, 200)
	var sum float64
	for _, w := range p.Data.Weights {
		sum += w
	}
	assert.InDelta(t, 1, sum/200, 1e-12, "weights have mean 1")
	// Row 1: mag_err 0.01, e_color 0.05 -> 1/mean(σ²) = 2/(0.0001+0.0025).
	// Row 5: mag_err 0.05 -> 2/(0.0025+0.0025). Their ratio is the ratio
	// of inverse variances.
	assert.InDelta(t, (2/0.0026)/(2/0.005), p.Data.Weights[0]/p.Data.Weights[4], 1e-9)
	assert.Equal(t, "stratified", p.Record.Method)
	assert.Equal(t, p.Split.Train.Rows+p.Split.Validation.Rows+p.Split.Test.Rows, 200)
	assert.Len(t, p.Split.Train.Weights, p.Split.Train.Rows, "subsets keep their weights")

	cfg.ErrorColumns = map[string]string{"absent": "mag_err"}
	_, err = cfg.PrepareData(catalog(t), nil)
	require.ErrorIs(t, err, training.ErrInvalidConfig)
	assert.Contains(t, err.Error(), `"absent" is not a feature`)
}

func TestPrepareDataSeparateTestFile(t *testing.T) {
	cfg := training.Defaults()
	cfg.TargetColumn, cfg.IDColumn, cfg.PositiveClass = "label", "source_id", "1"
	cfg.TestDatasetPath = "test.csv"
	cfg, err := cfg.Normalize()
	require.NoError(t, err)
	test := catalog(t)
	p, err := cfg.PrepareData(catalog(t), test)
	require.NoError(t, err)
	assert.Equal(t, 200, p.Split.Test.Rows, "the test split is the whole test file")
	assert.Equal(t, 200, p.Split.Train.Rows+p.Split.Validation.Rows)
	assert.InDelta(t, 0.15*200, p.Split.Validation.Rows, 2)
	assert.Equal(t, training.SplitTestDataset, p.Record.Method)
	assert.Equal(t, test.Hash, p.Record.TestDataHash)
	assert.Equal(t, p.Data.Classes, p.Split.Test.Classes)
}

func TestIdentifierLikeFeaturesAreLeakageRisks(t *testing.T) {
	var b strings.Builder
	b.WriteString("row,objid,mjd,flux,label\n")
	for i := range 100 {
		fmt.Fprintf(&b, "%d,%d,%g,%g,%d\n", (i*37)%100, 1237645941824356443+int64(i)*1000, 59000+float64(i)/3, float64(i%10)/10, i%2)
	}
	tab, err := dataset.ReadCSV(context.Background(), strings.NewReader(b.String()), "ids.csv", ',')
	require.NoError(t, err)
	d, err := tab.Select(dataset.SelectOptions{Target: "label"})
	require.NoError(t, err)
	r := training.ValidationPipeline{}.Validate(context.Background(), tab, d)
	found := map[string]string{}
	for _, f := range r.Findings {
		if f.Check == training.CheckIDLike {
			assert.Equal(t, training.SeverityWarning, f.Severity)
			found[f.Column] = f.Message
		}
	}
	assert.Contains(t, found["row"], "a distinct integer in each of its 100 rows")
	assert.Contains(t, found["objid"], "beyond the 2^53 a float64 holds exactly")
	assert.Contains(t, found["mjd"], "strictly increasing with the row order")
	assert.NotContains(t, found, "flux")
}

func TestSampleWeightsInTheLoss(t *testing.T) {
	in := training.TrainInput{Config: training.Defaults(), Classes: 2}
	in.Config.Epochs, in.Config.HiddenLayers = 3, []int{4}
	var x []float64
	var y []int
	for i := range 120 {
		x = append(x, math.Sin(float64(i)), float64(i%7)/7)
		y = append(y, i%2)
	}
	in.Train = training.Examples{X: x[:160], Y: y[:80], Rows: 80, Features: 2}
	in.Validation = training.Examples{X: x[160:], Y: y[80:], Rows: 40, Features: 2}
	plain, err := training.ModelTrainer{}.Train(context.Background(), in)
	require.NoError(t, err)
	ones := in
	ones.Train.W = make([]float64, 80)
	for i := range ones.Train.W {
		ones.Train.W[i] = 1
	}
	unit, err := training.ModelTrainer{}.Train(context.Background(), ones)
	require.NoError(t, err)
	assert.Equal(t, plain.Net.Params(), unit.Net.Params(), "weights of 1 train exactly as no weights")
	skewed := ones
	skewed.Train.W = make([]float64, 80)
	for i := range skewed.Train.W {
		skewed.Train.W[i] = 0.2 + float64(i%4)
	}
	weighted, err := training.ModelTrainer{}.Train(context.Background(), skewed)
	require.NoError(t, err)
	assert.NotEqual(t, plain.Net.Params(), weighted.Net.Params(), "unequal weights change the fit")

	bad := ones
	bad.Train.W = append([]float64(nil), ones.Train.W...)
	bad.Train.W[3] = -1
	_, err = training.ModelTrainer{}.Train(context.Background(), bad)
	require.ErrorIs(t, err, training.ErrInvalidExamples)
	assert.Contains(t, err.Error(), "sample weight -1")
}
