//go:build !amd64

package histo

const useAVX2 = false

func addOrdered1(n int, ha *float64, ba *uint8, ord *float64)                      {}
func addOrdered2(n int, ha, hb *float64, ba, bb *uint8, ord *float64)              {}
func addIndexed1(n int, ha *float64, ba *uint8, rows *int32, ord *float64)         {}
func addIndexed2(n int, ha, hb *float64, ba, bb *uint8, rows *int32, ord *float64) {}
func addRows(n, nf, width int, h *float64, bins *uint8, rows *int32, gh *float64)  {}
