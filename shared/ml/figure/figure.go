package figure

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Corner is where a legend sits.
type Corner int

// Corners of the data area, and Outside: a column right of the plot.
const (
	TopRight Corner = iota
	TopLeft
	BottomRight
	BottomLeft
	Outside
)

func (c Corner) String() string {
	return [...]string{"top right", "top left", "bottom right", "bottom left", "outside"}[c]
}

// inset is the gap between the data area's edge and the legend box, and
// pad the gap between the box and its entries.
const (
	inset = 4 * vg.Millimeter / 2
	pad   = vg.Millimeter * 1.5
	// clearance is how far Place keeps the legend from the data.
	clearance = 4 * vg.Millimeter / 3
)

// shape is data the legend must not cover, in data coordinates: a polyline
// (a curve), scattered points, or a rectangle (a histogram bar).
type shape struct {
	xys  plotter.XYs
	line bool
	rect bool
}

// Figure is one plot, its size, and a legend drawn off the data: the plot's
// own legend stays empty and Figure draws it in the corner of the data area
// that covers none of the data registered with Avoid (the first empty one
// in the order top right, top left, bottom right, bottom left), or in a
// column right of the plot when every corner is taken.
type Figure struct {
	Plot          *plot.Plot
	Width, Height vg.Length
	// Legend holds the entries; Add them with AddLegend.
	Legend plot.Legend
	// Corner is where the legend is drawn; Place sets it. Force pins it
	// (tests use it to draw a legend on the data on purpose).
	Corner Corner
	Force  bool
	// Prefer is the order in which Place tries the corners (nil: top
	// right, top left, bottom right, bottom left).
	Prefer []Corner
	labels []string
	avoid  []shape
}

// New returns a figure of p at w × h with an empty legend.
func New(p *plot.Plot, w, h vg.Length) *Figure {
	l := plot.NewLegend()
	l.TextStyle.Font.Size = vg.Points(9)
	l.ThumbnailWidth = vg.Points(16)
	l.Padding = vg.Points(2)
	return &Figure{Plot: p, Width: w, Height: h, Legend: l}
}

// AddLegend adds a legend entry.
func (f *Figure) AddLegend(name string, thumbs ...plot.Thumbnailer) {
	f.Legend.Add(name, thumbs...)
	f.labels = append(f.labels, name)
}

// Labels are the legend's entries, in order.
func (f *Figure) Labels() []string { return f.labels }

// AvoidLine registers a curve drawn through xys (its segments count, not
// only its vertices).
func (f *Figure) AvoidLine(xys plotter.XYs) { f.avoid = append(f.avoid, shape{xys: xys, line: true}) }

// AvoidPoints registers scattered points.
func (f *Figure) AvoidPoints(xys plotter.XYs) { f.avoid = append(f.avoid, shape{xys: xys}) }

// AvoidRect registers the rectangle [x0, x1] × [y0, y1].
func (f *Figure) AvoidRect(x0, y0, x1, y1 float64) {
	f.avoid = append(f.avoid, shape{xys: plotter.XYs{{X: x0, Y: y0}, {X: x1, Y: y1}}, rect: true})
}

// layout is where a drawn figure put things, in canvas coordinates.
type layout struct {
	data   vg.Rectangle // the data area
	legend vg.Rectangle // the legend's box (zero without entries)
	shapes [][]vg.Point // the avoided data, polylines densified
	rects  []vg.Rectangle
}

// legendSize is the box the legend's entries need, padding included.
func (f *Figure) legendSize() (w, h vg.Length) {
	n := len(f.labels)
	if n == 0 {
		return 0, 0
	}
	sty := f.Legend.TextStyle
	var textW, entryH vg.Length
	for _, s := range f.labels {
		r := sty.Rectangle(s)
		textW = max(textW, r.Max.X)
		entryH = max(entryH, r.Max.Y)
	}
	em := sty.Rectangle(" ").Max.X
	w = f.Legend.ThumbnailWidth + em + textW + 2*pad
	h = vg.Length(n)*entryH + vg.Length(n-1)*f.Legend.Padding + 2*pad + sty.FontExtents().Descent
	return w, h
}

// Place chooses the legend's corner from the data registered with Avoid
// (unless Force is set) and returns it.
func (f *Figure) Place() Corner {
	if f.Force || len(f.labels) == 0 {
		return f.Corner
	}
	// Laid out on the recording canvas: nothing is painted.
	c := draw.New(&probe{w: f.Width, h: f.Height, m: identity})
	order := f.Prefer
	if order == nil {
		order = []Corner{TopRight, TopLeft, BottomRight, BottomLeft}
	}
	for _, corner := range order {
		f.Corner = corner
		l := f.draw(c, false)
		// A little clearance, so a curve does not graze the box.
		if !l.covers(shrink(l.legend, -clearance)) {
			return corner
		}
	}
	f.Corner = Outside
	return Outside
}

// covers reports whether any avoided data lies in r.
func (l layout) covers(r vg.Rectangle) bool {
	in := func(p vg.Point) bool {
		return p.X >= r.Min.X && p.X <= r.Max.X && p.Y >= r.Min.Y && p.Y <= r.Max.Y
	}
	for _, pts := range l.shapes {
		for _, p := range pts {
			if in(p) {
				return true
			}
		}
	}
	for _, b := range l.rects {
		if b.Min.X < r.Max.X && r.Min.X < b.Max.X && b.Min.Y < r.Max.Y && r.Min.Y < b.Max.Y {
			return true
		}
	}
	return false
}

// Draw draws the figure on c.
func (f *Figure) Draw(c draw.Canvas) { f.draw(c, true) }

// Edge is the margin every figure keeps inside its canvas, so no text is
// flush with the image's border.
const Edge = vg.Millimeter * 1.5

// Padded returns fn drawing inside a margin of Edge.
func Padded(fn func(draw.Canvas)) func(draw.Canvas) {
	return func(c draw.Canvas) { fn(draw.Crop(c, Edge, -Edge, Edge, -Edge)) }
}

// draw lays the figure out on c, drawing it when paint is set.
func (f *Figure) draw(c draw.Canvas, paint bool) layout {
	c = draw.Crop(c, Edge, -Edge, Edge, -Edge)
	lw, lh := f.legendSize()
	plotC := c
	if f.Corner == Outside && lw > 0 {
		plotC = draw.Crop(c, 0, -(lw + inset), 0, 0)
	}
	data := f.Plot.DataCanvas(plotC)
	if paint {
		f.Plot.Draw(plotC)
	}
	var l layout
	l.data = data.Rectangle
	tx, ty := f.Plot.Transforms(&data)
	for _, s := range f.avoid {
		if s.rect {
			a, b := s.xys[0], s.xys[1]
			l.rects = append(l.rects, vg.Rectangle{
				Min: vg.Point{X: min(tx(a.X), tx(b.X)), Y: min(ty(a.Y), ty(b.Y))},
				Max: vg.Point{X: max(tx(a.X), tx(b.X)), Y: max(ty(a.Y), ty(b.Y))}})
			continue
		}
		var pts []vg.Point
		for i, xy := range s.xys {
			if math.IsNaN(xy.X) || math.IsNaN(xy.Y) {
				continue
			}
			p := vg.Point{X: tx(xy.X), Y: ty(xy.Y)}
			if s.line && i > 0 {
				q := vg.Point{X: tx(s.xys[i-1].X), Y: ty(s.xys[i-1].Y)}
				d := math.Hypot(float64(p.X-q.X), float64(p.Y-q.Y))
				steps := int(d / 2) // one sample per 2 points of length
				for k := 1; k < steps; k++ {
					u := vg.Length(float64(k) / float64(steps))
					pts = append(pts, vg.Point{X: q.X + (p.X-q.X)*u, Y: q.Y + (p.Y-q.Y)*u})
				}
			}
			pts = append(pts, p)
		}
		l.shapes = append(l.shapes, pts)
	}
	if lw == 0 {
		return l
	}
	r := data.Rectangle
	var box vg.Rectangle
	switch f.Corner {
	case TopRight:
		box.Min = vg.Point{X: r.Max.X - inset - lw, Y: r.Max.Y - inset - lh}
	case TopLeft:
		box.Min = vg.Point{X: r.Min.X + inset, Y: r.Max.Y - inset - lh}
	case BottomRight:
		box.Min = vg.Point{X: r.Max.X - inset - lw, Y: r.Min.Y + inset}
	case BottomLeft:
		box.Min = vg.Point{X: r.Min.X + inset, Y: r.Min.Y + inset}
	case Outside:
		box.Min = vg.Point{X: c.Max.X - lw, Y: r.Max.Y - lh}
	}
	box.Max = vg.Point{X: box.Min.X + lw, Y: box.Min.Y + lh}
	l.legend = box
	if paint {
		c.SetColor(color.RGBA{R: 255, G: 255, B: 255, A: 255})
		c.Fill(box.Path())
		c.SetLineStyle(draw.LineStyle{Color: color.Gray{Y: 190}, Width: vg.Points(0.5)})
		c.Stroke(box.Path())
		lc := draw.Crop(draw.Canvas{Canvas: c.Canvas, Rectangle: box}, pad, -pad, pad, -pad)
		leg := f.Legend
		leg.Top, leg.Left = true, true
		leg.Draw(lc)
	}
	return l
}

// Encode draws the figure as png or svg.
func (f *Figure) Encode(format string) ([]byte, error) {
	f.Place()
	return Encode(f.Draw, f.Width, f.Height, format)
}

// Encode draws fn on a w × h canvas of the format (png or svg).
func Encode(fn func(draw.Canvas), w, h vg.Length, format string) ([]byte, error) {
	var buf bytes.Buffer
	switch format {
	case "png":
		img := vgimg.PngCanvas{Canvas: vgimg.New(w, h)}
		fn(draw.New(img))
		if _, err := img.WriteTo(&buf); err != nil {
			return nil, fmt.Errorf("figure: encode png: %w", err)
		}
	case "svg":
		svg := vgsvg.New(w, h)
		fn(draw.New(svg))
		if _, err := svg.WriteTo(&buf); err != nil {
			return nil, fmt.Errorf("figure: encode svg: %w", err)
		}
	default:
		return nil, fmt.Errorf("figure: unknown image format %q", format)
	}
	return buf.Bytes(), nil
}

// UprightIfCrowded turns p's x tick labels upright when, side by side,
// they would need more than width (long category or class names), so they
// do not run together.
func UprightIfCrowded(p *plot.Plot, width vg.Length) {
	var need vg.Length
	for _, t := range p.X.Tick.Marker.Ticks(p.X.Min, p.X.Max) {
		if t.Label != "" {
			need += p.X.Tick.Label.Rectangle(t.Label).Size().X + vg.Points(6)
		}
	}
	if need > width {
		p.X.Tick.Label.Rotation = math.Pi / 2
		p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	}
}
