// Package boosting is the pure-Go histogram gradient-boosted decision tree
// engine for tabular classification, in the manner of LightGBM (Ke et al.,
// "LightGBM: A Highly Efficient Gradient Boosting Decision Tree", NeurIPS
// 2017): features are binned to at most 255 quantile bins fitted on the
// training rows, trees grow leaf-wise (best gain first) under max_leaves and
// max_depth, a child's histogram is the parent's minus its sibling's (the
// histogram subtraction trick), and missing values go to a learned default
// side of every split. Binary log-loss and multi-class softmax, per-class
// weights, row subsampling, column subsampling and early stopping on a
// validation split are supported. Histograms are built in parallel over
// features with goroutines. A Model round-trips through Encode and Decode
// bit for bit.
//
// It must not import shared/store/..., the AWS SDK or gotch.
package boosting
