package nn

import (
	"fmt"
	"maps"
	"slices"
)

// WeightName and BiasName return the tensor names of layer i's parameters,
// "layers.{i}.weight" (shape [out, in]) and "layers.{i}.bias" (shape [out]),
// the names the libtorch backend uses too.
func WeightName(i int) string { return fmt.Sprintf("layers.%d.weight", i) }

// BiasName returns the tensor name of layer i's bias; see WeightName.
func BiasName(i int) string { return fmt.Sprintf("layers.%d.bias", i) }

// Tensors returns copies of the network's parameters as named tensors, each
// layer's weight then bias.
func (n *Network) Tensors() []Tensor {
	ts := make([]Tensor, 0, 2*len(n.Layers))
	for i, l := range n.Layers {
		ts = append(ts,
			Tensor{Name: WeightName(i), Shape: []int{l.Out, l.In}, Data: slices.Clone(l.W)},
			Tensor{Name: BiasName(i), Shape: []int{l.Out}, Data: slices.Clone(l.B)})
	}
	return ts
}

// FromTensors builds a network for spec from named tensors (as Tensors
// returns them, in any order). Every layer's weight and bias must be present
// with the shape spec implies, and no other tensor may be.
func FromTensors(spec Spec, ts []Tensor) (*Network, error) {
	n, err := alloc(spec)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]Tensor, len(ts))
	for _, t := range ts {
		if _, dup := byName[t.Name]; dup {
			return nil, fmt.Errorf("nn: tensor %s appears twice", t.Name)
		}
		byName[t.Name] = t
	}
	take := func(name string, shape []int, dst []float64) error {
		t, ok := byName[name]
		if !ok {
			return fmt.Errorf("nn: tensor %s is missing", name)
		}
		if !slices.Equal(t.Shape, shape) || len(t.Data) != len(dst) {
			return fmt.Errorf("nn: tensor %s has shape %v (%d values), the spec needs %v", name, t.Shape, len(t.Data), shape)
		}
		copy(dst, t.Data)
		delete(byName, name)
		return nil
	}
	for i, l := range n.Layers {
		if err := take(WeightName(i), []int{l.Out, l.In}, l.W); err != nil {
			return nil, err
		}
		if err := take(BiasName(i), []int{l.Out}, l.B); err != nil {
			return nil, err
		}
	}
	if len(byName) > 0 {
		extra := slices.Sorted(maps.Keys(byName))
		return nil, fmt.Errorf("nn: tensor %s is not part of a %d-layer network", extra[0], len(n.Layers))
	}
	return n, nil
}
