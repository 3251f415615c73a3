package boosting

import (
	"context"
	"math"
	"math/rand"
	"testing"
)

func synth(n int, seed int64) Data {
	rng := rand.New(rand.NewSource(seed))
	d := Data{Features: 3, Classes: 2}
	for i := 0; i < n; i++ {
		a, b, c := rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()
		y := 0
		if a+0.5*b*b > 0.5 {
			y = 1
		}
		if i%7 == 0 {
			b = math.NaN()
		}
		d.X = append(d.X, a, b, c)
		d.Y = append(d.Y, y)
	}
	return d
}

func TestTrainLearnsAndRoundTripsExactly(t *testing.T) {
	tr, va := synth(2000, 1), synth(500, 2)
	m, err := Train(context.Background(), tr, va, Defaults())
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.PredictProba(va.X)
	if err != nil {
		t.Fatal(err)
	}
	correct := 0
	for r, y := range va.Y {
		if (p[2*r+1] > 0.5) == (y == 1) {
			correct++
		}
	}
	if acc := float64(correct) / float64(len(va.Y)); acc < 0.9 {
		t.Fatalf("validation accuracy %.3f < 0.9", acc)
	}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := m2.PredictProba(va.X)
	for i := range p {
		if p[i] != p2[i] {
			t.Fatalf("reloaded prediction %d: %v != %v", i, p2[i], p[i])
		}
	}
	if imp := m.GainImportance(); imp[2] >= imp[0] {
		t.Fatalf("noise feature importance %v ≥ signal %v", imp[2], imp[0])
	}
}

func TestTrainRejectsBadOptions(t *testing.T) {
	o := Defaults()
	o.Subsample = 0
	if _, err := Train(context.Background(), synth(50, 1), Data{}, o); err == nil {
		t.Fatal("subsample 0 accepted")
	}
}
