package envelope

import (
	"strings"
	"testing"
)

func TestStreamSubject(t *testing.T) {
	tests := []struct {
		typ, subject string
	}{
		{"loan.balance", "LN-1"},
		{"fx.rate", "USD/EUR"},
		{"void", "LN 2001.A-Zürich"},
		{"gl.posting", "a.b.*.>"},
		{"security.position", strings.Repeat("x", 256)},
	}
	for _, tt := range tests {
		got := StreamSubject(tt.typ, tt.subject)
		tokens := strings.Split(got, ".")
		if len(tokens) != 3 || tokens[0] != "events" || len(tokens[2]) != 2 {
			t.Errorf("StreamSubject(%q, %q) = %q: want events.<type>.<2 hex digits>", tt.typ, tt.subject, got)
		}
		if strings.ContainsAny(got, " *>") {
			t.Errorf("StreamSubject(%q, %q) = %q leaks the business subject", tt.typ, tt.subject, got)
		}
		if back := TypeFromSubject(got); back != tt.typ {
			t.Errorf("TypeFromSubject(%q) = %q, want %q", got, back, tt.typ)
		}
		if again := StreamSubject(tt.typ, tt.subject); again != got {
			t.Errorf("not deterministic: %q then %q", got, again)
		}
	}
}

func TestPartitionFilterCoversEveryBucketOnce(t *testing.T) {
	for _, n := range []int{1, 3, 4, 7, 16} {
		seen := map[string]int{}
		for i := 0; i < n; i++ {
			for _, f := range PartitionFilter(i, n) {
				seen[f]++
			}
		}
		if len(seen) != Buckets {
			t.Fatalf("n=%d: %d buckets covered, want %d", n, len(seen), Buckets)
		}
		for f, c := range seen {
			if c != 1 {
				t.Fatalf("n=%d: %s covered %d times", n, f, c)
			}
		}
	}
	subj := StreamSubject("loan.balance", "LN-1")
	bucket := subj[strings.LastIndexByte(subj, '.')+1:]
	found := 0
	for i := 0; i < 4; i++ {
		for _, f := range PartitionFilter(i, 4) {
			if strings.HasSuffix(f, "."+bucket) {
				found++
			}
		}
	}
	if found != 1 {
		t.Fatalf("subject %s falls in %d partitions of 4, want 1", subj, found)
	}
}
