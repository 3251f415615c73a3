package histo

import "golang.org/x/sys/cpu"

var useAVX2 = cpu.X86.HasAVX2

// The AVX2 loops (histo_amd64.s); n > 0.

//go:noescape
func addOrdered1(n int, ha *float64, ba *uint8, ord *float64)

//go:noescape
func addOrdered2(n int, ha, hb *float64, ba, bb *uint8, ord *float64)

//go:noescape
func addIndexed1(n int, ha *float64, ba *uint8, rows *int32, ord *float64)

//go:noescape
func addIndexed2(n int, ha, hb *float64, ba, bb *uint8, rows *int32, ord *float64)

//go:noescape
func addRows(n, nf, width int, h *float64, bins *uint8, rows *int32, gh *float64)
