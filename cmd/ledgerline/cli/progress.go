package cli

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows how far a long command is: a bar on a terminal, a line every few
// seconds otherwise (CI logs, pipes).
type progress struct {
	bar   *progressbar.ProgressBar
	out   io.Writer
	total int64
	done  atomic.Int64
	what  string
	unit  string
	last  time.Time
	start time.Time
}

func newProgress(out io.Writer, total int64, what string) *progress {
	return newCounter(out, total, what, "bytes")
}

// newCounter is a progress counting unit ("events") instead of bytes.
func newCounter(out io.Writer, total int64, what, unit string) *progress {
	p := &progress{out: out, total: total, what: what, unit: unit, start: time.Now(), last: time.Now()}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(out),
			progressbar.OptionSetDescription(what),
			progressbar.OptionShowBytes(unit == "bytes"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

// set records the bytes consumed so far.
func (p *progress) set(n int64) {
	p.done.Store(n)
	if p.bar != nil {
		_ = p.bar.Set64(n)
		return
	}
	if time.Since(p.last) >= 2*time.Second {
		p.last = time.Now()
		pct := 100.0
		if p.total > 0 {
			pct = float64(n) * 100 / float64(p.total)
		}
		fmt.Fprintf(p.out, "%s: %.0f%% (%d of %d %s, %s)\n", p.what, pct, n, p.total, p.unit, time.Since(p.start).Round(time.Second))
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// spinner shows that a command is waiting on the server: a spinner on a
// terminal, a line every few seconds otherwise. The returned func stops it.
func spinner(cmd interface{ ErrOrStderr() io.Writer }, what string) func() {
	out := cmd.ErrOrStderr()
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		var bar *progressbar.ProgressBar
		if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(out), progressbar.OptionSetDescription(what),
				progressbar.OptionSpinnerType(14), progressbar.OptionClearOnFinish())
		}
		start := time.Now()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		last := start
		for {
			select {
			case <-done:
				if bar != nil {
					_ = bar.Finish()
				}
				return
			case <-tick.C:
				if bar != nil {
					_ = bar.Add(1)
				} else if time.Since(last) >= 3*time.Second {
					last = time.Now()
					fmt.Fprintf(out, "%s: %s\n", what, time.Since(start).Round(time.Second))
				}
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}
