package sgemm

import "testing"

// TestEveryKernel runs the product tests again with each micro-kernel this
// CPU has below the one it picks: AVX2 (6×16) and the Go kernel.
func TestEveryKernel(t *testing.T) {
	save512, save2, saveMR, saveNR := useAVX512, useAVX2, mr, nr
	t.Cleanup(func() { useAVX512, useAVX2, mr, nr = save512, save2, saveMR, saveNR })
	for _, k := range []struct {
		name       string
		avx512, v2 bool
	}{{"avx2", false, true}, {"go", false, false}} {
		if k.v2 && !save2 {
			continue
		}
		useAVX512, useAVX2, mr, nr = k.avx512, k.v2, 6, 16
		t.Run(k.name+"/reference", TestGemmMatchesReference)
		t.Run(k.name+"/epilogue", TestGemmEpilogue)
	}
}
