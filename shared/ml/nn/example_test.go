package nn_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/orrery-ml/orrery/shared/ml/nn"
)

// Example trains a small network for a few steps with the training
// primitives, then saves it as a model directory and loads it back.
func Example() {
	net, err := nn.New(nn.Spec{ModelType: nn.ModelMLP, Inputs: 2, Hidden: []int{8}, Outputs: 1, Activation: nn.ActivationReLU}, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	ws, _ := nn.NewWorkspace(net, 4)
	opt, _ := nn.NewOptimizer(nn.OptimizerConfig{Name: nn.Adam}, net)
	x := []float64{-1, -1, -1, 1, 1, -1, 1, 1} // 4 rows × 2 features
	y := []int{0, 1, 1, 0}                     // XOR
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		if _, err := ws.Forward(x, 4, 0, rng); err != nil {
			fmt.Println(err)
			return
		}
		if _, err := ws.Loss(nn.BinaryCrossEntropy, y, nil); err != nil {
			fmt.Println(err)
			return
		}
		if err := opt.Step(net.Params(), ws.Backward(0), 0.05); err != nil {
			fmt.Println(err)
			return
		}
	}

	dir, _ := os.MkdirTemp("", "model")
	defer os.RemoveAll(dir)
	m := &nn.Model{Net: net, Manifest: nn.Manifest{ModelID: "xor", Features: []string{"a", "b"}, Target: "y",
		Classes: []string{"no", "yes"}, Threshold: 0.5, CodeVersion: nn.Version()}}
	if err := nn.SaveDir(filepath.Join(dir, "xor"), m); err != nil {
		fmt.Println(err)
		return
	}
	loaded, err := nn.LoadDir(filepath.Join(dir, "xor"))
	if err != nil {
		fmt.Println(err)
		return
	}
	pred, _ := loaded.Predict(context.Background(), x, 4)
	fmt.Println(pred)
	// Output: [0 1 1 0]
}
