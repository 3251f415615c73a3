package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// objective is the quantity Backward differentiates: the mean loss plus
// (l2/2)·ΣW², with dropout masks drawn from a fresh rng of a fixed seed so
// that every evaluation sees the same masks.
func objective(t *testing.T, ws *Workspace, net *Network, loss Loss, x []float64, y []int, cw []float64, l2, dropout float64) float64 {
	t.Helper()
	_, err := ws.Forward(x, len(y), dropout, rand.New(rand.NewPCG(9, 9)))
	require.NoError(t, err)
	v, err := ws.Loss(loss, y, cw)
	require.NoError(t, err)
	for _, l := range net.Layers {
		for _, w := range l.W {
			v += l2 / 2 * w * w
		}
	}
	return v
}

// TestGradientsMatchFiniteDifferences checks Backward against central finite
// differences for every activation × loss × L2 × dropout combination, and
// for logistic regression.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	type tc struct {
		name    string
		spec    Spec
		loss    Loss
		cw      []float64
		l2      float64
		dropout float64
	}
	var cases []tc
	for _, act := range []string{ActivationReLU, ActivationTanh, ActivationGELU, ActivationSigmoid} {
		for _, loss := range []Loss{BinaryCrossEntropy, CrossEntropy} {
			for _, l2 := range []float64{0, 0.3} {
				for _, dropout := range []float64{0, 0.4} {
					out, cw := 1, []float64{0.7, 2.5}
					if loss == CrossEntropy {
						out, cw = 3, []float64{0.5, 1.5, 2}
					}
					cases = append(cases, tc{
						name: fmt.Sprintf("%s/%s/l2=%v/dropout=%v", act, loss, l2, dropout),
						spec: Spec{ModelType: ModelMLP, Inputs: 4, Hidden: []int{5, 3}, Outputs: out, Activation: act, Dropout: dropout},
						loss: loss, cw: cw, l2: l2, dropout: dropout,
					})
				}
			}
		}
	}
	cases = append(cases,
		tc{name: "logistic_regression/bce", spec: Spec{ModelType: ModelLogisticRegression, Inputs: 4, Outputs: 1}, loss: BinaryCrossEntropy, l2: 0.3},
		tc{name: "logistic_regression/ce", spec: Spec{ModelType: ModelLogisticRegression, Inputs: 4, Outputs: 3}, loss: CrossEntropy, cw: []float64{1, 2, 3}},
	)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			net, err := New(c.spec, uint64(i+1))
			require.NoError(t, err)
			const rows = 7
			rng := rand.New(rand.NewPCG(uint64(i), 3))
			x := make([]float64, rows*c.spec.Inputs)
			for j := range x {
				x[j] = 2 * rng.NormFloat64()
			}
			y := make([]int, rows)
			for j := range y {
				y[j] = j % c.spec.Classes()
			}
			ws, err := NewWorkspace(net, 8)
			require.NoError(t, err)
			objective(t, ws, net, c.loss, x, y, c.cw, c.l2, c.dropout)
			grad := append([]float64(nil), ws.Backward(c.l2)...)

			const h = 1e-6
			p := net.Params()
			for j := range p {
				orig := p[j]
				p[j] = orig + h
				fp := objective(t, ws, net, c.loss, x, y, c.cw, c.l2, c.dropout)
				p[j] = orig - h
				fm := objective(t, ws, net, c.loss, x, y, c.cw, c.l2, c.dropout)
				p[j] = orig
				numeric := (fp - fm) / (2 * h)
				require.InDelta(t, numeric, grad[j], 1e-7*max(1, math.Abs(numeric)), "parameter %d", j)
			}
		})
	}
}

// TestLossValues checks both losses against values worked out by hand,
// including their class-weight normalisations.
func TestLossValues(t *testing.T) {
	softplus := func(z float64) float64 { return math.Log(1 + math.Exp(z)) }
	cases := []struct {
		name    string
		loss    Loss
		outputs int
		logits  []float64
		y       []int
		cw      []float64
		want    float64
	}{
		{"bce unweighted", BinaryCrossEntropy, 1, []float64{2, -1}, []int{1, 1},
			nil, (softplus(-2) + softplus(1)) / 2},
		{"bce weighted divides by rows", BinaryCrossEntropy, 1, []float64{2, -1, 0.5}, []int{1, 0, 0},
			[]float64{0.5, 3}, (3*softplus(-2) + 0.5*softplus(-1) + 0.5*softplus(0.5)) / 3},
		{"bce extreme logits stay finite", BinaryCrossEntropy, 1, []float64{800, -800}, []int{0, 1},
			nil, 800},
		{"ce weighted divides by weight sum", CrossEntropy, 2, []float64{1, 0, 0, 2}, []int{0, 0},
			[]float64{2, 1}, (2*math.Log(1+math.Exp(-1)) + 2*(2+math.Log(1+math.Exp(-2)))) / 4},
		{"ce three classes", CrossEntropy, 3, []float64{1, 2, 3}, []int{2},
			nil, math.Log(math.Exp(1)+math.Exp(2)+math.Exp(3)) - 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			total, norm, err := c.loss.Sum(c.logits, c.outputs, c.y, c.cw)
			require.NoError(t, err)
			require.InDelta(t, c.want, total/norm, 1e-12)
		})
	}
}

func TestLossRejectsBadInput(t *testing.T) {
	cases := []struct {
		name    string
		loss    Loss
		outputs int
		y       []int
		cw      []float64
		want    string
	}{
		{"bce needs one output", BinaryCrossEntropy, 2, []int{0}, nil, "needs 1 output"},
		{"ce needs two outputs", CrossEntropy, 1, []int{0}, nil, "at least 2 outputs"},
		{"label out of range", BinaryCrossEntropy, 1, []int{2}, nil, "label 2 of row 0"},
		{"negative label", CrossEntropy, 3, []int{-1}, nil, "label -1"},
		{"weights per class", CrossEntropy, 3, []int{0}, []float64{1, 2}, "2 class weights for 3 classes"},
		{"zero weight", BinaryCrossEntropy, 1, []int{0}, []float64{0, 1}, "weight of class 0"},
		{"unknown loss", Loss("hinge"), 1, []int{0}, nil, "unknown loss"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := c.loss.Sum(make([]float64, 3), c.outputs, c.y, c.cw)
			require.ErrorContains(t, err, c.want)
		})
	}
	_, err := ParseLoss("mse")
	require.ErrorContains(t, err, `"mse"`)
}
