//go:build !amd64

package sgemm

const useAVX512, useAVX2 = false, false

func fullTile(k int, a, b, c []float32, ldc int, ep tileEpilogue) bool { return false }

func product(k int, a, b, acc []float32) { productGo(k, a, b, acc) }
