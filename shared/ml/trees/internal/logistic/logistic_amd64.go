package logistic

import "golang.org/x/sys/cpu"

// useKernel: math.Exp takes its FMA path where AVX and FMA are, and the
// kernel follows that path.
var useKernel = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// gradients4 is the AVX2 loop (logistic_amd64.s).
//
//go:noescape
func gradients4(n int, score *float64, y *int, gh *float64) int
