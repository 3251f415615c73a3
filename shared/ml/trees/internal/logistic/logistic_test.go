package logistic

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGradientsAreTheGoLoopsBits checks Gradients against One, row by row
// and bit for bit: scores of every magnitude, the special ones among them
// at every position of a group of four, and lengths that leave a tail.
func TestGradientsAreTheGoLoopsBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	special := []float64{0, math.Copysign(0, -1), 700, -700, 700.0000001, -701, 745, -745, 1e-300, -1e-300,
		math.Inf(1), math.Inf(-1), math.NaN(), math.MaxFloat64, -math.MaxFloat64, 36.7, -36.7}
	for _, n := range []int{0, 1, 3, 4, 5, 7, 8, 9, 1000, 100003} {
		score := make([]float64, n)
		y := make([]int, n)
		for i := range score {
			switch rng.IntN(4) {
			case 0:
				score[i] = rng.NormFloat64()
			case 1:
				score[i] = 40 * rng.NormFloat64()
			case 2:
				score[i] = (rng.Float64()*2 - 1) * 700
			default:
				score[i] = math.Ldexp(rng.Float64()-0.5, rng.IntN(40)-30)
			}
			y[i] = rng.IntN(2)
		}
		for i := 0; i < n && n > 50; i += 1 + rng.IntN(50) {
			score[i] = special[rng.IntN(len(special))]
		}
		gh := make([]float64, 2*n)
		Gradients(score, y, gh)
		for r := range score {
			g, h := One(score[r], y[r])
			if math.Float64bits(g) != math.Float64bits(gh[2*r]) || math.Float64bits(h) != math.Float64bits(gh[2*r+1]) {
				t.Fatalf("n %d row %d, score %v label %d: got (%v, %v), want (%v, %v)", n, r, score[r], y[r], gh[2*r], gh[2*r+1], g, h)
			}
		}
	}
}

// TestOneIsTheLogLossGradient checks One's formula at a few points.
func TestOneIsTheLogLossGradient(t *testing.T) {
	g, h := One(0, 1)
	if g != -0.5 || h != 0.25 {
		t.Fatalf("One(0, 1) = %v, %v", g, h)
	}
	g, h = One(math.Log(3), 0) // p = 0.75
	if math.Abs(g-0.75) > 1e-15 || math.Abs(h-0.1875) > 1e-15 {
		t.Fatalf("One(ln 3, 0) = %v, %v", g, h)
	}
	if _, h = One(800, 0); h != 1e-16 {
		t.Fatalf("the hessian's floor: %v", h)
	}
	if g, _ = One(math.NaN(), 0); !math.IsNaN(g) {
		t.Fatalf("NaN score: %v", g)
	}
}

func TestGradientsRefuseMismatchedLengths(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	Gradients(make([]float64, 4), make([]int, 4), make([]float64, 7))
}
