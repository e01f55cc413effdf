package proctest

import (
	"os"
	"strconv"
	"testing"
)

func TestThisProcess(t *testing.T) {
	if rss := PeakRSS(os.Getpid()); rss < 1<<20 {
		t.Errorf("peak RSS %d bytes, want at least 1 MiB", rss)
	}
	st, ok := stat(strconv.Itoa(os.Getpid()))
	if !ok || st.name == "" || st.ppid != strconv.Itoa(os.Getppid()) {
		t.Errorf("stat of this process: %+v, %v (parent %d)", st, ok, os.Getppid())
	}
	if SelfCPU() <= 0 {
		t.Error("no CPU time for this process")
	}
}

func TestGoneProcess(t *testing.T) {
	// Pid 0 has no /proc entry: unknown, not an error.
	if PeakRSS(0) != 0 || CPU(0) != 0 {
		t.Error("a process that does not exist has RSS or CPU")
	}
}
