// Package proctest runs a Ledgerline service binary as a process of its own, for the
// benchmarks that measure one service alone: it builds the binary, starts it on the
// test's PostgreSQL and NATS with a free HTTP port, waits until it is ready, and reads
// the CPU time and peak resident set size of it, of the test process and of
// PostgreSQL from /proc.
package proctest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/platform/pgtest"
)

// Build compiles the main package pkg (an import path of the workspace, or a
// directory relative to the test's) into the test's temporary directory and returns
// the binary's path.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// Process is a service binary running on its own.
type Process struct {
	Cmd *exec.Cmd
	URL string // the base URL of its HTTP API
}

// Start runs bin on cfg's PostgreSQL, NATS and data dir, with a free HTTP port, log
// level warn and the extra LEDGERLINE_* settings in env, and waits until /readyz
// answers 200. The process is killed when the test ends.
func Start(t testing.TB, bin string, cfg config.Config, env ...string) *Process {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "LEDGERLINE_DATABASE_URL="+cfg.DatabaseURL, "LEDGERLINE_NATS_URL="+cfg.NATSURL,
		"LEDGERLINE_DATA_DIR="+t.TempDir(), "LEDGERLINE_HTTP_ADDR="+addr, "LEDGERLINE_LOG_LEVEL=warn")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Process{Cmd: cmd, URL: "http://" + addr}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(p.URL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become ready in 30 s", filepath.Base(bin))
		}
	}
}

// PeakRSS is the process's high-water resident set size so far (read it before the
// process ends).
func (p *Process) PeakRSS() int64 { return PeakRSS(p.Cmd.Process.Pid) }

// CPU is the user and system time the process has used so far.
func (p *Process) CPU() time.Duration { return CPU(p.Cmd.Process.Pid) }

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// PeakRSS is a process's high-water resident set size (VmHWM), 0 when unknown.
func PeakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// SelfCPU is the user and system time of this process.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// CPU is the user and system time of a process, 0 when unknown.
func CPU(pid int) time.Duration {
	st, _ := stat(strconv.Itoa(pid))
	return st.cpu
}

// PostgresCPU is the user and system time of the test's PostgreSQL server: its
// postmaster, the backends it has reaped and the ones alive. With an external server
// (LEDGERLINE_TEST_DATABASE_URL) it sums every process named postgres instead,
// which on a shared machine counts other servers too.
func PostgresCPU(t testing.TB) time.Duration {
	t.Helper()
	if l := pgtest.Local(t); l != nil {
		if b, err := os.ReadFile(filepath.Join(l.Dir, "postmaster.pid")); err == nil {
			if pid, _, _ := strings.Cut(string(b), "\n"); pid != "" {
				return treeCPU(strings.TrimSpace(pid))
			}
		}
	}
	var total time.Duration
	for _, pid := range pids() {
		if st, ok := stat(pid); ok && st.name == "postgres" {
			total += st.cpu
		}
	}
	return total
}

// treeCPU is the time of a process, of its children it has waited for and of its
// live children.
func treeCPU(parent string) time.Duration {
	st, ok := stat(parent)
	if !ok {
		return 0
	}
	total := st.cpu + st.children
	for _, pid := range pids() {
		if c, ok := stat(pid); ok && c.ppid == parent {
			total += c.cpu
		}
	}
	return total
}

func pids() []string {
	var out []string
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err == nil {
			out = append(out, d.Name())
		}
	}
	return out
}

// procStat is what /proc/<pid>/stat tells of a process.
type procStat struct {
	name, ppid    string
	cpu, children time.Duration // its own user+system time; that of the children it waited for
}

// stat reads /proc/<pid>/stat (times in clock ticks of 10 ms).
func stat(pid string) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < 0 || close+2 > len(s) {
		return procStat{}, false
	}
	f := strings.Fields(s[close+2:])
	if len(f) < 15 {
		return procStat{}, false
	}
	tick := func(i int) time.Duration {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		return time.Duration(v) * 10 * time.Millisecond
	}
	return procStat{name: s[open+1 : close], ppid: f[1], cpu: tick(11) + tick(12), children: tick(13) + tick(14)}, true
}

// Meter measures the CPU time this process and the test's PostgreSQL server
// (PostgresCPU) use from StartMeter on: in a benchmark whose embedded JetStream
// server, clients and service all run in this process, what a phase costs.
type Meter struct {
	t        testing.TB
	self, pg time.Duration
}

// StartMeter starts measuring.
func StartMeter(t testing.TB) Meter { return Meter{t, SelfCPU(), PostgresCPU(t)} }

// Used is the CPU time of this process and of PostgreSQL since the start.
func (m Meter) Used() (self, pg time.Duration) {
	return SelfCPU() - m.self, PostgresCPU(m.t) - m.pg
}

// PerEvent is Used in microseconds per event, for n events.
func (m Meter) PerEvent(n int) (self, pg float64) {
	s, p := m.Used()
	return float64(s.Microseconds()) / float64(n), float64(p.Microseconds()) / float64(n)
}
