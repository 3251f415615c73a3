package evaluation

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// referenceTolerance is the agreement required of p-values with scipy and
// statsmodels: 1e-9, tighter than the 1e-6 the comparisons need.
const referenceTolerance = 1e-9

// referenceDoc is the part of testdata/sklearn_vectors.json that the
// vectors_test.go structs do not read: the extended metrics of every case
// and the significance section.
type referenceDoc struct {
	StatsmodelsVersion string `json:"statsmodels_version"`
	Cases              []struct {
		Name      string              `json:"name"`
		Classes   []string            `json:"classes"`
		Positive  int                 `json:"positive"`
		Threshold float64             `json:"threshold"`
		Y         []int               `json:"y"`
		P1        []float64           `json:"p1"`
		Proba     [][]float64         `json:"proba"`
		Expected  map[string]*float64 `json:"-"`
		Raw       json.RawMessage     `json:"expected"`
	} `json:"cases"`
	Significance struct {
		DeLong []struct {
			Name        string    `json:"name"`
			Y           []int     `json:"y"`
			S1          []float64 `json:"s1"`
			S2          []float64 `json:"s2"`
			AUC1        float64   `json:"auc1"`
			AUC2        float64   `json:"auc2"`
			SklearnAUC1 float64   `json:"sklearn_auc1"`
			SklearnAUC2 float64   `json:"sklearn_auc2"`
			Variance    float64   `json:"variance"`
			Z           float64   `json:"z"`
			PValue      float64   `json:"p_value"`
		} `json:"delong"`
		McNemar []struct {
			Table [2][2]int `json:"table"`
			Exact struct {
				Statistic float64 `json:"statistic"`
				PValue    float64 `json:"p_value"`
			} `json:"exact"`
			Chi2 struct {
				Statistic float64 `json:"statistic"`
				PValue    float64 `json:"p_value"`
			} `json:"chi2"`
		} `json:"mcnemar"`
		Calibration []struct {
			Name         string    `json:"name"`
			Y            []int     `json:"y"`
			P            []float64 `json:"p"`
			Bins         int       `json:"n_bins"`
			ProbTrue     []float64 `json:"prob_true"`
			ProbPred     []float64 `json:"prob_pred"`
			IsotonicGrid []float64 `json:"isotonic_grid"`
			Isotonic     []float64 `json:"isotonic"`
			PlattA       float64   `json:"platt_a"`
			PlattB       float64   `json:"platt_b"`
		} `json:"calibration"`
		Splits []struct {
			Kind   string   `json:"kind"`
			N      int      `json:"n"`
			K      int      `json:"k"`
			Groups []string `json:"groups"`
			Train  [][]int  `json:"train"`
			Test   [][]int  `json:"test"`
		} `json:"splits"`
	} `json:"significance"`
}

func loadReference(t *testing.T) referenceDoc {
	t.Helper()
	data, err := os.ReadFile("testdata/sklearn_vectors.json")
	require.NoError(t, err)
	var doc referenceDoc
	require.NoError(t, json.Unmarshal(data, &doc))
	require.NotEmpty(t, doc.StatsmodelsVersion, "vectors regenerated with statsmodels")
	for i := range doc.Cases {
		c := &doc.Cases[i]
		var raw map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(c.Raw, &raw))
		c.Expected = map[string]*float64{}
		for k, v := range raw {
			var f *float64
			if json.Unmarshal(v, &f) == nil {
				c.Expected[k] = f
			}
		}
	}
	require.NotEmpty(t, doc.Significance.DeLong)
	return doc
}

func TestExtendedMetricsMatchSklearn(t *testing.T) {
	doc := loadReference(t)
	binaryOnly := []string{MetricCompleteness, MetricPurity, MetricFPRAt95, MetricFPRAt99, MetricMDRAt1PctFPR}
	multiOnly := []string{MetricROCAUCOvRWeighted, MetricTop2Accuracy}
	always := []string{MetricCohenKappa, MetricGMean,
		MetricPrecisionMicro, MetricRecallMicro, MetricF1Micro,
		MetricPrecisionMacro, MetricRecallMacro, MetricF1Macro,
		MetricPrecisionWeighted, MetricRecallWeighted, MetricF1Weighted}
	checked := 0
	for _, c := range doc.Cases {
		t.Run(c.Name, func(t *testing.T) {
			sc := sklearnCase{Classes: c.Classes, Positive: c.Positive, Threshold: c.Threshold, Y: c.Y, P1: c.P1, Proba: c.Proba}
			m, err := MetricsCalculator{}.Calculate(sc.input())
			require.NoError(t, err)
			names := append([]string{}, always...)
			if len(c.Classes) == 2 {
				names = append(names, binaryOnly...)
			} else {
				names = append(names, multiOnly...)
			}
			for _, name := range names {
				want, ok := c.Expected[name]
				if !ok && name == MetricTop2Accuracy {
					// scikit-learn refuses top_k_accuracy_score when y holds
					// two labels of a 3-class problem; ours is defined.
					assert.False(t, math.IsNaN(m.CustomMetrics[name]))
					continue
				}
				require.Truef(t, ok, "vector has %s", name)
				got, present := m.CustomMetrics[name]
				require.Truef(t, present, "Calculate writes %s", name)
				assertClose(t, want, got, name)
				checked++
			}
		})
	}
	assert.Greater(t, checked, 500)
}

func TestDeLongMatchesReference(t *testing.T) {
	doc := loadReference(t)
	for _, c := range doc.Significance.DeLong {
		t.Run(c.Name, func(t *testing.T) {
			r, err := DeLong(c.Y, c.S1, c.S2)
			require.NoError(t, err)
			assert.InDelta(t, c.SklearnAUC1, r.AUC1, 1e-12, "AUC 1 = roc_auc_score")
			assert.InDelta(t, c.SklearnAUC2, r.AUC2, 1e-12, "AUC 2 = roc_auc_score")
			assert.InDelta(t, c.AUC1, r.AUC1, 1e-12, "AUC 1 = the paper's mean of ψ")
			assert.InDelta(t, c.AUC2, r.AUC2, 1e-12)
			assert.InDelta(t, c.Variance, r.Variance, 1e-12)
			assert.InDelta(t, c.Z, r.Z, 1e-9*math.Max(1, math.Abs(c.Z)))
			assert.InDelta(t, c.PValue, r.PValue, referenceTolerance)
		})
	}
}

func TestDeLongRejects(t *testing.T) {
	tests := []struct {
		name   string
		y      []int
		s1, s2 []float64
		want   error
	}{
		{"lengths", []int{0, 1}, []float64{0.1}, []float64{0.1, 0.2}, ErrPaired},
		{"empty", nil, nil, nil, ErrPaired},
		{"label 2", []int{0, 1, 2, 1}, []float64{1, 2, 3, 4}, []float64{1, 2, 3, 4}, ErrPaired},
		{"one positive", []int{0, 0, 1}, []float64{1, 2, 3}, []float64{1, 2, 3}, ErrClasses},
		{"NaN", []int{0, 0, 1, 1}, []float64{1, math.NaN(), 3, 4}, []float64{1, 2, 3, 4}, ErrNotFinite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DeLong(tt.y, tt.s1, tt.s2)
			require.ErrorIs(t, err, tt.want)
		})
	}
	t.Run("identical scores tie with p = 1", func(t *testing.T) {
		s := []float64{0.1, 0.4, 0.35, 0.8, 0.2, 0.9}
		r, err := DeLong([]int{0, 0, 1, 1, 0, 1}, s, s)
		require.NoError(t, err)
		assert.Equal(t, 1.0, r.PValue)
	})
}

func TestMcNemarMatchesStatsmodels(t *testing.T) {
	doc := loadReference(t)
	for _, c := range doc.Significance.McNemar {
		exact := McNemarTable(c.Table, true)
		assert.InDelta(t, c.Exact.Statistic, exact.Statistic, 1e-12, "%v exact statistic", c.Table)
		assert.InDelta(t, c.Exact.PValue, exact.PValue, referenceTolerance, "%v exact p", c.Table)
		chi := McNemarTable(c.Table, false)
		assert.InDelta(t, c.Chi2.Statistic, chi.Statistic, 1e-12, "%v chi2 statistic", c.Table)
		assert.InDelta(t, c.Chi2.PValue, chi.PValue, referenceTolerance, "%v chi2 p", c.Table)

		// McNemar on rows picks the exact test below 25 discordant rows.
		var a, b []bool
		for i, row := range c.Table {
			for j, count := range row {
				for range count {
					a, b = append(a, i == 0), append(b, j == 0)
				}
			}
		}
		r, err := McNemar(a, b)
		require.NoError(t, err)
		assert.Equal(t, c.Table, r.Table)
		disc := c.Table[0][1] + c.Table[1][0]
		assert.Equal(t, disc < McNemarExactBelow, r.Exact)
	}
	_, err := McNemar([]bool{true}, nil)
	require.ErrorIs(t, err, ErrPaired)
}

func TestCalibrationMatchesSklearn(t *testing.T) {
	doc := loadReference(t)
	for _, c := range doc.Significance.Calibration {
		t.Run(c.Name, func(t *testing.T) {
			cal, err := PerformanceAnalyzer{CalibrationBins: c.Bins}.Calibration(c.Y, c.P)
			require.NoError(t, err)
			require.Len(t, cal.Bins, len(c.ProbTrue), "non-empty bins")
			var ece float64
			for i, b := range cal.Bins {
				assert.InDelta(t, c.ProbTrue[i], b.FractionPositive, 1e-12, "prob_true bin %d", i)
				assert.InDelta(t, c.ProbPred[i], b.MeanPredicted, 1e-12, "prob_pred bin %d", i)
				ece += float64(b.Count) / float64(len(c.Y)) * math.Abs(c.ProbTrue[i]-c.ProbPred[i])
			}
			assert.InDelta(t, ece, cal.ECE, 1e-12)

			iso := FitIsotonic(c.Y, c.P)
			for i, x := range c.IsotonicGrid {
				assert.InDelta(t, c.Isotonic[i], iso.Calibrate(x), sklearnTolerance, "isotonic at %v", x)
			}
			// scikit-learn's Platt fit stops its L-BFGS at a gradient of
			// 1e-6; Newton's optimum agrees with it on the probabilities to
			// well within that.
			platt := FitPlatt(c.Y, c.P)
			ref := Platt{A: c.PlattA, B: c.PlattB}
			for _, x := range c.IsotonicGrid {
				assert.InDelta(t, ref.Calibrate(x), platt.Calibrate(x), 1e-5, "platt at %v", x)
			}
		})
	}
}

func TestSplittersMatchSklearn(t *testing.T) {
	doc := loadReference(t)
	for _, c := range doc.Significance.Splits {
		t.Run(c.Kind, func(t *testing.T) {
			y := make([]int, c.N)
			var s Splitter
			switch c.Kind {
			case "k_fold":
				s = KFold{K: c.K}
			case "time_series":
				s = TimeSeriesSplit{K: c.K}
			case "group_k_fold":
				s = GroupKFold{K: c.K}
			default:
				t.Fatalf("unknown splitter %s", c.Kind)
			}
			folds, err := s.Split(y, c.Groups)
			require.NoError(t, err)
			require.Len(t, folds, len(c.Test))
			for f, fold := range folds {
				assert.Equal(t, c.Test[f], fold.Test, "%s fold %d test", s.Name(), f)
				if c.Train != nil {
					assert.Equal(t, c.Train[f], fold.Train, "%s fold %d train", s.Name(), f)
				}
			}
		})
	}
}
