//go:build !amd64

package cholesky

const useAVX2 = false

func kernel4x8(k int, a, b, out []float64) { kernel4x8Go(k, a, b, out) }

func dotLanes(x, v []float64, acc *[Lanes]float64) { dotLanesGo(x, v, acc) }

func dot(x, y []float64) float64 { return dotGo(x, y) }

func axpy(alpha float64, x, y []float64) { axpyGo(alpha, x, y) }
