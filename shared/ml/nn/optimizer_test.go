package nn

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// tinyNet is a logistic regression with two weights and one bias, so its
// parameter vector is [w0, w1, b].
func tinyNet(t *testing.T) *Network {
	t.Helper()
	n, err := New(Spec{ModelType: ModelLogisticRegression, Inputs: 2, Outputs: 1}, 1)
	require.NoError(t, err)
	require.True(t, n.SetParams([]float64{1, -2, 0.5}))
	return n
}

// TestOptimizerSteps replays two steps of each optimizer with fixed
// gradients and lr 0.1 against trajectories worked out from the update
// rules in the torch.optim documentation (computed independently in
// float64; see the comments for the arithmetic of the simple cases).
func TestOptimizerSteps(t *testing.T) {
	grads := [][]float64{{0.5, -1, 2}, {-0.25, 0.5, 1}}
	cases := []struct {
		name string
		cfg  OptimizerConfig
		want [][]float64
	}{
		// p -= 0.1·g.
		{"sgd", OptimizerConfig{Name: SGD}, [][]float64{{0.95, -1.9, 0.3}, {0.975, -1.95, 0.2}}},
		// b1 = g1; b2 = 0.9·g1 + g2 = [0.2, -0.4, 2.8].
		{"momentum", OptimizerConfig{Name: Momentum, Momentum: 0.9}, [][]float64{{0.95, -1.9, 0.3}, {0.93, -1.86, 0.02}}},
		// The first bias-corrected step is lr·g/(|g|+ε) ≈ lr·sign(g).
		{"adam", OptimizerConfig{Name: Adam}, [][]float64{
			{0.90000000199999985, -1.900000001, 0.4000000004999999},
			{0.87336629870784621, -1.8733662973709031, 0.30678203720851027}}},
		// Weights shrink by 1 - lr·λ = 0.95 before the Adam step; the bias
		// does not.
		{"adamw", OptimizerConfig{Name: AdamW, WeightDecay: 0.5}, [][]float64{
			{0.85000000199999981, -1.8000000009999999, 0.4000000004999999},
			{0.78086629860784618, -1.6833662973209029, 0.30678203720851027}}},
		// v1 = 0.01·g², so the first step is lr·g/(0.1·|g|) = sign(g).
		{"rmsprop", OptimizerConfig{Name: RMSprop}, [][]float64{
			{1.9999996003772225e-07, -1.0000000999999901, -0.49999995000000252},
			{0.44901337442175049, -1.4490133147443502, -0.94901318490565034}}},
		// Weight decay belongs to adamw only.
		{"adam ignores weight decay", OptimizerConfig{Name: Adam, WeightDecay: 0.5}, [][]float64{
			{0.90000000199999985, -1.900000001, 0.4000000004999999},
			{0.87336629870784621, -1.8733662973709031, 0.30678203720851027}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			net := tinyNet(t)
			opt, err := NewOptimizer(c.cfg, net)
			require.NoError(t, err)
			for s, g := range grads {
				require.NoError(t, opt.Step(net.Params(), g, 0.1))
				require.InDeltaSlice(t, c.want[s], net.Params(), 1e-12, "after step %d", s+1)
			}
			require.EqualValues(t, 2, opt.Steps())
		})
	}
}

func TestOptimizerStateRoundTrip(t *testing.T) {
	for _, name := range []string{SGD, Momentum, Adam, AdamW, RMSprop} {
		t.Run(name, func(t *testing.T) {
			cfg := OptimizerConfig{Name: name, Momentum: 0.8, WeightDecay: 0.01}
			a, b := tinyNet(t), tinyNet(t)
			optA, err := NewOptimizer(cfg, a)
			require.NoError(t, err)
			require.NoError(t, optA.Step(a.Params(), []float64{0.3, -0.2, 0.1}, 0.05))
			state, err := optA.MarshalBinary()
			require.NoError(t, err)

			optB, err := NewOptimizer(cfg, b)
			require.NoError(t, err)
			require.NoError(t, optB.UnmarshalBinary(state))
			b.SetParams(a.Params())
			for range 3 {
				g := []float64{-0.4, 0.7, 0.2}
				require.NoError(t, optA.Step(a.Params(), g, 0.05))
				require.NoError(t, optB.Step(b.Params(), g, 0.05))
			}
			require.Equal(t, a.Params(), b.Params())
		})
	}
}

func TestOptimizerRejects(t *testing.T) {
	net := tinyNet(t)
	_, err := NewOptimizer(OptimizerConfig{Name: "lbfgs"}, net)
	require.ErrorContains(t, err, `"lbfgs"`)
	_, err = NewOptimizer(OptimizerConfig{Name: Momentum, Momentum: 1}, net)
	require.ErrorContains(t, err, "momentum 1")

	adam, err := NewOptimizer(OptimizerConfig{Name: Adam}, net)
	require.NoError(t, err)
	require.ErrorContains(t, adam.Step(net.Params(), []float64{1}, 0.1), "1 gradients")

	state, err := adam.MarshalBinary()
	require.NoError(t, err)
	sgd, err := NewOptimizer(OptimizerConfig{Name: SGD}, net)
	require.NoError(t, err)
	require.ErrorContains(t, sgd.UnmarshalBinary(state), "optimizer state is for")
	require.ErrorContains(t, sgd.UnmarshalBinary([]byte("junk")), "decode optimizer state")

	bigger, err := New(Spec{ModelType: ModelLogisticRegression, Inputs: 5, Outputs: 1}, 1)
	require.NoError(t, err)
	adamBig, err := NewOptimizer(OptimizerConfig{Name: Adam}, bigger)
	require.NoError(t, err)
	require.ErrorContains(t, adamBig.UnmarshalBinary(state), "buffers")
}
