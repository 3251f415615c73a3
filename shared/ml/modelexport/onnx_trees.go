package modelexport

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/orrery-ml/orrery/shared/ml/modelexport/onnxpb"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/trees"
)

const (
	// MLDomain is the ONNX operator domain of the tree ensembles' operator.
	MLDomain = "ai.onnx.ml"
	// MLOpset is the ai.onnx.ml operator set version a tree model's graph
	// imports: version 3 is the first with the *_as_tensor attributes that
	// carry thresholds and leaf values as doubles.
	MLOpset = 3
)

// buildTreeGraph is buildGraph for a tree ensemble (gradient_boosting,
// random_forest): the feature inputs stacked into x [N, d], standardised
// by the manifest's preprocessing with NaN kept (nn.Preprocessing's
// ApplyKeepMissing), one ai.onnx.ml TreeEnsembleClassifier whose scores
// are the sums of the leaf values per raw score, and the link in double:
// base scores added and the sigmoid or softmax taken for boosting, the sum
// divided by the number of trees for a forest — the arithmetic of
// trees.Model.PredictProba.
//
// The operator (onnx/defs/traditionalml/defs.cc, ai.onnx.ml version 3):
// nodes_* describe every node of every tree (nodes_treeids, nodes_nodeids
// numbered from 0 in each tree, nodes_modes BRANCH_LEQ or LEAF,
// nodes_featureids, nodes_values_as_tensor the double thresholds,
// nodes_truenodeids/nodes_falsenodeids, nodes_missing_value_tracks_true
// for NaN); class_* are the votes of the leaves (class_treeids,
// class_nodeids, class_ids indexing classlabels_int64s,
// class_weights_as_tensor). A row goes to the true child when x ≤
// threshold, or when x is NaN and the node's missing value tracks true —
// the tree's left child and DefaultLeft. With post_transform NONE the
// scores output Z holds, per class, the sum of the weights of the leaves a
// row reaches. Z is a float tensor, so the sums are rounded to float32
// (relative error 6e-8) before the link; the comparisons are exact.
//
// With two classes onnxruntime treats the operator as binary: with all
// votes on class 1 and no base values, Z[:, 1] is the sum of the votes
// (what the graph reads) and Z[:, 0] is 0. Base values are therefore
// never passed to the operator but added after it in double.
func buildTreeGraph(m *nn.Model) (*onnxpb.GraphProto, error) {
	t := m.Trees
	p := m.Manifest.Preprocessing
	if len(p.Missing) > 0 {
		return nil, fmt.Errorf("missing-value sentinels are not exportable: %w", ErrNotExportable)
	}
	d := len(m.Manifest.Features)
	if err := t.Check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotExportable, err)
	}
	if d == 0 || t.Features != d || (len(p.Mean) != 0 && (p.Features() != d || len(p.Scale) != d)) {
		return nil, fmt.Errorf("%d features, preprocessing for %d, trees for %d: %w", d, p.Features(), t.Features, ErrNotExportable)
	}
	outputs := OutputNames(m)
	if err := distinctNames(m.Manifest.Features, outputs); err != nil {
		return nil, err
	}
	g := &graphBuilder{g: &onnxpb.GraphProto{Name: proto.String("orrery_" + m.Manifest.ModelType)}}
	x := g.stackInputs(m.Manifest.Features)
	if len(p.Mean) != 0 {
		// NaN - mean and NaN / scale stay NaN, as ApplyKeepMissing keeps them.
		g.doubles("mean", []int64{int64(d)}, p.Mean)
		g.doubles("scale", []int64{int64(d)}, p.Scale)
		centred := g.node("Sub", []string{x, internal + "mean"}, "centred", nil)
		x = g.node("Div", []string{centred, internal + "scale"}, "standardised", nil)
	}

	attrs, labels := treeEnsembleAttributes(t)
	z := internal + "scores"
	g.n++
	g.g.Node = append(g.g.Node, &onnxpb.NodeProto{
		Input: []string{x}, Output: []string{internal + "label", z},
		Name: proto.String(fmt.Sprintf("%sn%d_TreeEnsembleClassifier", internal, g.n)), OpType: proto.String("TreeEnsembleClassifier"),
		Domain: proto.String(MLDomain), Attribute: attrs,
	})
	sums := g.node("Cast", []string{z}, "sums", intAttr("to", int64(onnxpb.TensorProto_DOUBLE)))
	var proba string
	if labels == 2 {
		// Z[:, 1:2] as [N, 1]: Gather with a 1-D index keeps the axis.
		g.int64s("one_index", []int64{1}, []int64{1})
		s := g.node("Gather", []string{sums, internal + "one_index"}, "sum1", intAttr("axis", 1))
		var p1 string
		if t.Kind == trees.KindBoosting {
			g.doubles("base", []int64{1}, t.Base)
			raw := g.node("Add", []string{s, internal + "base"}, "raw", nil)
			p1 = g.node("Sigmoid", []string{raw}, "p1", nil)
		} else {
			g.doubles("ntrees", nil, []float64{float64(len(t.Trees))})
			p1 = g.node("Div", []string{s, internal + "ntrees"}, "p1", nil)
		}
		g.doubles("one", nil, []float64{1})
		p0 := g.node("Sub", []string{internal + "one", p1}, "p0", nil)
		proba = g.node("Concat", []string{p0, p1}, "proba", intAttr("axis", 1))
	} else if t.Kind == trees.KindBoosting {
		g.doubles("base", []int64{int64(len(t.Base))}, t.Base)
		raw := g.node("Add", []string{sums, internal + "base"}, "raw", nil)
		proba = g.node("Softmax", []string{raw}, "proba", intAttr("axis", 1))
	} else {
		g.doubles("ntrees", nil, []float64{float64(len(t.Trees))})
		proba = g.node("Div", []string{sums, internal + "ntrees"}, "proba", nil)
	}
	g.classOutputs(proba, outputs)
	return g.g, nil
}

// treeEnsembleAttributes returns the TreeEnsembleClassifier attributes of
// t (see buildTreeGraph) and the number of class labels: 2 for two
// classes, whose votes all go to class 1, else t.Classes. A boosted
// model's tree i votes for raw score i mod Classes; a multi-class forest's
// leaves vote for every class with the leaf's class distribution.
func treeEnsembleAttributes(t *trees.Model) ([]*onnxpb.AttributeProto, int) {
	var treeIDs, nodeIDs, featureIDs, trueIDs, falseIDs, missingTrue []int64
	var modes [][]byte
	var thresholds []float64
	var classTree, classNode, classID []int64
	var weights []float64
	groups := t.Classes
	if groups == 2 {
		groups = 1
	}
	width := t.Width()
	leaf, branch := []byte("LEAF"), []byte("BRANCH_LEQ")
	for ti := range t.Trees {
		tr := &t.Trees[ti]
		for i, l := range tr.Left {
			treeIDs = append(treeIDs, int64(ti))
			nodeIDs = append(nodeIDs, int64(i))
			if l < 0 {
				modes = append(modes, leaf)
				featureIDs = append(featureIDs, 0)
				thresholds = append(thresholds, 0)
				trueIDs, falseIDs = append(trueIDs, 0), append(falseIDs, 0)
				missingTrue = append(missingTrue, 0)
				for c := range width {
					classTree, classNode = append(classTree, int64(ti)), append(classNode, int64(i))
					k := c
					if t.Kind == trees.KindBoosting {
						k = ti % groups
					}
					if groups == 1 {
						k = 1
					}
					classID = append(classID, int64(k))
					weights = append(weights, tr.Value[i*width+c])
				}
				continue
			}
			modes = append(modes, branch)
			featureIDs = append(featureIDs, int64(tr.Feature[i]))
			thresholds = append(thresholds, tr.Threshold[i])
			trueIDs, falseIDs = append(trueIDs, int64(l)), append(falseIDs, int64(tr.Right[i]))
			if tr.DefaultLeft[i] {
				missingTrue = append(missingTrue, 1)
			} else {
				missingTrue = append(missingTrue, 0)
			}
		}
	}
	labels := make([]int64, max(t.Classes, 2))
	for k := range labels {
		labels[k] = int64(k)
	}
	return []*onnxpb.AttributeProto{
		intsAttr("nodes_treeids", treeIDs),
		intsAttr("nodes_nodeids", nodeIDs),
		intsAttr("nodes_featureids", featureIDs),
		stringsAttr("nodes_modes", modes),
		doublesAttr("nodes_values_as_tensor", thresholds),
		intsAttr("nodes_truenodeids", trueIDs),
		intsAttr("nodes_falsenodeids", falseIDs),
		intsAttr("nodes_missing_value_tracks_true", missingTrue),
		intsAttr("class_treeids", classTree),
		intsAttr("class_nodeids", classNode),
		intsAttr("class_ids", classID),
		doublesAttr("class_weights_as_tensor", weights),
		intsAttr("classlabels_int64s", labels),
		{Name: proto.String("post_transform"), S: []byte("NONE"), Type: onnxpb.AttributeProto_STRING.Enum()},
	}, len(labels)
}

func intsAttr(name string, v []int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Ints: v, Type: onnxpb.AttributeProto_INTS.Enum()}
}

func stringsAttr(name string, v [][]byte) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Strings: v, Type: onnxpb.AttributeProto_STRINGS.Enum()}
}

// doublesAttr is a TENSOR attribute holding a 1-D double tensor.
func doublesAttr(name string, v []float64) *onnxpb.AttributeProto {
	raw := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(x))
	}
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: &onnxpb.TensorProto{
		Name: proto.String(name), Dims: []int64{int64(len(v))}, DataType: proto.Int32(int32(onnxpb.TensorProto_DOUBLE)), RawData: raw,
	}}
}
