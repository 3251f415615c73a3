package dataset

import (
	"math/rand/v2"
	"testing"
)

// TestFisherYatesIsShuffle: the split's own shuffle draws what
// rand.Rand.Shuffle draws, for both index widths, so splits stay those
// of the seed.
func TestFisherYatesIsShuffle(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 17, 1000, 100003} {
		want := make([]int, n)
		got32, got := make([]int32, n), make([]int, n)
		for i := range want {
			want[i], got32[i], got[i] = i, int32(i), i
		}
		rand.New(rand.NewPCG(42, 7)).Shuffle(n, func(i, j int) { want[i], want[j] = want[j], want[i] })
		fisherYates(rand.New(rand.NewPCG(42, 7)), got32)
		fisherYates(rand.New(rand.NewPCG(42, 7)), got)
		for i := range want {
			if got[i] != want[i] || int(got32[i]) != want[i] {
				t.Fatalf("n=%d: element %d is %d and %d, Shuffle gives %d", n, i, got[i], got32[i], want[i])
			}
		}
	}
}
