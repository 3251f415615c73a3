package figure

import (
	"image/color"
	"math"
)

// The Okabe–Ito palette (Okabe & Ito 2008, "Color Universal Design";
// Wong 2011, "Points of view: Color blindness", Nature Methods 8:441): eight
// colours that stay distinct under the common colour-vision deficiencies.
var (
	Black         = color.RGBA{R: 0, G: 0, B: 0, A: 255}
	Orange        = color.RGBA{R: 230, G: 159, B: 0, A: 255}
	SkyBlue       = color.RGBA{R: 86, G: 180, B: 233, A: 255}
	BluishGreen   = color.RGBA{R: 0, G: 158, B: 115, A: 255}
	Yellow        = color.RGBA{R: 240, G: 228, B: 66, A: 255}
	Blue          = color.RGBA{R: 0, G: 114, B: 178, A: 255}
	Vermillion    = color.RGBA{R: 213, G: 94, B: 0, A: 255}
	ReddishPurple = color.RGBA{R: 204, G: 121, B: 167, A: 255}
	// Grey is for references (chance, perfect calibration), not data.
	Grey = color.RGBA{R: 120, G: 120, B: 120, A: 255}
)

// Series are the palette's colours in the order data series take them:
// blue and orange first, which every deficiency tells apart.
var Series = []color.RGBA{Blue, Orange, BluishGreen, Vermillion, SkyBlue, ReddishPurple, Yellow, Black}

// Translucent returns c with alpha a (0-255), premultiplied as image/color
// expects.
func Translucent(c color.RGBA, a uint8) color.RGBA {
	f := float64(a) / 255
	return color.RGBA{R: uint8(float64(c.R) * f), G: uint8(float64(c.G) * f), B: uint8(float64(c.B) * f), A: a}
}

// TextOn returns black or white, whichever contrasts more with the
// background bg by WCAG 2.1 relative luminance.
func TextOn(bg color.Color) color.Color {
	if luminance(bg) > 0.179 {
		return color.Black
	}
	return color.White
}

// luminance is WCAG 2.1's relative luminance of c (alpha ignored).
func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	lin := func(v uint32) float64 {
		s := float64(v) / 0xffff
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

// Color is a palette colour.
type Color = color.RGBA
