package synthetic

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/fault"
)

// ErrOptions is wrapped by every Options error; the message names the
// option.
var ErrOptions = fault.New(fault.Invalid, "synthetic: invalid options")

// Options shape a detection stream. Start from DefaultOptions: every field
// is used as given (zero included), and Check refuses what is out of range.
type Options struct {
	// Rows is the number of detections (at least 1).
	Rows int64
	// Seed seeds every draw: the same options give the same table, for any
	// ChunkRows.
	Seed uint64
	// PositiveFraction is the share of objects that are real, in (0, 1):
	// the class imbalance (detections follow their objects).
	PositiveFraction float64
	// LabelNoise is the probability, in [0, 0.5), that a detection's label
	// is flipped (the features keep the true class).
	LabelNoise float64
	// MissingRate is the share of detections, in [0, 1), with no
	// reference-image counterpart: mag_ref and mag_ref_err hold the
	// catalog sentinel 99.
	MissingRate float64
	// DetectionsPerObject is the mean number of detections of an object
	// (1 + a Poisson count), at least 1.
	DetectionsPerObject float64
	// ChunkRows is how many rows are generated and written at a time (the
	// memory used); at least 1.
	ChunkRows int
}

// DefaultOptions returns 1,000,000 rows, seed 1, 10 % real objects, no
// label noise, 2 % of detections without a reference counterpart, 5
// detections per object on average, chunks of 65,536 rows.
func DefaultOptions() Options {
	return Options{Rows: 1_000_000, Seed: 1, PositiveFraction: 0.1, MissingRate: 0.02, DetectionsPerObject: 5, ChunkRows: 65536}
}

// Check reports the first option out of range.
func (o Options) Check() error {
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrOptions, name, fmt.Sprintf(format, args...))
	}
	switch {
	case o.Rows < 1:
		return bad("rows", "%d is not positive", o.Rows)
	case !(o.PositiveFraction > 0 && o.PositiveFraction < 1):
		return bad("positive_fraction", "%v is not in (0, 1)", o.PositiveFraction)
	case !(o.LabelNoise >= 0 && o.LabelNoise < 0.5):
		return bad("label_noise", "%v is not in [0, 0.5)", o.LabelNoise)
	case !(o.MissingRate >= 0 && o.MissingRate < 1):
		return bad("missing_rate", "%v is not in [0, 1)", o.MissingRate)
	case !(o.DetectionsPerObject >= 1) || math.IsInf(o.DetectionsPerObject, 0):
		return bad("detections_per_object", "%v is below 1", o.DetectionsPerObject)
	case o.ChunkRows < 1:
		return bad("chunk_rows", "%d is not positive", o.ChunkRows)
	}
	return nil
}

// Target is the label column: 1 real, 0 bogus. IDColumn, GroupColumn and
// SplitColumn name the identifier, the object and the published split
// (train 70 %, validation 15 %, test 15 % of the objects). MissingSentinel
// is the value of mag_ref and mag_ref_err without a counterpart.
const (
	Target          = "real"
	IDColumn        = "detection_id"
	GroupColumn     = "object_id"
	SplitColumn     = "split"
	KindColumn      = "kind"
	MissingSentinel = 99.0
)

// Kinds of detection (the KindColumn): a real astrophysical source and
// three kinds of artefact.
const (
	KindReal           = "real"
	KindCosmicRay      = "cosmic_ray"
	KindGhost          = "ghost"
	KindBadSubtraction = "bad_subtraction"
)

// features are the Float64 columns, in table order.
var features = []string{
	"mjd", "mag", "mag_err", "snr", "mag_ref", "mag_ref_err",
	"lc_amplitude", "lc_std", "lc_skew", "lc_kurtosis", "lc_eta", "lc_beyond1std", "lc_log_period", "lc_ls_power",
	"fwhm", "elongation", "ellipticity", "flux_ratio", "neg_pix_frac", "spread_model", "chi_psf",
}

var units = map[string]string{
	"mjd": "d", "mag": "mag", "mag_err": "mag", "mag_ref": "mag", "mag_ref_err": "mag", "lc_amplitude": "mag",
	"lc_std": "mag", "fwhm": "arcsec",
}

// Columns returns the table's columns: detection_id, object_id, the
// Float64 features, n_prev (earlier detections of the object), kind,
// split and real.
func Columns() []dataset.WriteColumn {
	cols := []dataset.WriteColumn{{Name: IDColumn, Type: dataset.Int64}, {Name: GroupColumn, Type: dataset.Int64}}
	for _, f := range features {
		cols = append(cols, dataset.WriteColumn{Name: f, Type: dataset.Float64, Unit: units[f]})
	}
	return append(cols,
		dataset.WriteColumn{Name: "n_prev", Type: dataset.Int32},
		dataset.WriteColumn{Name: KindColumn, Type: dataset.String, Width: 16},
		dataset.WriteColumn{Name: SplitColumn, Type: dataset.String, Width: 10},
		dataset.WriteColumn{Name: Target, Type: dataset.Int32})
}

// Summary counts what Generate wrote.
type Summary struct {
	Rows     int64 `json:"rows"`
	Objects  int64 `json:"objects"`
	Real     int64 `json:"real_detections"`
	Positive int64 `json:"positive_labels"`
	Flipped  int64 `json:"flipped_labels"`
	Missing  int64 `json:"missing_reference"`
	Chunks   int   `json:"chunks"`
}

// object is the latent state of the object whose detections are being
// drawn.
type object struct {
	id        int64
	kind      string
	left      int // detections still to draw
	seen      int
	m0, amp   float64
	logPeriod float64
	phase     float64
	t         float64
	split     string
	// light-curve summary of the object, perturbed per detection
	skew, kurt, eta, beyond, power float64
	// mimic: an artefact whose image moments are drawn as a real source's
	mimic bool
}

// Generate writes o.Rows detections to w, in chunks of o.ChunkRows, with
// the columns of Columns. w must have been made with those columns (and,
// for FITS, o.Rows rows). It returns what it wrote; ctx is checked between
// chunks.
//
// The generative model, per object: real with probability
// PositiveFraction, else a cosmic ray (40 %), a ghost (30 %) or a bad
// subtraction (30 %); 1 + Poisson(DetectionsPerObject - 1) detections at
// times 3-day exponential gaps apart. A real object has a base magnitude
// N(19.5, 1.1), a sinusoidal light curve of amplitude LogNormal(ln 0.3,
// 0.5) and period 10^U(-1, 2) days; an artefact N(20.2, 0.9) and
// amplitude LogNormal(ln 0.1, 0.6) of white noise. Magnitude errors follow
// 0.01 + 0.05·10^(0.4(mag-20)). Light-curve statistics (skewness,
// kurtosis, von Neumann eta, fraction beyond 1σ, Lomb-Scargle power) and
// image moments (FWHM against the seeing, elongation, PSF/aperture flux
// ratio, negative-pixel fraction, spread_model, PSF χ²) are drawn from
// per-kind distributions that overlap, so no single feature separates the
// classes; 30 % of artefacts draw their image moments, and independently
// 30 % their light curve, as a real source does. The split is drawn per object, so one object's detections
// share it.
func Generate(ctx context.Context, w dataset.TableWriter, o Options) (Summary, error) {
	if err := o.Check(); err != nil {
		return Summary{}, err
	}
	g := &generator{o: o, rng: rand.New(rand.NewPCG(o.Seed, 0x5eed5eed5eed5eed))}
	cols := Columns()
	batch := make([]dataset.Values, len(cols))
	var sum Summary
	for sum.Rows < o.Rows {
		if err := ctx.Err(); err != nil {
			return sum, fmt.Errorf("generate detections: %w", err)
		}
		n := int(min(int64(o.ChunkRows), o.Rows-sum.Rows))
		g.fill(batch, n, &sum)
		if err := w.Write(ctx, batch); err != nil {
			return sum, fmt.Errorf("generate detections: write rows %d-%d: %w", sum.Rows+1, sum.Rows+int64(n), err)
		}
		sum.Rows += int64(n)
		sum.Chunks++
	}
	sum.Objects = g.objects
	return sum, nil
}

type generator struct {
	o       Options
	rng     *rand.Rand
	obj     object
	objects int64
	nextID  int64
}

// resize makes every column of batch hold n values.
func resize(batch []dataset.Values, n int) {
	for j, c := range Columns() {
		switch c.Type {
		case dataset.Float64:
			if cap(batch[j].F) < n {
				batch[j].F = make([]float64, n)
			}
			batch[j].F = batch[j].F[:n]
		case dataset.String:
			if cap(batch[j].S) < n {
				batch[j].S = make([]string, n)
			}
			batch[j].S = batch[j].S[:n]
		default:
			if cap(batch[j].I) < n {
				batch[j].I = make([]int64, n)
			}
			batch[j].I = batch[j].I[:n]
		}
	}
}

func (g *generator) fill(batch []dataset.Values, n int, sum *Summary) {
	resize(batch, n)
	f := func(name string) []float64 { return batch[2+featureIndex[name]].F }
	mjd, mag, magErr, snr := f("mjd"), f("mag"), f("mag_err"), f("snr")
	magRef, magRefErr := f("mag_ref"), f("mag_ref_err")
	amp, std, skew, kurt, eta, beyond, logP, power := f("lc_amplitude"), f("lc_std"), f("lc_skew"), f("lc_kurtosis"),
		f("lc_eta"), f("lc_beyond1std"), f("lc_log_period"), f("lc_ls_power")
	fwhm, elong, ellip, fluxRatio, negPix, spread, chi := f("fwhm"), f("elongation"), f("ellipticity"), f("flux_ratio"),
		f("neg_pix_frac"), f("spread_model"), f("chi_psf")
	nf := len(features)
	ids, objIDs := batch[0].I, batch[1].I
	nPrev, kinds, splits, labels := batch[2+nf].I, batch[3+nf].S, batch[4+nf].S, batch[5+nf].I
	r := g.rng
	norm := func(mu, sigma float64) float64 { return mu + sigma*r.NormFloat64() }
	logNorm := func(mu, sigma float64) float64 { return math.Exp(norm(mu, sigma)) }
	for i := range n {
		if g.obj.left == 0 {
			g.newObject()
		}
		ob := &g.obj
		g.nextID++
		ids[i], objIDs[i] = g.nextID, ob.id
		ob.t += r.ExpFloat64() * 3
		mjd[i] = ob.t
		real := ob.kind == KindReal
		var m float64
		if real {
			m = ob.m0 + ob.amp*math.Sin(2*math.Pi*(ob.t-59000)/math.Pow(10, ob.logPeriod)+ob.phase)
		} else {
			m = ob.m0 + ob.amp*r.NormFloat64()
		}
		sigma := min(1, (0.01+0.05*math.Pow(10, 0.4*(m-20)))*logNorm(0, 0.15))
		mag[i], magErr[i], snr[i] = m+sigma*r.NormFloat64(), sigma, 1.0857/sigma
		if r.Float64() < g.o.MissingRate {
			magRef[i], magRefErr[i] = MissingSentinel, MissingSentinel
			sum.Missing++
		} else {
			magRef[i], magRefErr[i] = ob.m0+norm(0, 0.05), 0.01+0.02*r.Float64()
			if !real {
				magRef[i] += norm(0.6, 0.5) // an artefact rarely sits on a reference source
			}
		}
		amp[i] = ob.amp * (1 + norm(0, 0.1))
		std[i] = amp[i] / math.Sqrt2 * (1 + norm(0, 0.1))
		skew[i], kurt[i], eta[i] = ob.skew+norm(0, 0.1), ob.kurt+norm(0, 0.15), ob.eta*(1+norm(0, 0.05))
		beyond[i], power[i] = ob.beyond+norm(0, 0.02), min(1, max(0, ob.power+norm(0, 0.03)))
		logP[i] = ob.logPeriod + norm(0, 0.05)
		seeing := min(2, max(0.6, norm(1.1, 0.15)))
		imageKind := ob.kind
		if ob.mimic {
			imageKind = KindReal
		}
		switch imageKind {
		case KindReal:
			fwhm[i], elong[i], fluxRatio[i] = seeing*norm(1, 0.05), 1+math.Abs(norm(0, 0.06)), norm(1, 0.04)
			negPix[i], spread[i], chi[i] = 0.1*math.Pow(r.Float64(), 3), norm(0, 0.002), logNorm(0, 0.15)
		case KindCosmicRay:
			fwhm[i], elong[i], fluxRatio[i] = seeing*norm(0.45, 0.08), 1+r.ExpFloat64()*0.8, norm(1.4, 0.2)
			negPix[i], spread[i], chi[i] = 0.15*r.Float64(), norm(-0.01, 0.004), logNorm(0.7, 0.4)
		case KindGhost:
			fwhm[i], elong[i], fluxRatio[i] = seeing*norm(2.2, 0.4), 1+math.Abs(norm(0, 0.2)), norm(0.8, 0.15)
			negPix[i], spread[i], chi[i] = 0.15*r.Float64(), norm(0.02, 0.008), logNorm(0.7, 0.4)
		default: // bad subtraction
			fwhm[i], elong[i], fluxRatio[i] = seeing*norm(1.1, 0.2), 1+r.ExpFloat64()*0.4, norm(0.7, 0.2)
			negPix[i], spread[i], chi[i] = 0.2+0.3*r.Float64(), norm(0.005, 0.006), logNorm(0.7, 0.4)
		}
		fwhm[i] = max(0.1, fwhm[i])
		ellip[i] = 1 - 1/elong[i]
		nPrev[i] = int64(ob.seen)
		kinds[i], splits[i] = ob.kind, ob.split
		label := int64(0)
		if real {
			label = 1
			sum.Real++
		}
		if g.o.LabelNoise > 0 && r.Float64() < g.o.LabelNoise {
			label = 1 - label
			sum.Flipped++
		}
		labels[i] = label
		sum.Positive += label
		ob.seen++
		ob.left--
	}
}

// featureIndex maps a feature to its index among features.
var featureIndex = func() map[string]int {
	m := make(map[string]int, len(features))
	for i, f := range features {
		m[f] = i
	}
	return m
}()

// newObject draws the next object.
func (g *generator) newObject() {
	r := g.rng
	g.objects++
	norm := func(mu, sigma float64) float64 { return mu + sigma*r.NormFloat64() }
	ob := object{id: g.objects, t: 59000 + 1000*r.Float64(), left: 1 + poisson(r, g.o.DetectionsPerObject-1),
		phase: 2 * math.Pi * r.Float64()}
	if r.Float64() < g.o.PositiveFraction {
		ob.kind = KindReal
		ob.m0, ob.amp, ob.logPeriod = norm(19.5, 1.1), math.Exp(norm(math.Log(0.3), 0.5)), -1+3*r.Float64()
		ob.skew, ob.kurt, ob.eta = norm(0, 0.4), norm(-1.0, 0.5), math.Exp(norm(math.Log(0.9), 0.4))
		ob.beyond, ob.power = norm(0.36, 0.06), 0.3+0.55*r.Float64()
	} else {
		switch u := r.Float64(); {
		case u < 0.4:
			ob.kind = KindCosmicRay
		case u < 0.7:
			ob.kind = KindGhost
		default:
			ob.kind = KindBadSubtraction
		}
		ob.m0, ob.amp, ob.logPeriod = norm(20.2, 0.9), math.Exp(norm(math.Log(0.1), 0.6)), -1+3*r.Float64()
		ob.mimic = r.Float64() < mimicImage
		if r.Float64() < mimicLightCurve {
			// An artefact on a variable source: its light curve looks real.
			ob.amp = math.Exp(norm(math.Log(0.3), 0.5))
			ob.skew, ob.kurt, ob.eta = norm(0, 0.4), norm(-1.0, 0.5), math.Exp(norm(math.Log(0.9), 0.4))
			ob.beyond, ob.power = norm(0.36, 0.06), 0.3+0.55*r.Float64()
		} else {
			ob.skew, ob.kurt, ob.eta = norm(0.6, 0.6), norm(0.8, 1.0), math.Abs(norm(1.5, 0.5))
			ob.beyond, ob.power = norm(0.28, 0.08), 0.6*r.Float64()
		}
	}
	switch u := r.Float64(); {
	case u < 0.7:
		ob.split = "train"
	case u < 0.85:
		ob.split = "validation"
	default:
		ob.split = "test"
	}
	g.obj = ob
}

// The share of artefacts that look real in their image moments, and in
// their light curves (drawn independently, so some look real in both and
// only the reference magnitude tells them apart).
const (
	mimicImage      = 0.3
	mimicLightCurve = 0.3
)

// poisson draws a Poisson count of mean lambda (Knuth's multiplication
// method for small means, a rounded normal approximation above 30).
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64())))
	}
	limit, p, k := math.Exp(-lambda), 1.0, 0
	for {
		p *= r.Float64()
		if p <= limit {
			return k
		}
		k++
	}
}
