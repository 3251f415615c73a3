package testproblems

import "math"

// Problem is a box-constrained function to minimise.
type Problem struct {
	Name string
	// Low and High bound each coordinate.
	Low, High []float64
	// Min is the known global minimum value.
	Min float64
	F   func(x []float64) float64
}

// Dim is the number of coordinates.
func (p Problem) Dim() int { return len(p.Low) }

// Branin is the Branin–Hoo function on [-5, 10] × [0, 15] (min 0.397887).
func Branin() Problem {
	return Problem{Name: "branin", Low: []float64{-5, 0}, High: []float64{10, 15}, Min: 0.39788735772973816,
		F: func(x []float64) float64 {
			a, b, c := 1.0, 5.1/(4*math.Pi*math.Pi), 5/math.Pi
			r, s, t := 6.0, 10.0, 1/(8*math.Pi)
			u := x[1] - b*x[0]*x[0] + c*x[0] - r
			return a*u*u + s*(1-t)*math.Cos(x[0]) + s
		}}
}

// Hartmann6 is the 6-dimensional Hartmann function on [0, 1]^6 (min −3.32237).
func Hartmann6() Problem {
	alpha := []float64{1.0, 1.2, 3.0, 3.2}
	A := [4][6]float64{
		{10, 3, 17, 3.5, 1.7, 8},
		{0.05, 10, 17, 0.1, 8, 14},
		{3, 3.5, 1.7, 10, 17, 8},
		{17, 8, 0.05, 10, 0.1, 14},
	}
	P := [4][6]float64{
		{1312, 1696, 5569, 124, 8283, 5886},
		{2329, 4135, 8307, 3736, 1004, 9991},
		{2348, 1451, 3522, 2883, 3047, 6650},
		{4047, 8828, 8732, 5743, 1091, 381},
	}
	lo, hi := make([]float64, 6), make([]float64, 6)
	for i := range hi {
		hi[i] = 1
	}
	return Problem{Name: "hartmann6", Low: lo, High: hi, Min: -3.322368011391339,
		F: func(x []float64) float64 {
			var s float64
			for i := range 4 {
				var e float64
				for j := range 6 {
					d := x[j] - P[i][j]*1e-4
					e += A[i][j] * d * d
				}
				s -= alpha[i] * math.Exp(-e)
			}
			return s
		}}
}

// Rosenbrock4 is the 4-dimensional Rosenbrock function on [-5, 10]^4 (min 0).
func Rosenbrock4() Problem {
	lo, hi := make([]float64, 4), make([]float64, 4)
	for i := range lo {
		lo[i], hi[i] = -5, 10
	}
	return Problem{Name: "rosenbrock4", Low: lo, High: hi, Min: 0,
		F: func(x []float64) float64 {
			var s float64
			for i := 0; i+1 < len(x); i++ {
				a, b := x[i+1]-x[i]*x[i], 1-x[i]
				s += 100*a*a + b*b
			}
			return s
		}}
}

// Ackley5 is the 5-dimensional Ackley function on [-32.768, 32.768]^5 (min 0).
func Ackley5() Problem {
	lo, hi := make([]float64, 5), make([]float64, 5)
	for i := range lo {
		lo[i], hi[i] = -32.768, 32.768
	}
	return Problem{Name: "ackley5", Low: lo, High: hi, Min: 0,
		F: func(x []float64) float64 {
			var s1, s2 float64
			for _, v := range x {
				s1 += v * v
				s2 += math.Cos(2 * math.Pi * v)
			}
			n := float64(len(x))
			return -20*math.Exp(-0.2*math.Sqrt(s1/n)) - math.Exp(s2/n) + 20 + math.E
		}}
}

// All returns the four benchmark problems.
func All() []Problem { return []Problem{Branin(), Hartmann6(), Rosenbrock4(), Ackley5()} }
