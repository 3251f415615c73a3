package evaluation

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBestF1Threshold(t *testing.T) {
	tests := []struct {
		name    string
		y       []int
		score   []float64
		wantThr float64
		wantF1  float64
	}{
		// Predicting positive at >= 0.6 gives TP 2, FP 0, FN 0.
		{"separable", []int{0, 0, 1, 1}, []float64{0.1, 0.4, 0.6, 0.9}, 0.6, 1},
		// t=0.8: TP1 FP0 FN1 -> 2/3; t=0.5: TP1 FP1 FN1 -> 1/2;
		// t=0.3: TP2 FP1 FN0 -> 4/5; t=0.2: TP2 FP2 -> 2/3.
		{"best in the middle", []int{1, 0, 1, 0}, []float64{0.8, 0.5, 0.3, 0.2}, 0.3, 0.8},
		// t=0.9: TP1 FP0 FN1 -> 2/3; t=0.1: TP2 FP2 FN0 -> 2/3: tie, the
		// highest threshold wins.
		{"tie goes to the highest threshold", []int{1, 0, 0, 1}, []float64{0.9, 0.1, 0.1, 0.1}, 0.9, 2.0 / 3},
		{"no positive gives the highest score", []int{0, 0, 0}, []float64{0.2, 0.7, 0.5}, 0.7, 0},
		{"constant scores", []int{0, 1, 1}, []float64{0.5, 0.5, 0.5}, 0.5, 0.8},
		{"empty", nil, nil, math.NaN(), math.NaN()},
		{"length mismatch", []int{0, 1}, []float64{0.5}, math.NaN(), math.NaN()},
		{"NaN score", []int{0, 1}, []float64{0.5, math.NaN()}, math.NaN(), math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			thr, f1 := BestF1Threshold(tt.y, tt.score)
			assertSameFloat(t, tt.wantThr, thr)
			assertSameFloat(t, tt.wantF1, f1)
		})
	}
}

func TestYoudenThreshold(t *testing.T) {
	tests := []struct {
		name  string
		y     []int
		score []float64
		want  float64
	}{
		{"separable", []int{0, 0, 1, 1}, []float64{0.1, 0.4, 0.6, 0.9}, 0.6},
		// t=0.8: J=1/2; t=0.5: 1/2-1/2=0; t=0.3: 1-1/2=1/2; t=0.2: 0.
		// Tie between 0.8 and 0.3: the highest wins.
		{"tie goes to the highest threshold", []int{1, 0, 1, 0}, []float64{0.8, 0.5, 0.3, 0.2}, 0.8},
		{"inverted scores fall back to the lowest", []int{1, 1, 0, 0}, []float64{0.1, 0.2, 0.8, 0.9}, 0.1},
		{"single class", []int{1, 1}, []float64{0.1, 0.2}, math.NaN()},
		{"empty", nil, nil, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertSameFloat(t, tt.want, YoudenThreshold(tt.y, tt.score))
		})
	}
}

func TestRankingOnInvalidInput(t *testing.T) {
	tests := []struct {
		name  string
		y     []int
		score []float64
	}{
		{"empty", nil, nil},
		{"length mismatch", []int{0, 1, 1}, []float64{0.2, 0.4}},
		{"NaN score", []int{0, 1}, []float64{math.NaN(), 0.4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.True(t, math.IsNaN(BinaryAUCROC(tt.y, tt.score)))
			assert.True(t, math.IsNaN(AveragePrecision(tt.y, tt.score)))
		})
	}
}

// assertSameFloat asserts equality, NaN matching NaN.
func assertSameFloat(t *testing.T, want, got float64) {
	t.Helper()
	if math.IsNaN(want) {
		assert.Truef(t, math.IsNaN(got), "want NaN, got %v", got)
		return
	}
	assert.InDelta(t, want, got, 1e-12)
}
