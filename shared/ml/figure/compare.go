package figure

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
)

// PixelDifference decodes two PNGs and returns the share of pixels whose
// colour differs by more than tol (0-255) in any channel; an error if
// either does not decode or their sizes differ. Tests compare a plot with
// its reviewed fixture this way rather than byte for byte, so a change of
// the PNG encoder's compression does not count as a change of the plot.
func PixelDifference(a, b []byte, tol uint8) (float64, error) {
	ia, err := png.Decode(bytes.NewReader(a))
	if err != nil {
		return 0, fmt.Errorf("figure: decode first png: %w", err)
	}
	ib, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return 0, fmt.Errorf("figure: decode second png: %w", err)
	}
	if ia.Bounds() != ib.Bounds() {
		return 0, fmt.Errorf("figure: sizes differ: %v and %v", ia.Bounds(), ib.Bounds())
	}
	r := ia.Bounds()
	var diff int
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if !near(ia, ib, x, y, uint32(tol)) {
				diff++
			}
		}
	}
	return float64(diff) / float64(r.Dx()*r.Dy()), nil
}

func near(a, b image.Image, x, y int, tol uint32) bool {
	r1, g1, b1, a1 := a.At(x, y).RGBA()
	r2, g2, b2, a2 := b.At(x, y).RGBA()
	d := func(u, v uint32) uint32 {
		u, v = u>>8, v>>8
		if u > v {
			return u - v
		}
		return v - u
	}
	return d(r1, r2) <= tol && d(g1, g2) <= tol && d(b1, b2) <= tol && d(a1, a2) <= tol
}
