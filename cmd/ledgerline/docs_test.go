package main_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/platform/pgtest"
)

// The docs' commands. Every ```sh block of README.md, DEVELOPERS.md,
// CONTRIBUTING.md and docs/*.md is run by TestDocsCommands, guide by guide, in
// order, as one bash script per guide (set -e -o pipefail: a failing command
// stops its guide). The convention, as CONTRIBUTING.md states it:
//
//   - ```sh: commands the reader can run at that point of the guide; the test runs
//     them (curl as with --fail-with-body: an HTTP error fails the command).
//   - ```text right after a ```sh block: what its commands print, checked loosely
//     (blanks collapsed, "..." for anything; see unmatched).
//   - ```sh no-test: a command the test cannot run (make test itself, a real
//     regulator's server); the line before the fence is an HTML comment with the
//     reason. They are counted, listed and capped at noTestBudget.
//   - ```console, ```text, ```json, ```yaml, ...: never run.
//   - ```bash, ```shell, ```zsh are refused: say sh or console.
//   - a block after <!-- quote: FILE -->, <!-- quote: FILE lines A-B --> or
//     <!-- quote: FILE excerpt -->: a sample file, checked to be exactly that
//     (docs_quotes_test.go; TestDocsQuotes runs the check alone, without a server).
//
// Each guide runs in a scratch directory of its own holding copies of the
// sample files at the paths the docs use (schemas/, rules/, reports/,
// docs/examples/) and bin/ledgerline, the built binary, which is also on PATH as
// ledgerline. Unless the guide starts `ledgerline serve` itself, the test serves
// an instance from that directory (its data dir ./var, as a reader's) and the
// guide runs with LEDGERLINE_SERVER set to it: what the docs tell the reader to
// set. LEDGERLINE_DATABASE_URL (a fresh test database) and LEDGERLINE_HTTP_ADDR
// (a free port) stand in for the reader's defaults, so `ledgerline keys create`
// reaches the server's database as it would.

// noTestBudget is the most ```sh no-test commands the docs may have. Raise it
// only for a command that truly cannot run in a test.
const noTestBudget = 18

// guides are the files whose ```sh blocks are run, relative to the repository root.
func guides(t *testing.T, root string) []string {
	t.Helper()
	files := []string{"README.md", "DEVELOPERS.md", "CONTRIBUTING.md"}
	more, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(more)
	for _, m := range more {
		rel, _ := filepath.Rel(root, m)
		files = append(files, rel)
	}
	return files
}

// sampleDirs are copied into each guide's scratch directory.
var sampleDirs = []string{"schemas", "rules", "reports", filepath.Join("docs", "examples")}

// docCommand is one shell command of a guide: its first line in the file and its text.
type docCommand struct {
	line int
	text string
}

// docBlock is one fenced ```sh block.
type docBlock struct {
	line     int // the opening fence
	noTest   bool
	reason   string
	commands []docCommand
	// output is what a ```text block right after the block (nothing but blank
	// lines between) shows the commands print, from line outputLine; "..."
	// stands for anything.
	output     []string
	outputLine int
}

// fence is a fence line as CommonMark has it: a backtick fence's info string
// holds no backtick (so a line starting with inline code is no fence).
var fence = regexp.MustCompile("^ {0,3}(```+|~~~+)\\s*([^`]*)$")

// fenced is one fenced block of a Markdown file.
type fenced struct {
	open, close int // 0-based lines of the fences
	info        []string
	body        []string
}

// parseFences returns the fenced blocks of a Markdown file and its lines.
func parseFences(name, src string) ([]fenced, []string, error) {
	lines := strings.Split(src, "\n")
	var all []fenced
	for i := 0; i < len(lines); i++ {
		m := fence.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		end := i + 1
		for end < len(lines) && strings.TrimSpace(lines[end]) != m[1] {
			end++
		}
		if end == len(lines) {
			return nil, nil, fmt.Errorf("%s:%d: the fence is never closed", name, i+1)
		}
		all = append(all, fenced{open: i, close: end, info: strings.Fields(m[2]), body: lines[i+1 : end]})
		i = end
	}
	return all, lines, nil
}

// commentBefore is the line before a fence, blank lines skipped, when it is an
// HTML comment: its text, and its 0-based line (-1 when there is none).
func commentBefore(lines []string, open int) (string, int) {
	prev := open - 1
	for prev >= 0 && strings.TrimSpace(lines[prev]) == "" {
		prev--
	}
	if c := strings.TrimSpace(lineAt(lines, prev)); strings.HasPrefix(c, "<!--") && strings.HasSuffix(c, "-->") {
		return strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(c, "<!--"), "-->")), prev
	}
	return "", -1
}

// parseGuide returns the sh blocks of a Markdown file.
func parseGuide(name, src string) ([]docBlock, error) {
	all, lines, err := parseFences(name, src)
	if err != nil {
		return nil, err
	}
	var (
		blocks []docBlock
		errs   []error
	)
	for k, f := range all {
		lang, start := "", f.open+1
		if len(f.info) > 0 {
			lang = f.info[0]
		}
		switch lang {
		case "sh":
		case "bash", "shell", "zsh", "shell-session":
			errs = append(errs, fmt.Errorf("%s:%d: ```%s: write ```sh for commands the test runs, ```console or ```text for output", name, start, lang))
			continue
		default:
			for n, l := range f.body {
				if strings.HasPrefix(strings.TrimSpace(l), "$ ") {
					errs = append(errs, fmt.Errorf("%s:%d: a command in a block that is not run: put it in a ```sh block, and what it prints in a ```text block right after", name, start+1+n))
				}
			}
			continue
		}
		b := docBlock{line: start}
		if len(f.info) > 1 {
			if f.info[1] != "no-test" || len(f.info) > 2 {
				errs = append(errs, fmt.Errorf("%s:%d: ```%s: the only option of a sh block is no-test", name, start, strings.Join(f.info, " ")))
				continue
			}
			b.noTest = true
			b.reason, _ = commentBefore(lines, f.open)
			if b.reason == "" {
				errs = append(errs, fmt.Errorf("%s:%d: a ```sh no-test block needs the reason in an HTML comment on the line before it", name, start))
			}
		}
		if k+1 < len(all) && len(all[k+1].info) > 0 && all[k+1].info[0] == "text" &&
			strings.TrimSpace(strings.Join(lines[f.close+1:all[k+1].open], "")) == "" {
			b.output, b.outputLine = all[k+1].body, all[k+1].open+2
		}
		cmds, err := splitCommands(f.body, start+1)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%w", name, err))
			continue
		}
		b.commands = cmds
		blocks = append(blocks, b)
	}
	return blocks, errors.Join(errs...)
}

func lineAt(lines []string, i int) string {
	if i < 0 || i >= len(lines) {
		return ""
	}
	return lines[i]
}

var heredoc = regexp.MustCompile(`^<<(-?)\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)['"]?`)

// splitCommands cuts a block's lines into complete shell commands: a command
// goes on past a line ending in \, |, && or ||, an open quote, parenthesis or
// here-document. Lines holding only a comment (the output the docs show) are
// not commands. first is the file line of lines[0].
func splitCommands(lines []string, first int) ([]docCommand, error) {
	var (
		out      []docCommand
		cur      []string
		curLine  int
		single   bool
		double   bool
		depth    int
		heredocs []string // pending delimiters, in order
		inDoc    string
		docTabs  bool
	)
	for n, line := range lines {
		if inDoc != "" {
			cur = append(cur, line)
			l := line
			if docTabs {
				l = strings.TrimLeft(l, "\t")
			}
			if l == inDoc {
				inDoc = ""
				if len(heredocs) > 0 {
					inDoc, heredocs = heredocs[0], heredocs[1:]
				}
			}
			if inDoc == "" && !single && !double && depth == 0 {
				out = append(out, docCommand{curLine, strings.Join(cur, "\n")})
				cur = nil
			}
			continue
		}
		if len(cur) == 0 {
			if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			curLine = first + n
		}
		cur = append(cur, line)
		cont := false
		code := "" // the line without its comment, for the trailing-operator check
		for i := 0; i < len(line); i++ {
			c := line[i]
			switch {
			case single:
				if c == '\'' {
					single = false
				}
			case double:
				if c == '\\' {
					i++
				} else if c == '"' {
					double = false
				}
			case c == '\\':
				if i == len(line)-1 {
					cont = true
				}
				i++
			case c == '\'':
				single = true
			case c == '"':
				double = true
			case c == '(':
				depth++
			case c == ')':
				depth--
			case c == '#' && (i == 0 || strings.ContainsRune(" \t;&|(", rune(line[i-1]))):
				code = line[:i]
				i = len(line)
			case c == '<' && strings.HasPrefix(line[i:], "<<") && !strings.HasPrefix(line[i:], "<<<"):
				if m := heredoc.FindStringSubmatch(line[i:]); m != nil {
					heredocs = append(heredocs, m[3])
					docTabs = m[1] == "-"
					i += len(m[0]) - 1
				}
			}
		}
		if code == "" {
			code = line
		}
		code = strings.TrimSpace(code)
		for _, op := range []string{"|", "&&", "||"} {
			if strings.HasSuffix(code, op) {
				cont = true
			}
		}
		if len(heredocs) > 0 {
			inDoc, heredocs = heredocs[0], heredocs[1:]
			continue
		}
		if !cont && !single && !double && depth == 0 {
			out = append(out, docCommand{curLine, strings.Join(cur, "\n")})
			cur = nil
		}
	}
	if len(cur) > 0 {
		return nil, fmt.Errorf("%d: the command is not complete at the end of its block (open quote, parenthesis, here-document or continuation)", curLine)
	}
	return out, nil
}

// marker separates the commands' output in a guide's log: the 0x1e byte, the
// file line of the command that follows.
const marker = "\x1edocs-command "

var startsServe = regexp.MustCompile(`(^|[\s;&|(])(\S*/)?ledgerline serve\b`)

// TestDocsCommands runs every ```sh command of the docs against a served
// Ledgerline; see the comment at the top of this file.
func TestDocsCommands(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	var noTest []string
	type parsed struct {
		name   string
		blocks []docBlock
	}
	var all []parsed
	for _, name := range guides(t, root) {
		src, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		checkGuideQuotes(t, root, name, string(src)) // as TestDocsQuotes does
		blocks, err := parseGuide(name, string(src))
		if err != nil {
			t.Error(err)
			continue
		}
		for _, b := range blocks {
			if b.noTest {
				for _, c := range b.commands {
					noTest = append(noTest, fmt.Sprintf("%s:%d: %s  (%s)", name, c.line, firstLine(c.text), b.reason))
				}
			}
		}
		all = append(all, parsed{name, blocks})
	}
	t.Logf("%d ```sh no-test command(s), not run:\n  %s", len(noTest), strings.Join(noTest, "\n  "))
	if len(noTest) > noTestBudget {
		t.Errorf("%d ```sh no-test commands, more than the budget of %d: make them runnable", len(noTest), noTestBudget)
	}
	bin := ledgerline(t)
	for _, g := range all {
		var run []docBlock
		for _, b := range g.blocks {
			if !b.noTest && len(b.commands) > 0 {
				run = append(run, b)
			}
		}
		if len(run) == 0 {
			continue
		}
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			runGuide(t, root, bin, g.name, run)
		})
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// runGuide runs one guide's commands in order in a scratch directory.
func runGuide(t *testing.T, root, bin, name string, blocks []docBlock) {
	var cmds []docCommand
	for _, b := range blocks {
		cmds = append(cmds, b.commands...)
	}
	scratch := t.TempDir()
	for _, d := range sampleDirs {
		if err := copyTree(filepath.Join(root, d), filepath.Join(scratch, d)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(scratch, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(scratch, "bin", "ledgerline")); err != nil {
		t.Fatal(err)
	}
	e := env{t: t, addr: freeAddr(t), dir: scratch}
	e.vars = []string{"LEDGERLINE_DATABASE_URL=" + pgtest.URL(t), "LEDGERLINE_HTTP_ADDR=" + e.addr,
		"LEDGERLINE_SERVER=http://" + e.addr}
	serves := false
	for _, c := range cmds {
		serves = serves || startsServe.MatchString(c.text)
	}
	if !serves {
		s := e
		s.vars = append(append([]string{}, e.vars...), "LEDGERLINE_LOG_LEVEL=warn")
		s.serve()
	}

	var script strings.Builder
	// curl fails on an HTTP error status, as with --fail-with-body: a call the
	// docs show must succeed.
	script.WriteString("set -e -o pipefail\ncurl() { command curl --fail-with-body \"$@\"; }\n")
	for _, c := range cmds {
		fmt.Fprintf(&script, "printf '\\n%s%d\\n'\n%s\n", marker, c.line, c.text)
	}
	fmt.Fprintf(&script, "printf '\\n%send\\n'\n", marker)
	file := filepath.Join(t.TempDir(), "guide.sh")
	if err := os.WriteFile(file, []byte(script.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bash", "-n", file).CombinedOutput(); err != nil {
		t.Fatalf("%s: its commands are not a valid bash script: %v\n%s", name, err, out)
	}
	log, err := os.Create(filepath.Join(t.TempDir(), "guide.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	environ := []string{"PATH=" + filepath.Join(scratch, "bin") + string(os.PathListSeparator) + os.Getenv("PATH")}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LEDGERLINE_") && !strings.HasPrefix(kv, "PATH=") {
			environ = append(environ, kv)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", file)
	cmd.Dir, cmd.Env = scratch, append(environ, e.vars...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, log, log // a file, so background jobs cannot hold the test
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	began := time.Now()
	runErr := cmd.Run()
	stopGroup(cmd.Process.Pid)
	took := time.Since(began)

	out, err := os.ReadFile(log.Name())
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("LEDGERLINE_DOCS_LOGS"); dir != "" { // to read what every command printed
		if err := os.WriteFile(filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".log"), out, 0o644); err != nil {
			t.Error(err)
		}
	}
	byLine := map[int]docCommand{}
	for _, c := range cmds {
		byLine[c.line] = c
	}
	printed := map[int]string{} // command line → what it printed
	at := ""
	for _, part := range strings.Split(string(out), marker)[1:] {
		var output string
		at, output, _ = strings.Cut(part, "\n")
		line, _ := strconv.Atoi(at)
		printed[line] = output
	}
	if runErr != nil || at != "end" {
		line, _ := strconv.Atoi(at)
		t.Fatalf("%s:%d: %v\n$ %s\n%s", name, line, runErr, byLine[line].text, strings.TrimSpace(printed[line]))
	}
	for _, b := range blocks {
		var got strings.Builder
		for _, c := range b.commands {
			got.WriteString(printed[c.line])
		}
		if missing := unmatched(b.output, got.String()); len(missing) > 0 {
			t.Errorf("%s:%d: the output shown is not what the commands of lines %d-%d print now; not printed:\n  %s\nprinted:\n%s",
				name, b.outputLine, b.commands[0].line, b.commands[len(b.commands)-1].line, strings.Join(missing, "\n  "), got.String())
		}
	}
	t.Logf("%s: %d commands in %.1fs", name, len(cmds), took.Seconds())
}

// unmatched returns the lines of want that match no line of got. Matching is
// loose: runs of blanks are one blank, and "..." in want stands for anything.
func unmatched(want []string, got string) []string {
	space := regexp.MustCompile(`\s+`)
	norm := func(s string) string { return strings.TrimSpace(space.ReplaceAllString(s, " ")) }
	var lines []string
	for _, l := range strings.Split(got, "\n") {
		lines = append(lines, norm(l))
	}
	var missing []string
	for _, w := range want {
		if w = norm(w); w == "" {
			continue
		}
		parts := strings.Split(w, "...")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		re := regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
		found := false
		for _, l := range lines {
			if re.MatchString(l) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, w)
		}
	}
	return missing
}

// stopGroup ends what a guide left running (a `ledgerline serve &`): SIGTERM to
// its process group, SIGKILL after 15 seconds.
func stopGroup(pgid int) {
	if syscall.Kill(-pgid, syscall.SIGTERM) != nil {
		return
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if syscall.Kill(-pgid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
}

// TestSplitCommands: how a block is cut into commands, with their lines.
func TestSplitCommands(t *testing.T) {
	block := `KEY=$(ledgerline keys create --role source --name gl)   # a comment
# output shown by the docs
ledgerline events import a.csv \
    --mapping a.yaml
curl -s "$LEDGERLINE_SERVER/v1/schemas" -d '{
  "type": "x"}'
cat > f.ndjson <<'EOF'
{"id": "a # b"}
EOF
ledgerline rules failures |
  head -3
echo "it's # not a comment"`
	got, err := splitCommands(strings.Split(block, "\n"), 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{10, 12, 14, 16, 19, 21}
	var lines []int
	for _, c := range got {
		lines = append(lines, c.line)
	}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Fatalf("commands at lines %v, want %v:\n%+v", lines, want, got)
	}
	if !strings.HasSuffix(got[3].text, "\nEOF") || !strings.Contains(got[2].text, "\"type\": \"x\"}'") {
		t.Fatalf("multi-line commands cut wrong: %+v", got)
	}
	if _, err := splitCommands([]string{`echo "open`}, 1); err == nil {
		t.Fatal("an unclosed quote was accepted")
	}

	blocks, err := parseGuide("g.md", "text\n\n<!-- needs a real SFTP server -->\n```sh no-test\nssh-keyscan x\n```\n```console\nnot run\n```\n```sh\nls\n```\n")
	if err != nil || len(blocks) != 2 || !blocks[0].noTest || blocks[0].reason != "needs a real SFTP server" || blocks[1].commands[0].line != 11 {
		t.Fatalf("parseGuide: %+v %v", blocks, err)
	}
	if _, err := parseGuide("g.md", "```sh no-test\nx\n```\n"); err == nil {
		t.Fatal("a no-test block without a reason was accepted")
	}
	if _, err := parseGuide("g.md", "```bash\nx\n```\n"); err == nil {
		t.Fatal("a bash block was accepted")
	}
	if _, err := parseGuide("g.md", "```\n$ ledgerline keys list\n```\n"); err == nil {
		t.Fatal("a command in a block that is not run was accepted")
	}
	blocks, err = parseGuide("g.md", "```sh\nls\n```\n\n```text\nfiling ... submittable\n```\n```sh\nls\n```\nprose\n```text\nx\n```\n")
	if err != nil || len(blocks) != 2 || fmt.Sprint(blocks[0].output) != "[filing ... submittable]" || blocks[0].outputLine != 6 || blocks[1].output != nil {
		t.Fatalf("output blocks: %+v %v", blocks, err)
	}
	got2 := "filing corep-own-funds-2026-Q4-v1: corep-own-funds v1, period 2026-Q4, as of seq 50: submittable\n  csv   953 bytes  sha256 a1\n"
	if m := unmatched([]string{"filing ... as of seq ...: submittable", "csv 953 bytes sha256 ...", ""}, got2); len(m) != 0 {
		t.Fatalf("unmatched %q", m)
	}
	if m := unmatched([]string{"filing ...: blocked"}, got2); len(m) != 1 {
		t.Fatalf("a line that was not printed matched: %q", m)
	}
}
