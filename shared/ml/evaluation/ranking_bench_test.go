package evaluation

import (
	"math"
	"math/rand/v2"
	"testing"
)

// BenchmarkRankBinary ranks 1M tied scores (a 10⁻⁴ grid) and computes AUC,
// AP and the confusion matrix from the one ranking.
func BenchmarkRankBinary(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 1_000_000
	y, s := make([]int, n), make([]float64, n)
	for i := range n {
		z := rng.NormFloat64() - 1.5
		if rng.Float64() < 0.1 {
			y[i] = 1
			z += 2
		}
		s[i] = math.Round(1e4/(1+math.Exp(-z))) / 1e4
	}
	b.ResetTimer()
	for b.Loop() {
		r, err := RankBinary(y, s)
		if err != nil {
			b.Fatal(err)
		}
		_, _, _ = r.AUCROC(), r.AveragePrecision(), r.ConfusionMatrix(0.5)
	}
}
