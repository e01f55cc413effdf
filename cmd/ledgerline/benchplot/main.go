// Command benchplot draws the throughput over time of the end-to-end benchmark
// (BenchmarkEndToEnd in cmd/ledgerline) from the samples it wrote as CSV: events
// accepted by ingest per second and events covered by committed contributions per
// second, with the raw JetStream async publish rate of the same run as the
// reference line. make bench runs it to write bench/throughput.png:
//
//	go run ./benchplot -in ../../bench/throughput.csv -out ../../bench/throughput.png
//
// It draws with gonum.org/v1/plot: pure Go (no cgo, no system fonts), PNG output.
package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// window is how many samples (of 250 ms) each plotted rate is averaged over: the
// rule worker commits in batches of 2,000 events, so a single interval jumps.
const window = 4

func main() {
	in := flag.String("in", "bench/throughput.csv", "the samples written by BenchmarkEndToEnd")
	out := flag.String("out", "bench/throughput.png", "the PNG to write")
	title := flag.String("title", "", "the plot's title (default: from the samples)")
	flag.Parse()
	if err := run(*in, *out, *title); err != nil {
		fmt.Fprintln(os.Stderr, "benchplot:", err)
		os.Exit(1)
	}
}

func run(in, out, title string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	s, err := readSamples(f)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	p, err := throughputPlot(s, title)
	if err != nil {
		return err
	}
	return p.Save(10*vg.Inch, 5*vg.Inch, out)
}

// samples are the columns of the CSV, one value per sample.
type samples struct {
	at, accepted, committed []float64 // seconds since the first POST, cumulative events
	raw                     float64   // raw JetStream async publish, events/s
}

func readSamples(r io.Reader) (samples, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return samples{}, err
	}
	if len(rows) < 2 {
		return samples{}, errors.New("no samples")
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, name := range []string{"t_s", "accepted", "committed", "raw_publish_per_s"} {
		if _, ok := col[name]; !ok {
			return samples{}, fmt.Errorf("no column %s", name)
		}
	}
	var s samples
	for line, row := range rows[1:] {
		var v [4]float64
		for i, name := range []string{"t_s", "accepted", "committed", "raw_publish_per_s"} {
			if v[i], err = strconv.ParseFloat(row[col[name]], 64); err != nil {
				return samples{}, fmt.Errorf("line %d, %s: %w", line+2, name, err)
			}
		}
		s.at, s.accepted, s.committed, s.raw = append(s.at, v[0]), append(s.accepted, v[1]), append(s.committed, v[2]), v[3]
	}
	return s, nil
}

// rates are the events per second of a cumulative count, each over the window of
// samples before it.
func rates(at, count []float64) plotter.XYs {
	xy := make(plotter.XYs, 0, len(at)+1)
	xy = append(xy, plotter.XY{X: 0, Y: 0})
	for i := range at {
		j := max(0, i-window)
		t0, c0 := 0.0, 0.0
		if i >= window {
			t0, c0 = at[j], count[j]
		}
		if dt := at[i] - t0; dt > 0 {
			xy = append(xy, plotter.XY{X: at[i], Y: (count[i] - c0) / dt})
		}
	}
	return xy
}

func throughputPlot(s samples, title string) (*plot.Plot, error) {
	n := s.committed[len(s.committed)-1]
	end := s.at[len(s.at)-1]
	if title == "" {
		title = fmt.Sprintf("Ledgerline end to end: %s events, POST /v1/events to committed contributions (%s events/s)",
			thousands(n), thousands(n/end))
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "time since the first POST (s)"
	p.Y.Label.Text = "events per second (1 s moving average)"
	p.X.Tick.Marker = plainTicks{}
	p.Y.Tick.Marker = kiloTicks{}
	p.X.Min, p.Y.Min = 0, 0
	p.Legend.Top = true
	p.Legend.Left = false
	p.Add(plotter.NewGrid())

	lines := []struct {
		label string
		xy    plotter.XYs
		color color.Color
		dash  []vg.Length
	}{
		{"ingest: events accepted/s", rates(s.at, s.accepted), color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, nil},
		{"rules: events covered by committed contributions/s", rates(s.at, s.committed), color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, nil},
		{fmt.Sprintf("raw JetStream async publish, same run: %s/s (the limit)", thousands(s.raw)),
			plotter.XYs{{X: 0, Y: s.raw}, {X: end, Y: s.raw}}, color.Gray{Y: 0x40}, []vg.Length{vg.Points(6), vg.Points(4)}},
		{fmt.Sprintf("end to end, mean: %s/s", thousands(n/end)),
			plotter.XYs{{X: 0, Y: n / end}, {X: end, Y: n / end}}, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, []vg.Length{vg.Points(2), vg.Points(3)}},
	}
	for _, l := range lines {
		line, err := plotter.NewLine(l.xy)
		if err != nil {
			return nil, err
		}
		line.LineStyle = draw.LineStyle{Color: l.color, Width: vg.Points(1.5), Dashes: l.dash}
		p.Add(line)
		p.Legend.Add(l.label, line)
		for _, xy := range l.xy {
			p.Y.Max = math.Max(p.Y.Max, xy.Y*1.25) // room for the legend
		}
	}
	return p, nil
}

// plainTicks labels the default ticks with as few digits as they need ("25", not
// "25.00").
type plainTicks struct{}

func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i, t := range ticks {
		if t.Label != "" {
			ticks[i].Label = strconv.FormatFloat(t.Value, 'f', -1, 64)
		}
	}
	return ticks
}

// kiloTicks labels the default ticks in thousands ("40k").
type kiloTicks struct{}

func (kiloTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i, t := range ticks {
		if t.Label != "" {
			ticks[i].Label = strconv.FormatFloat(t.Value/1000, 'f', -1, 64) + "k"
			if t.Value == 0 {
				ticks[i].Label = "0"
			}
		}
	}
	return ticks
}

// thousands formats v rounded, with commas: 1234567 → "1,234,567".
func thousands(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
