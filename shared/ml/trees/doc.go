// Package trees is the pure-Go tree-ensemble engine for tabular
// classification: histogram gradient boosting in the manner of LightGBM
// (Ke et al., "LightGBM: A Highly Efficient Gradient Boosting Decision
// Tree", NeurIPS 2017) and random forests (Breiman, "Random Forests",
// Machine Learning 45, 2001).
//
// Both fit on features binned to at most 255 quantile bins of the training
// rows (bin 0 holds missing values), grow trees from per-bin histograms of
// gradient and hessian sums, and send missing values to a learned default
// side of every split. Boosting grows each tree leaf-wise (best gain first)
// under max_leaves and max_depth, builds only the smaller child's histogram
// and takes the larger's as the parent's minus it (the histogram
// subtraction trick), and minimises binary log-loss or the multi-class
// softmax loss with per-class weights, row and column subsampling, and an
// iteration monitor for early stopping. A forest grows each tree on a
// bootstrap sample with max_features candidate features per node, the
// trees in parallel, and reports out-of-bag probabilities. Histograms are
// built in parallel over features, gradients and predictions in parallel
// over rows; large nodes are partitioned in parallel chunks. Bin edges of
// more than 200k rows come from a fixed 200k-row sample. PredictProba
// walks blocks of rows through breadth-first flattened trees without
// branching on the comparisons.
//
// A Model is plain arrays (Arrays, FromArrays), so it is stored in the
// model directory's safetensors file and predicts bit for bit the same
// after a round trip.
//
// It must not import shared/store/..., the AWS SDK or gotch.
package trees
