package logistic

import (
	"fmt"
	"math"
)

// Gradients sets gh[2r] and gh[2r+1] to the gradient and hessian of row r
// (see the package comment) for every r of score, y its labels.
func Gradients(score []float64, y []int, gh []float64) {
	n := len(score)
	if len(y) != n || len(gh) != 2*n {
		panic(fmt.Sprintf("logistic: %d scores, %d labels, %d gradient values", n, len(y), len(gh)))
	}
	r := 0
	for useKernel && n-r >= 4 {
		r += gradients4(n-r, &score[r], &y[r], &gh[2*r])
		if n-r < 4 {
			break
		}
		// A group the kernel left: math.Exp's special cases.
		for end := r + 4; r < end; r++ {
			gh[2*r], gh[2*r+1] = One(score[r], y[r])
		}
	}
	for ; r < n; r++ {
		gh[2*r], gh[2*r+1] = One(score[r], y[r])
	}
}

// One is one row's gradient and hessian.
func One(s float64, y int) (g, h float64) {
	p := 1 / (1 + math.Exp(-s))
	g, h = p, p*(1-p)
	if y == 1 {
		g = p - 1
	}
	if h < 1e-16 { // math.Max(h, 1e-16), NaN kept, without its calls
		h = 1e-16
	}
	return g, h
}
