package main

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const twoSeconds = `t_s,accepted,committed,accepted_per_s,committed_per_s,raw_publish_per_s
0.250,10000,0,40000.000,0.000,150000.000
0.500,20000,4000,40000.000,16000.000,150000.000
0.750,30000,12000,40000.000,32000.000,150000.000
1.000,40000,20000,40000.000,32000.000,150000.000
1.250,50000,30000,40000.000,40000.000,150000.000
1.500,60000,40000,40000.000,40000.000,150000.000
1.750,60000,50000,0.000,40000.000,150000.000
2.000,60000,60000,0.000,40000.000,150000.000
`

func TestRates(t *testing.T) {
	s, err := readSamples(strings.NewReader(twoSeconds))
	if err != nil {
		t.Fatal(err)
	}
	if s.raw != 150000 || len(s.at) != 8 {
		t.Fatalf("raw %v, %d samples", s.raw, len(s.at))
	}
	r := rates(s.at, s.accepted)
	// Over the first second, then over the 4 samples (1 s) before each.
	for i, want := range map[int]float64{1: 40000, 4: 40000, 6: 40000, 8: 20000} {
		if r[i].Y != want {
			t.Errorf("rate at %v s: %v, want %v", r[i].X, r[i].Y, want)
		}
	}
}

func TestPlotIsAPNG(t *testing.T) {
	in := filepath.Join(t.TempDir(), "samples.csv")
	out := filepath.Join(t.TempDir(), "throughput.png")
	if err := os.WriteFile(in, []byte(twoSeconds), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(in, out, ""); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() < 800 || b.Dy() < 400 {
		t.Errorf("image %v, want at least 800×400", b)
	}
}

func TestNoSamples(t *testing.T) {
	if _, err := readSamples(strings.NewReader("t_s,accepted,committed,raw_publish_per_s\n")); err == nil {
		t.Error("no error for a CSV without samples")
	}
}
