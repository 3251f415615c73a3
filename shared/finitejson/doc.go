// Package finitejson encodes Go values as JSON with every NaN or infinite
// float written as null — metrics of a single-class slice, the value of a
// pruned trial, a diverged loss — where encoding/json refuses the whole value.
//
// It imports nothing but the standard library.
package finitejson
