package modelexport_test

import (
	"fmt"
	"slices"
	"strings"

	"github.com/orrery-ml/orrery/shared/ml/modelexport"
	"github.com/orrery-ml/orrery/shared/ml/nn"
)

// ExampleMLflowModel builds the MLflow model directory of a small network:
// the files to upload under a run's artifact path (model/) before
// registering runs:/RUN/model as a model version.
func ExampleMLflowModel() {
	net, err := nn.New(nn.Spec{ModelType: nn.ModelMLP, Inputs: 2, Hidden: []int{4}, Outputs: 1, Activation: nn.ActivationReLU}, 1)
	if err != nil {
		panic(err)
	}
	m := &nn.Model{Manifest: nn.Manifest{ModelID: "mdl-example", ModelType: nn.ModelMLP,
		Features: []string{"meanprof", "sd-prof"}, Classes: []string{"0", "1"},
		Preprocessing: nn.Preprocessing{Impute: []float64{0, 0}, Mean: []float64{110, 46}, Scale: []float64{25, 7}}}, Net: net}
	files, err := modelexport.MLflowModel(m, modelexport.MLflowOptions{RunID: "0123abcd", ArtifactPath: "model"})
	if err != nil {
		panic(err)
	}
	var names []string
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	fmt.Println(strings.Join(names, " "))
	fmt.Println(modelexport.OutputNames(m))
	// Output:
	// MLmodel conda.yaml input_example.json model.onnx python_env.yaml requirements.txt serving_input_example.json
	// [p_0 p_1]
}
