package synthetic_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/synthetic"
)

func generate(t *testing.T, o synthetic.Options) (*dataset.Table, synthetic.Summary) {
	t.Helper()
	var b bytes.Buffer
	w, err := dataset.NewTableWriter(&b, dataset.FormatCSV, synthetic.Columns(), o.Rows)
	require.NoError(t, err)
	sum, err := synthetic.Generate(context.Background(), w, o)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	tab, err := dataset.ReadCSV(context.Background(), &b, "det.csv", ',')
	require.NoError(t, err)
	return tab, sum
}

func TestGenerateClassStructure(t *testing.T) {
	o := synthetic.DefaultOptions()
	o.Rows, o.PositiveFraction, o.LabelNoise, o.MissingRate, o.ChunkRows = 40000, 0.2, 0.1, 0.05, 5000
	tab, sum := generate(t, o)
	assert.Equal(t, int64(40000), sum.Rows)
	assert.Equal(t, 8, sum.Chunks)
	assert.InDelta(t, 40000.0/5, sum.Objects, 400, "five detections per object on average")
	assert.InDelta(t, 0.2, float64(sum.Real)/float64(sum.Rows), 0.03, "the share of real detections follows the objects")
	assert.InDelta(t, 0.1, float64(sum.Flipped)/float64(sum.Rows), 0.01, "label noise")
	assert.InDelta(t, 0.05, float64(sum.Missing)/float64(sum.Rows), 0.01)

	kind, _ := tab.Column(synthetic.KindColumn)
	label, _ := tab.Column(synthetic.Target)
	real := make([]int, tab.Rows)
	flipped := 0
	for i, k := range kind.Str {
		if k == synthetic.KindReal {
			real[i] = 1
		}
		if float64(real[i]) != label.Num[i] {
			flipped++
		}
	}
	assert.Equal(t, int(sum.Flipped), flipped, "kind is the true class, the label the noisy one")
	// These features rank the classes (fwhm does too, but not monotonically:
	// cosmic rays are sharper than real sources, ghosts broader) and none
	// separates them alone (the leakage check of training would refuse it).
	for _, name := range []string{"elongation", "lc_eta", "lc_ls_power", "mag", "neg_pix_frac", "chi_psf"} {
		c, _ := tab.Column(name)
		auc := evaluation.BinaryAUCROC(real, c.Num)
		auc = max(auc, 1-auc)
		assert.Greater(t, auc, 0.55, name)
		assert.Less(t, auc, 0.99, name)
	}
	ref, _ := tab.Column("mag_ref")
	sentinels := 0
	for _, v := range ref.Num {
		if v == synthetic.MissingSentinel {
			sentinels++
		}
	}
	assert.Equal(t, int(sum.Missing), sentinels)
	split, _ := tab.Column(synthetic.SplitColumn)
	obj, _ := tab.Column(synthetic.GroupColumn)
	splitOf := map[float64]string{}
	for i, s := range split.Str {
		if prev, ok := splitOf[obj.Num[i]]; ok {
			require.Equal(t, prev, s, "an object's detections share their split")
		}
		splitOf[obj.Num[i]] = s
	}
}

func TestOptionsCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*synthetic.Options)
	}{
		{"rows", func(o *synthetic.Options) { o.Rows = 0 }},
		{"positive_fraction", func(o *synthetic.Options) { o.PositiveFraction = 1 }},
		{"label_noise", func(o *synthetic.Options) { o.LabelNoise = 0.5 }},
		{"missing_rate", func(o *synthetic.Options) { o.MissingRate = -0.1 }},
		{"detections_per_object", func(o *synthetic.Options) { o.DetectionsPerObject = 0.5 }},
		{"chunk_rows", func(o *synthetic.Options) { o.ChunkRows = 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := synthetic.DefaultOptions()
			tc.edit(&o)
			err := o.Check()
			require.ErrorIs(t, err, synthetic.ErrOptions)
			assert.True(t, strings.Contains(err.Error(), tc.name), err.Error())
		})
	}
	require.NoError(t, synthetic.DefaultOptions().Check())
}
