package figure

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Text is one string a figure drew and the bounding box of its ink on the
// canvas (rotated text by its rotated box).
type Text struct {
	String string
	Box    vg.Rectangle
}

// Layout is what an inspected figure drew: its canvas, every text, and for
// a Figure the data area, the legend's box and the avoided data in canvas
// coordinates.
type Layout struct {
	Canvas vg.Rectangle
	Texts  []Text
	// Legend is the box around the legend's texts and thumbnails, measured
	// from the texts drawn (zero without a legend).
	Legend vg.Rectangle
	Corner Corner
	data   layout
}

// Inspect draws fn on a w × h canvas that records every text's box instead
// of painting.
func Inspect(fn func(draw.Canvas), w, h vg.Length) Layout {
	p := &probe{w: w, h: h, m: identity}
	fn(draw.New(p))
	return Layout{Canvas: vg.Rectangle{Max: vg.Point{X: w, Y: h}}, Texts: p.texts}
}

// Inspect places and draws the figure on a recording canvas. The legend's
// box is measured from the drawn texts of its labels, widened by the
// thumbnails, so it checks Figure's placement rather than repeating it.
func (f *Figure) Inspect() Layout {
	f.Place()
	l := Inspect(f.Draw, f.Width, f.Height)
	l.Corner = f.Corner
	l.data = f.draw(draw.New(&probe{w: f.Width, h: f.Height, m: identity}), false)
	if len(f.labels) == 0 {
		return l
	}
	// The legend's texts are the last ones drawn, one per label.
	n := len(f.labels)
	if len(l.Texts) < n {
		return l
	}
	texts := l.Texts[len(l.Texts)-n:]
	box := texts[0].Box
	for _, t := range texts[1:] {
		box = union(box, t.Box)
	}
	em := f.Legend.TextStyle.Rectangle(" ").Max.X
	box.Min.X -= f.Legend.ThumbnailWidth + em
	l.Legend = box
	return l
}

// Problems lists what makes the layout hard to read: texts outside the
// canvas (clipped), texts running into each other, and a legend box that
// covers avoided data. Empty when the figure is fine.
func (l Layout) Problems() []string {
	var out []string
	const tol = 0.5 // points of slack for anti-aliasing and rounding
	// A text's ink must stay margin inside the canvas: one flush with the
	// edge reads as cut off (and is, where a viewer scales the image).
	const margin = 0.5
	inner := shrink(l.Canvas, margin)
	for _, t := range l.Texts {
		b := t.Box
		if b.Min.X < inner.Min.X || b.Min.Y < inner.Min.Y || b.Max.X > inner.Max.X || b.Max.Y > inner.Max.Y {
			out = append(out, fmt.Sprintf("text %q is clipped: box %v not inside the canvas %v", t.String, b, l.Canvas))
		}
	}
	for i, a := range l.Texts {
		for _, b := range l.Texts[i+1:] {
			if overlap(shrink(a.Box, tol), shrink(b.Box, tol)) {
				out = append(out, fmt.Sprintf("texts %q and %q overlap: %v and %v", a.String, b.String, a.Box, b.Box))
			}
		}
	}
	if l.Legend != (vg.Rectangle{}) && l.data.covers(l.Legend) {
		out = append(out, fmt.Sprintf("the legend (%s, box %v) covers plotted data", l.Corner, l.Legend))
	}
	return out
}

// String lists the layout's texts, one a line (for test failures).
func (l Layout) String() string {
	var b strings.Builder
	for _, t := range l.Texts {
		fmt.Fprintf(&b, "%q %v\n", t.String, t.Box)
	}
	return b.String()
}

func overlap(a, b vg.Rectangle) bool {
	return a.Min.X < b.Max.X && b.Min.X < a.Max.X && a.Min.Y < b.Max.Y && b.Min.Y < a.Max.Y
}

func shrink(r vg.Rectangle, d vg.Length) vg.Rectangle {
	return vg.Rectangle{Min: vg.Point{X: r.Min.X + d, Y: r.Min.Y + d}, Max: vg.Point{X: r.Max.X - d, Y: r.Max.Y - d}}
}

func union(a, b vg.Rectangle) vg.Rectangle {
	return vg.Rectangle{Min: vg.Point{X: min(a.Min.X, b.Min.X), Y: min(a.Min.Y, b.Min.Y)},
		Max: vg.Point{X: max(a.Max.X, b.Max.X), Y: max(a.Max.Y, b.Max.Y)}}
}

// affine is a 2-D transform x' = a x + c y + e, y' = b x + d y + f.
type affine struct{ a, b, c, d, e, f float64 }

var identity = affine{a: 1, d: 1}

// then returns the transform applying n first, then m (m·n).
func (m affine) then(n affine) affine {
	return affine{
		a: m.a*n.a + m.c*n.b, b: m.b*n.a + m.d*n.b,
		c: m.a*n.c + m.c*n.d, d: m.b*n.c + m.d*n.d,
		e: m.a*n.e + m.c*n.f + m.e, f: m.b*n.e + m.d*n.f + m.f,
	}
}

func (m affine) apply(p vg.Point) vg.Point {
	x, y := float64(p.X), float64(p.Y)
	return vg.Point{X: vg.Length(m.a*x + m.c*y + m.e), Y: vg.Length(m.b*x + m.d*y + m.f)}
}

// probe is a vg.Canvas that tracks the transform and records text boxes.
type probe struct {
	w, h  vg.Length
	m     affine
	stack []affine
	texts []Text
}

func (p *probe) Size() (vg.Length, vg.Length)        { return p.w, p.h }
func (p *probe) SetLineWidth(vg.Length)              {}
func (p *probe) SetLineDash([]vg.Length, vg.Length)  {}
func (p *probe) SetColor(color.Color)                {}
func (p *probe) Stroke(vg.Path)                      {}
func (p *probe) Fill(vg.Path)                        {}
func (p *probe) DrawImage(vg.Rectangle, image.Image) {}
func (p *probe) Push()                               { p.stack = append(p.stack, p.m) }
func (p *probe) Pop() {
	if n := len(p.stack); n > 0 {
		p.m, p.stack = p.stack[n-1], p.stack[:n-1]
	}
}
func (p *probe) Rotate(rad float64) {
	s, c := math.Sincos(rad)
	p.m = p.m.then(affine{a: c, b: s, c: -s, d: c})
}
func (p *probe) Translate(pt vg.Point) {
	p.m = p.m.then(affine{a: 1, d: 1, e: float64(pt.X), f: float64(pt.Y)})
}
func (p *probe) Scale(x, y float64) { p.m = p.m.then(affine{a: x, d: y}) }

func (p *probe) FillString(f font.Face, pt vg.Point, s string) {
	if strings.TrimSpace(s) == "" {
		return
	}
	// The ink's bounds (at 72 dpi a pixel is a point; y grows downwards).
	ff := f.FontFace(72)
	ink, _ := xfont.BoundString(ff, s)
	_ = ff.Close()
	x0, x1 := vg.Length(ink.Min.X)/64, vg.Length(ink.Max.X)/64
	y0, y1 := -vg.Length(ink.Max.Y)/64, -vg.Length(ink.Min.Y)/64
	corners := []vg.Point{
		{X: pt.X + x0, Y: pt.Y + y0}, {X: pt.X + x1, Y: pt.Y + y0},
		{X: pt.X + x0, Y: pt.Y + y1}, {X: pt.X + x1, Y: pt.Y + y1},
	}
	box := vg.Rectangle{Min: vg.Point{X: vg.Length(math.Inf(1)), Y: vg.Length(math.Inf(1))},
		Max: vg.Point{X: vg.Length(math.Inf(-1)), Y: vg.Length(math.Inf(-1))}}
	for _, c := range corners {
		q := p.m.apply(c)
		box.Min.X, box.Min.Y = min(box.Min.X, q.X), min(box.Min.Y, q.Y)
		box.Max.X, box.Max.Y = max(box.Max.X, q.X), max(box.Max.Y, q.Y)
	}
	p.texts = append(p.texts, Text{String: s, Box: box})
}

var _ vg.Canvas = (*probe)(nil)
