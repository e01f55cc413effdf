package main_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ledgerline/ledgerline/cmd/ledgerline/demobank"
)

// `ledgerline demo generate` writes the generator's events and late events to the
// files asked for and its summary to stderr; stdout by default.
func TestDemoGenerate(t *testing.T) {
	e := env{t: t}
	dir := t.TempDir()
	events, late := filepath.Join(dir, "q3.ndjson"), filepath.Join(dir, "late.ndjson")
	args := []string{"demo", "generate", "--seed", "7", "--counterparties", "160", "--loans", "400", "--period", "2026-Q3"}
	stdout, stderr, err := e.run(append(args, "--out", events, "--late-out", late)...)
	if err != nil {
		t.Fatalf("demo generate: %v\n%s", err, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout is %q with --out", stdout)
	}
	var sum demobank.Summary
	if err := json.Unmarshal([]byte(stderr), &sum); err != nil {
		t.Fatalf("summary on stderr: %v\n%s", err, stderr)
	}
	want, err := demobank.Generate(demobank.Options{Seed: 7, Counterparties: 160, Loans: 400, Period: "2026-Q3"})
	if err != nil {
		t.Fatal(err)
	}
	ndjson := func(lines [][]byte) []byte { return append(bytes.Join(lines, []byte("\n")), '\n') }
	got, _ := os.ReadFile(events)
	gotLate, _ := os.ReadFile(late)
	if !bytes.Equal(got, ndjson(want.Events)) || !bytes.Equal(gotLate, ndjson(want.Late)) {
		t.Errorf("the files differ from demobank.Generate: %d and %d bytes", len(got), len(gotLate))
	}
	if sum.Events != len(want.Events) || sum.TopGroup.GroupID != want.Summary.TopGroup.GroupID || len(sum.LateIDs) != len(want.Late) {
		t.Errorf("summary: %d events, top group %s, late %v", sum.Events, sum.TopGroup.GroupID, sum.LateIDs)
	}
	if _, err := os.Stat(events + ".partial"); !os.IsNotExist(err) {
		t.Errorf("left %s.partial behind", events)
	}

	// Without --out the events go to stdout, and the late ones nowhere.
	stdout, stderr, err = e.run(args...)
	if err != nil {
		t.Fatalf("demo generate: %v\n%s", err, stderr)
	}
	if stdout != string(got) {
		t.Errorf("stdout has %d bytes, the file %d", len(stdout), len(got))
	}

	// Bad options fail with a message and write nothing.
	bad := filepath.Join(dir, "bad.ndjson")
	_, stderr, err = e.run("demo", "generate", "--period", "2026", "--loans", "5", "--out", bad)
	if err == nil || !strings.Contains(stderr, "period") || !strings.Contains(stderr, "loans") {
		t.Errorf("bad options: err %v, stderr %s", err, stderr)
	}
	if matches, _ := filepath.Glob(bad + "*"); len(matches) > 0 {
		t.Errorf("bad options left %v", matches)
	}
}
