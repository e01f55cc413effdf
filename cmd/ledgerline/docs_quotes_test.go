package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Quoted sample files. A fenced block of a guide whose line before (blank
// lines only between) is one of
//
//	<!-- quote: reports/corep-own-funds/template.yaml -->
//	<!-- quote: reports/corep-large-exposures/template.yaml lines 24-60 -->
//	<!-- quote: rules/credit-risk.yaml excerpt -->
//
// must be, byte for byte, that file (the path is from the repository root),
// those lines of it (1-based, both included), or a run of consecutive lines
// found anywhere in it (for a part of a file other work moves up and down).
// TestDocsQuotes checks every such block of the guides TestDocsCommands runs,
// so a sample that changes fails the test until the guide quoting it is
// updated. A ```sh block is run, never quoted.

var quoteComment = regexp.MustCompile(`^quote:\s*(\S+)(?:\s+(?:lines\s+(\d+)-(\d+)|(excerpt)))?$`)

// docQuote is one quoted block of a guide.
type docQuote struct {
	line     int // the comment's line, 1-based
	path     string
	from, to int  // the lines quoted, 1-based, both included; 0 for the whole file
	excerpt  bool // consecutive lines anywhere in the file
	body     []string
	bodyLine int // the line of body[0], 1-based
}

func (q docQuote) what() string {
	switch {
	case q.excerpt:
		return q.path + " (excerpt)"
	case q.from > 0:
		return fmt.Sprintf("%s lines %d-%d", q.path, q.from, q.to)
	}
	return q.path
}

// parseQuotes returns the quoted blocks of a Markdown file. A quote comment
// that is malformed, or that no fenced block follows, is an error: it would
// otherwise check nothing.
func parseQuotes(name, src string) ([]docQuote, error) {
	all, lines, err := parseFences(name, src)
	if err != nil {
		return nil, err
	}
	inside := make([]bool, len(lines)) // lines of fenced blocks, fences included
	attached := map[int]bool{}         // 0-based lines of comments that precede a block
	var (
		quotes []docQuote
		errs   []string
	)
	for _, f := range all {
		for i := f.open; i <= f.close; i++ {
			inside[i] = true
		}
		c, at := commentBefore(lines, f.open)
		if !strings.HasPrefix(c, "quote:") {
			continue
		}
		attached[at] = true
		m := quoteComment.FindStringSubmatch(c)
		if m == nil {
			errs = append(errs, fmt.Sprintf("%s:%d: %q: write <!-- quote: PATH -->, <!-- quote: PATH lines A-B --> or <!-- quote: PATH excerpt -->", name, at+1, c))
			continue
		}
		if len(f.info) > 0 && f.info[0] == "sh" {
			errs = append(errs, fmt.Sprintf("%s:%d: a ```sh block is run, not quoted: quote the file in a ```yaml, ```json or ```text block", name, at+1))
			continue
		}
		q := docQuote{line: at + 1, path: m[1], excerpt: m[4] != "", body: f.body, bodyLine: f.open + 2}
		if m[2] != "" {
			q.from, _ = strconv.Atoi(m[2])
			q.to, _ = strconv.Atoi(m[3])
			if q.from < 1 || q.to < q.from {
				errs = append(errs, fmt.Sprintf("%s:%d: lines %d-%d: want 1 <= A <= B", name, at+1, q.from, q.to))
				continue
			}
		}
		quotes = append(quotes, q)
	}
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if !inside[i] && !attached[i] && strings.HasPrefix(t, "<!--") && strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(t, "<!--")), "quote:") {
			errs = append(errs, fmt.Sprintf("%s:%d: a quote comment must be followed by the fenced block it quotes (blank lines only between)", name, i+1))
		}
	}
	if len(errs) > 0 {
		return quotes, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return quotes, nil
}

// checkQuote compares a quoted block with the file under root it quotes.
func checkQuote(root string, q docQuote) error {
	clean := filepath.Clean(q.path)
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%s: the path must be inside the repository, from its root", q.path)
	}
	b, err := os.ReadFile(filepath.Join(root, clean))
	if err != nil {
		return fmt.Errorf("%s: %w", q.what(), err)
	}
	file := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(q.body) == 0 {
		return fmt.Errorf("%s: the block is empty", q.what())
	}
	if q.excerpt {
		for i := 0; i+len(q.body) <= len(file); i++ {
			if equalLines(file[i:i+len(q.body)], q.body) {
				return nil
			}
		}
		for k, l := range q.body {
			found := false
			for _, fl := range file {
				found = found || fl == l
			}
			if !found {
				return fmt.Errorf("%s: line %d of the guide is not a line of the file: %q", q.what(), q.bodyLine+k, l)
			}
		}
		return fmt.Errorf("%s: the block's %d lines are not consecutive lines of the file", q.what(), len(q.body))
	}
	want, first := file, 1
	if q.from > 0 {
		if q.to > len(file) {
			return fmt.Errorf("%s: the file has %d lines", q.what(), len(file))
		}
		want, first = file[q.from-1:q.to], q.from
	}
	for k := 0; k < len(want) || k < len(q.body); k++ {
		switch {
		case k >= len(q.body):
			return fmt.Errorf("%s: the block ends at line %d of the guide; the file goes on at its line %d: %q", q.what(), q.bodyLine+k-1, first+k, want[k])
		case k >= len(want):
			return fmt.Errorf("%s: the block has more lines than quoted, from line %d of the guide: %q", q.what(), q.bodyLine+k, q.body[k])
		case want[k] != q.body[k]:
			return fmt.Errorf("%s: line %d of the guide differs from line %d of the file:\n  guide: %q\n  file:  %q", q.what(), q.bodyLine+k, first+k, q.body[k], want[k])
		}
	}
	return nil
}

func equalLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkGuideQuotes reports every quoted block of a guide that is not what it quotes.
func checkGuideQuotes(t *testing.T, root, name, src string) int {
	t.Helper()
	quotes, err := parseQuotes(name, src)
	if err != nil {
		t.Error(err)
	}
	for _, q := range quotes {
		if err := checkQuote(root, q); err != nil {
			t.Errorf("%s:%d: the quoted sample is not the file: %v", name, q.line, err)
		}
	}
	return len(quotes)
}

// TestDocsQuotes checks that every quoted sample of the guides is the file it
// quotes; see the comment at the top of this file. It needs no server.
func TestDocsQuotes(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range guides(t, root) {
		src, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		n += checkGuideQuotes(t, root, name, string(src))
	}
	t.Logf("%d quoted sample blocks checked", n)
	if n == 0 {
		t.Error("no quoted sample blocks found: the guides quote the sample templates")
	}
}

// TestParseQuotes: the quote comments and how a block is compared.
func TestParseQuotes(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "s.yaml"), []byte("a: 1\nb:\n  c: 2\nd: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	guide := "<!-- quote: s.yaml -->\n```yaml\na: 1\nb:\n  c: 2\nd: 3\n```\n\n" +
		"<!-- quote: s.yaml lines 2-3 -->\n\n```yaml\nb:\n  c: 2\n```\n" +
		"<!-- quote: s.yaml excerpt -->\n```yaml\n  c: 2\nd: 3\n```\n" +
		"```text\n<!-- quote: inside a block, not a quote -->\n```\n"
	quotes, err := parseQuotes("g.md", guide)
	if err != nil || len(quotes) != 3 || quotes[1].from != 2 || quotes[1].to != 3 || !quotes[2].excerpt || quotes[0].bodyLine != 3 {
		t.Fatalf("parseQuotes: %+v %v", quotes, err)
	}
	for _, q := range quotes {
		if err := checkQuote(root, q); err != nil {
			t.Errorf("%s: %v", q.what(), err)
		}
	}
	stale := []struct{ guide, want string }{
		{"<!-- quote: s.yaml -->\n```yaml\na: 1\nb:\n  c: 2\n```\n", "the file goes on at its line 4"},
		{"<!-- quote: s.yaml -->\n```yaml\na: 1\nb:\n  c: 3\nd: 3\n```\n", "line 5 of the guide differs from line 3 of the file"},
		{"<!-- quote: s.yaml lines 3-5 -->\n```yaml\n  c: 2\n```\n", "the file has 4 lines"},
		{"<!-- quote: s.yaml excerpt -->\n```yaml\nd: 3\na: 1\n```\n", "not consecutive lines"},
		{"<!-- quote: s.yaml excerpt -->\n```yaml\nd: 4\n```\n", "not a line of the file"},
		{"<!-- quote: missing.yaml -->\n```yaml\nx\n```\n", "no such file"},
		{"<!-- quote: ../s.yaml -->\n```yaml\nx\n```\n", "inside the repository"},
	}
	for _, c := range stale {
		qs, err := parseQuotes("g.md", c.guide)
		if err != nil || len(qs) != 1 {
			t.Fatalf("%q: %+v %v", c.guide, qs, err)
		}
		if err := checkQuote(root, qs[0]); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error saying %q", c.guide, err, c.want)
		}
	}
	for _, bad := range []string{
		"<!-- quote: s.yaml -->\n\nprose\n```yaml\nx\n```\n",  // no block right after
		"<!-- quote: s.yaml line 2 -->\n```yaml\nx\n```\n",    // malformed
		"<!-- quote: s.yaml lines 3-2 -->\n```yaml\nx\n```\n", // backwards
		"<!-- quote: s.yaml -->\n```sh\necho quoted\n```\n",   // a sh block is run
	} {
		if _, err := parseQuotes("g.md", bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}
