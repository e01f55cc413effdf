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
	_, cpu, _ := stat(strconv.Itoa(pid))
	return cpu
}

// PostgresCPU sums the user and system time of the processes named postgres.
func PostgresCPU() time.Duration {
	var total time.Duration
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		if name, cpu, ok := stat(d.Name()); ok && name == "postgres" {
			total += cpu
		}
	}
	return total
}

// stat reads a process's name and CPU time from /proc/<pid>/stat (clock ticks of
// 10 ms).
func stat(pid string) (name string, cpu time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return "", 0, false
	}
	s := string(b)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < 0 {
		return "", 0, false
	}
	f := strings.Fields(s[close+2:])
	if len(f) < 13 {
		return "", 0, false
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return s[open+1 : close], time.Duration(ut+st) * 10 * time.Millisecond, true
}
