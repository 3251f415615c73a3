// Package vec holds the element-wise loops of a training step that the
// nn engine runs over every parameter: the Adam update in float64 and the
// conversions between the float64 parameters and the float32 engine. On
// amd64 they are assembly, eight float64 lanes at a time with AVX-512 and
// four with AVX2,
// with the same IEEE operations in the same order as the Go loops, so the
// results are bit-identical to them; elsewhere they are the Go loops.
//
// It imports nothing of this module.
package vec
