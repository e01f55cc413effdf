package dirchan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/services/submission/channel"
)

func file(name, format, content string) channel.File {
	sum := sha256.Sum256([]byte(content))
	return channel.File{Name: name, Format: format, SHA256: hex.EncodeToString(sum[:]), Content: []byte(content)}
}

func delivery(id string) channel.Delivery {
	return channel.Delivery{
		SubmissionID: id,
		FilingID:     "filing-1",
		Template:     "corep-own-funds",
		Period:       "2026-Q4",
		Files: []channel.File{
			file("corep-own-funds-2026-Q4-v1.csv", "csv", "a,b\n1,2\n"),
			file("corep-own-funds-2026-Q4-v1.json", "json", `{"a":1}`),
		},
	}
}

func newChannel(t *testing.T) *Channel {
	t.Helper()
	c, err := New(Config{Name: "drop", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkDelivered verifies the delivery folder of d under dir: the files, and a
// manifest whose entries match them.
func checkDelivered(t *testing.T, dir string, d channel.Delivery) Manifest {
	t.Helper()
	folder, err := FolderName(d.SubmissionID)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, folder, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.SubmissionID != d.SubmissionID || m.FilingID != d.FilingID || m.Template != d.Template ||
		m.Period != d.Period || m.Amends != d.Amends || m.DeliveredAt.IsZero() {
		t.Fatalf("manifest %+v does not describe %+v", m, d)
	}
	if len(m.Files) != len(d.Files) {
		t.Fatalf("manifest has %d files, want %d", len(m.Files), len(d.Files))
	}
	for i, f := range d.Files {
		content, err := os.ReadFile(filepath.Join(dir, folder, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(content)
		mf := m.Files[i]
		if string(content) != string(f.Content) || mf.Name != f.Name || mf.Format != f.Format ||
			mf.SHA256 != hex.EncodeToString(sum[:]) || mf.SHA256 != f.SHA256 || mf.Size != int64(len(f.Content)) {
			t.Fatalf("file %s: content %q, manifest %+v", f.Name, content, mf)
		}
	}
	var keys map[string]any
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"submission_id", "filing_id", "template", "period", "amends", "files", "delivered_at"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("manifest lacks %q: %s", k, raw)
		}
	}
	return m
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestDeliver(t *testing.T) {
	c := newChannel(t)
	ctx := context.Background()
	d := delivery("sub-1")
	d.Amends = "/elsewhere/sub-0"
	r, err := c.Deliver(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	m := checkDelivered(t, c.Dir(), d)
	if want := c.Dir() + "/sub-1"; r.ID != want {
		t.Errorf("receipt id %q, want %q", r.ID, want)
	}
	if !r.ReceivedAt.Equal(m.DeliveredAt) {
		t.Errorf("receipt time %v, manifest %v", r.ReceivedAt, m.DeliveredAt)
	}
	if got := entries(t, c.Dir()); len(got) != 1 || got[0] != "sub-1" {
		t.Errorf("drop directory holds %v, want only the delivery", got)
	}
	fi, err := os.Stat(filepath.Join(c.Dir(), "sub-1"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o750 {
		t.Errorf("delivery folder mode %v", fi.Mode())
	}

	got, found, err := c.Find(ctx, "sub-1")
	if err != nil || !found || got.ID != r.ID || !got.ReceivedAt.Equal(r.ReceivedAt) {
		t.Fatalf("Find = %+v, %v, %v; want %+v", got, found, err, r)
	}
	st, err := c.Status(ctx, r.ID)
	if err != nil || st.State != channel.StateDelivered || !st.State.Final() {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	if _, found, err := c.Find(ctx, "sub-2"); err != nil || found {
		t.Fatalf("Find of an undelivered submission = %v, %v", found, err)
	}
	for _, bad := range []string{c.Dir() + "/sub-2", "/elsewhere/sub-1", c.Dir() + "/.sub-1.partial", c.Dir() + "/.."} {
		if _, err := c.Status(ctx, bad); !errors.Is(err, channel.ErrPermanent) {
			t.Errorf("Status(%q) = %v, want ErrPermanent", bad, err)
		}
	}
}

func TestReaderNeverSeesPartialDelivery(t *testing.T) {
	c := newChannel(t)
	d := delivery("sub-1")
	called := false
	c.layout.beforeRename = func(partial, final string) error {
		called = true
		if got := entries(t, c.Dir()); len(got) != 1 || got[0] != ".sub-1.partial" || partial != ".sub-1.partial" {
			t.Errorf("before the rename the drop directory holds %v, want only the partial folder", got)
		}
		if _, err := os.Stat(filepath.Join(c.Dir(), final)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("final folder visible before the rename: %v", err)
		}
		// The partial folder is complete, manifest included, before the rename.
		got := entries(t, filepath.Join(c.Dir(), partial))
		if len(got) != len(d.Files)+1 {
			t.Errorf("partial folder holds %v", got)
		}
		if _, err := os.Stat(filepath.Join(c.Dir(), partial, ManifestName)); err != nil {
			t.Errorf("manifest not written before the rename: %v", err)
		}
		return nil
	}
	if _, err := c.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if !called {
		t.Fatal("hook not called")
	}
	checkDelivered(t, c.Dir(), d)
}

func TestCrashBeforeRename(t *testing.T) {
	c := newChannel(t)
	ctx := context.Background()
	d := delivery("sub-1")
	crash := errors.New("crash")
	c.layout.beforeRename = func(string, string) error { return crash }
	if _, err := c.Deliver(ctx, d); !errors.Is(err, crash) || errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("Deliver = %v", err)
	}
	c.layout.beforeRename = nil
	if got := entries(t, c.Dir()); len(got) != 1 || got[0] != ".sub-1.partial" {
		t.Fatalf("after the crash the drop directory holds %v", got)
	}
	if _, found, err := c.Find(ctx, "sub-1"); err != nil || found {
		t.Fatalf("Find after a crash = %v, %v; want not found", found, err)
	}
	if got := entries(t, c.Dir()); len(got) != 0 {
		t.Fatalf("leftover partial not removed: %v", got)
	}
	if _, err := c.Deliver(ctx, d); err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, c.Dir(), d)
}

func TestLeftoverPartialIsReplacedByDeliver(t *testing.T) {
	c := newChannel(t)
	partial := filepath.Join(c.Dir(), ".sub-1.partial")
	if err := os.Mkdir(partial, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(partial, "corep-own-funds-2026-Q4-v1.csv"), []byte("half"), 0o640); err != nil {
		t.Fatal(err)
	}
	d := delivery("sub-1")
	if _, err := c.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, c.Dir(), d)
	if got := entries(t, c.Dir()); len(got) != 1 {
		t.Fatalf("drop directory holds %v", got)
	}
}

func TestDeliverTwice(t *testing.T) {
	c := newChannel(t)
	ctx := context.Background()
	d := delivery("sub-1")
	r1, err := c.Deliver(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	// Backdate everything so that any rewrite shows.
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	folder := filepath.Join(c.Dir(), "sub-1")
	names := append(entries(t, folder), ".")
	for _, n := range names {
		if err := os.Chtimes(filepath.Join(folder, n), past, past); err != nil {
			t.Fatal(err)
		}
	}
	d.Files[0].Content = []byte("changed")
	d.Files[0].SHA256 = ""
	r2, err := c.Deliver(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if r2.ID != r1.ID || !r2.ReceivedAt.Equal(r1.ReceivedAt) {
		t.Fatalf("second receipt %+v, first %+v", r2, r1)
	}
	for _, n := range names {
		fi, err := os.Stat(filepath.Join(folder, n))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(past) {
			t.Errorf("%s rewritten: mtime %v", n, fi.ModTime())
		}
	}
	if got := entries(t, c.Dir()); len(got) != 1 {
		t.Fatalf("drop directory holds %v", got)
	}
	checkDelivered(t, c.Dir(), delivery("sub-1"))
}

func TestRefusedDeliveries(t *testing.T) {
	c := newChannel(t)
	ctx := context.Background()
	cases := map[string]func(d *channel.Delivery){
		"parent":       func(d *channel.Delivery) { d.Files[0].Name = "../escape.csv" },
		"dotdot":       func(d *channel.Delivery) { d.Files[0].Name = ".." },
		"dot":          func(d *channel.Delivery) { d.Files[0].Name = "." },
		"subdir":       func(d *channel.Delivery) { d.Files[0].Name = "a/b.csv" },
		"absolute":     func(d *channel.Delivery) { d.Files[0].Name = "/etc/passwd" },
		"backslash":    func(d *channel.Delivery) { d.Files[0].Name = `..\escape.csv` },
		"empty name":   func(d *channel.Delivery) { d.Files[0].Name = "" },
		"manifest":     func(d *channel.Delivery) { d.Files[0].Name = "Manifest.json" },
		"duplicate":    func(d *channel.Delivery) { d.Files[1].Name = d.Files[0].Name },
		"bad sha":      func(d *channel.Delivery) { d.Files[0].SHA256 = strings.Repeat("0", 64) },
		"no files":     func(d *channel.Delivery) { d.Files = nil },
		"no id":        func(d *channel.Delivery) { d.SubmissionID = "" },
		"nul in name":  func(d *channel.Delivery) { d.Files[0].Name = "a\x00b" },
		"long name":    func(d *channel.Delivery) { d.Files[0].Name = strings.Repeat("a", 256) },
		"parent slash": func(d *channel.Delivery) { d.Files[0].Name = "x/../../y" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			d := delivery("sub-1")
			mutate(&d)
			if _, err := c.Deliver(ctx, d); !errors.Is(err, channel.ErrPermanent) {
				t.Fatalf("Deliver = %v, want ErrPermanent", err)
			}
			if got := entries(t, c.Dir()); len(got) != 0 {
				t.Fatalf("refused delivery wrote %v", got)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(c.Dir()), "escape.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file written outside the drop directory: %v", err)
	}
}

func TestFindRefusesInconsistentDelivery(t *testing.T) {
	ctx := context.Background()
	tamper := map[string]func(t *testing.T, folder string){
		"changed file": func(t *testing.T, folder string) {
			if err := os.WriteFile(filepath.Join(folder, "corep-own-funds-2026-Q4-v1.csv"), []byte("x"), 0o640); err != nil {
				t.Fatal(err)
			}
		},
		"missing file": func(t *testing.T, folder string) {
			if err := os.Remove(filepath.Join(folder, "corep-own-funds-2026-Q4-v1.json")); err != nil {
				t.Fatal(err)
			}
		},
		"missing manifest": func(t *testing.T, folder string) {
			if err := os.Remove(filepath.Join(folder, ManifestName)); err != nil {
				t.Fatal(err)
			}
		},
		"other submission": func(t *testing.T, folder string) {
			raw, _ := os.ReadFile(filepath.Join(folder, ManifestName))
			raw = []byte(strings.Replace(string(raw), `"sub-1"`, `"sub-9"`, 1))
			if err := os.WriteFile(filepath.Join(folder, ManifestName), raw, 0o640); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, fn := range tamper {
		t.Run(name, func(t *testing.T) {
			c := newChannel(t)
			if _, err := c.Deliver(ctx, delivery("sub-1")); err != nil {
				t.Fatal(err)
			}
			fn(t, filepath.Join(c.Dir(), "sub-1"))
			if _, _, err := c.Find(ctx, "sub-1"); !errors.Is(err, channel.ErrPermanent) {
				t.Fatalf("Find = %v, want ErrPermanent", err)
			}
			// And no second delivery over it.
			if _, err := c.Deliver(ctx, delivery("sub-1")); !errors.Is(err, channel.ErrPermanent) {
				t.Fatalf("Deliver = %v, want ErrPermanent", err)
			}
		})
	}
}

func TestFolderName(t *testing.T) {
	for id, want := range map[string]string{
		"sub-1":                                "sub-1",
		"01J9Z.x_y-Z":                          "01J9Z.x_y-Z",
		"7d0f8a7e-3b7a-4a6e-9d3c-2d7e3f2c1b0a": "7d0f8a7e-3b7a-4a6e-9d3c-2d7e3f2c1b0a",
	} {
		if got, err := FolderName(id); err != nil || got != want {
			t.Errorf("FolderName(%q) = %q, %v; want %q", id, got, err, want)
		}
	}
	seen := map[string]string{}
	for _, id := range []string{"a/b", "a_b", "a:b", "../x", ".hidden", "..", "a b", "ü", strings.Repeat("x", 300)} {
		got, err := FolderName(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range got {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)) {
				t.Errorf("FolderName(%q) = %q has %q", id, got, r)
			}
		}
		if strings.HasPrefix(got, ".") || len(got) > 220 {
			t.Errorf("FolderName(%q) = %q", id, got)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("FolderName(%q) = FolderName(%q) = %q", id, other, got)
		}
		seen[got] = id
	}
	if _, err := FolderName(""); !errors.Is(err, channel.ErrPermanent) {
		t.Errorf("FolderName(\"\") = %v", err)
	}

	// A sanitized id round-trips through Deliver and Find.
	c := newChannel(t)
	ctx := context.Background()
	r, err := c.Deliver(ctx, delivery("sub/1"))
	if err != nil {
		t.Fatal(err)
	}
	if got, found, err := c.Find(ctx, "sub/1"); err != nil || !found || got.ID != r.ID {
		t.Fatalf("Find = %+v, %v, %v", got, found, err)
	}
	if _, found, err := c.Find(ctx, "sub_1"); err != nil || found {
		t.Fatalf("Find of another id = %v, %v", found, err)
	}
	if st, err := c.Status(ctx, r.ID); err != nil || st.State != channel.StateDelivered {
		t.Fatalf("Status = %+v, %v", st, err)
	}
}

func TestNew(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "drop")
	c, err := New(Config{Name: "drop", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o750 {
		t.Fatalf("drop directory %v, %v", fi, err)
	}
	if c.Name() != "drop" || len(entries(t, dir)) != 0 {
		t.Fatalf("name %q, entries %v", c.Name(), entries(t, dir))
	}
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []Config{{Name: "drop"}, {Dir: dir}, {Name: "drop", Dir: notDir}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	if os.Geteuid() != 0 {
		ro := t.TempDir()
		if err := os.Chmod(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(ro, 0o700) })
		if _, err := New(Config{Name: "drop", Dir: ro}); err == nil {
			t.Error("New on a read-only directory succeeded")
		}
	}
}

func TestContextCanceled(t *testing.T) {
	c := newChannel(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Deliver(ctx, delivery("sub-1")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Deliver = %v", err)
	}
	if got := entries(t, c.Dir()); len(got) != 0 {
		t.Fatalf("canceled delivery wrote %v", got)
	}
}
