// Package trees is the pure-Go tree-ensemble engine for tabular
// classification: histogram gradient boosting in the manner of LightGBM
// (Ke et al., "LightGBM: A Highly Efficient Gradient Boosting Decision
// Tree", NeurIPS 2017) and random forests (Breiman, "Random Forests",
// Machine Learning 45, 2001).
//
// Boosting fits on features binned to at most 255 quantile bins of the
// training rows (bin 0 holds missing values; the edges are the quantiles
// of the averaged inverted empirical CDF, as scikit-learn's binner places
// them), grows trees from per-bin histograms of gradient and hessian sums,
// and sends missing values to a learned default side of every split. It
// grows each tree leaf-wise (best gain first) under max_leaves and
// max_depth, builds only the smaller child's histogram and takes the
// larger's as the parent's minus it (the histogram subtraction trick), and
// minimises binary log-loss or the multi-class softmax loss with per-class
// weights, row and column subsampling, and an iteration monitor for early
// stopping. Histograms are built in parallel over features, gradients and
// predictions in parallel over rows; large nodes are partitioned in
// parallel chunks. Bin edges of more than 200k rows come from a fixed
// 200k-row sample.
//
// A forest splits exactly instead (exact.go): features are ranked among
// their distinct training values once, every node sorts its rows by each
// drawn candidate's rank and tries every boundary between two values, and
// thresholds fall halfway between them, as scikit-learn's BestSplitter
// does; fully grown trees on nodes of a few rows need that resolution.
// Each tree grows on a bootstrap sample with max_features candidate
// features per node, missing values take a learned side there too, the
// trees grow in parallel, and the forest reports out-of-bag probabilities.
// PredictProba walks blocks of rows through breadth-first flattened trees
// without branching on the comparisons.
//
// A Model is plain arrays (Arrays, FromArrays), so it is stored in the
// model directory's safetensors file and predicts bit for bit the same
// after a round trip.
//
// It must not import shared/store/..., the AWS SDK or gotch.
package trees
