package sftpchan_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ledgerline/ledgerline/services/submission/channel"
	"github.com/ledgerline/ledgerline/services/submission/channel/dirchan"
	"github.com/ledgerline/ledgerline/services/submission/channel/sftpchan"
	"github.com/ledgerline/ledgerline/services/submission/sftptest"
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
			// Larger than one SFTP packet.
			file("corep-own-funds-2026-Q4-v1.json", "json", `{"rows":"`+strings.Repeat("x", 100_000)+`"}`),
		},
	}
}

// setup starts a server with an "inbox" drop directory.
func setup(t *testing.T) (*sftptest.Server, string) {
	t.Helper()
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "inbox"), 0o750); err != nil {
		t.Fatal(err)
	}
	return sftptest.Start(t, root), filepath.Join(root, "inbox")
}

func config(s *sftptest.Server) sftpchan.Config {
	return sftpchan.Config{
		Name:     "regulator-sftp",
		Addr:     s.Addr,
		User:     s.User,
		Dir:      "/inbox",
		Password: s.Password,
		HostKey:  s.HostKey,
		Timeout:  5 * time.Second,
	}
}

func newChannel(t *testing.T, cfg sftpchan.Config) *sftpchan.Channel {
	t.Helper()
	c, err := sftpchan.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
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

// checkDelivered verifies the delivery folder of d under dir on disk.
func checkDelivered(t *testing.T, dir string, d channel.Delivery) dirchan.Manifest {
	t.Helper()
	folder, err := dirchan.FolderName(d.SubmissionID)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, folder, dirchan.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	var m dirchan.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.SubmissionID != d.SubmissionID || m.FilingID != d.FilingID || m.Template != d.Template ||
		m.Period != d.Period || m.Amends != d.Amends || m.DeliveredAt.IsZero() || len(m.Files) != len(d.Files) {
		t.Fatalf("manifest %+v does not describe %s", m, d.SubmissionID)
	}
	for i, f := range d.Files {
		content, err := os.ReadFile(filepath.Join(dir, folder, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(content)
		mf := m.Files[i]
		if string(content) != string(f.Content) || mf.Name != f.Name || mf.Format != f.Format ||
			mf.SHA256 != hex.EncodeToString(sum[:]) || mf.SHA256 != f.SHA256 || mf.Size != int64(len(content)) {
			t.Fatalf("file %s: %d bytes, manifest %+v", f.Name, len(content), mf)
		}
	}
	if got := len(entries(t, filepath.Join(dir, folder))); got != len(d.Files)+1 {
		t.Fatalf("delivery folder holds %d entries", got)
	}
	return m
}

func TestDeliver(t *testing.T) {
	s, inbox := setup(t)
	c := newChannel(t, config(s))
	ctx := context.Background()
	d := delivery("sub-1")
	r, err := c.Deliver(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	m := checkDelivered(t, inbox, d)
	if r.ID != "/inbox/sub-1" || !r.ReceivedAt.Equal(m.DeliveredAt) {
		t.Fatalf("receipt %+v, manifest time %v", r, m.DeliveredAt)
	}
	if got := entries(t, inbox); len(got) != 1 || got[0] != "sub-1" {
		t.Fatalf("inbox holds %v", got)
	}
	got, found, err := c.Find(ctx, "sub-1")
	if err != nil || !found || got.ID != r.ID || !got.ReceivedAt.Equal(r.ReceivedAt) {
		t.Fatalf("Find = %+v, %v, %v", got, found, err)
	}
	if _, found, err := c.Find(ctx, "sub-2"); err != nil || found {
		t.Fatalf("Find of an undelivered submission = %v, %v", found, err)
	}
	st, err := c.Status(ctx, r.ID)
	if err != nil || st.State != channel.StateDelivered {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	for _, bad := range []string{"/inbox/sub-2", "/other/sub-1"} {
		if _, err := c.Status(ctx, bad); !errors.Is(err, channel.ErrPermanent) {
			t.Errorf("Status(%q) = %v, want ErrPermanent", bad, err)
		}
	}
	// A relative drop directory (from the login directory) works too.
	cfg := config(s)
	cfg.Dir = "inbox"
	rel := newChannel(t, cfg)
	r2, err := rel.Deliver(ctx, delivery("sub-3"))
	if err != nil || r2.ID != "inbox/sub-3" {
		t.Fatalf("Deliver = %+v, %v", r2, err)
	}
	checkDelivered(t, inbox, delivery("sub-3"))
}

func TestReaderNeverSeesPartialDelivery(t *testing.T) {
	s, inbox := setup(t)
	c := newChannel(t, config(s))
	d := delivery("sub-1")
	var mu sync.Mutex
	var checked bool
	var requests []sftptest.Request
	s.OnRequest(func(r sftptest.Request) error {
		mu.Lock()
		defer mu.Unlock()
		requests = append(requests, r)
		if _, err := os.Stat(filepath.Join(inbox, "sub-1")); err == nil {
			t.Errorf("final folder visible before the rename (at %s %s)", r.Method, r.Path)
		}
		if r.Method == "Rename" || r.Method == "PosixRename" {
			checked = true
			if r.Path != "/inbox/.sub-1.partial" || r.Target != "/inbox/sub-1" {
				t.Errorf("rename %+v", r)
			}
			if got := entries(t, inbox); len(got) != 1 || got[0] != ".sub-1.partial" {
				t.Errorf("before the rename the inbox holds %v", got)
			}
			partial := filepath.Join(inbox, ".sub-1.partial")
			for _, f := range d.Files {
				if b, err := os.ReadFile(filepath.Join(partial, f.Name)); err != nil || string(b) != string(f.Content) {
					t.Errorf("partial %s: %d bytes, %v", f.Name, len(b), err)
				}
			}
			if _, err := os.Stat(filepath.Join(partial, dirchan.ManifestName)); err != nil {
				t.Errorf("manifest not written before the rename: %v", err)
			}
		}
		return nil
	})
	if _, err := c.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	s.OnRequest(nil)
	if !checked {
		t.Fatalf("no rename among %+v", requests)
	}
	// The manifest is the last file written.
	var puts []string
	for _, r := range requests {
		if r.Method == "Put" || r.Method == "Open" {
			puts = append(puts, r.Path)
		}
	}
	if len(puts) != 3 || puts[2] != "/inbox/.sub-1.partial/manifest.json" {
		t.Errorf("files written in order %v", puts)
	}
	checkDelivered(t, inbox, d)
}

func TestCrashBeforeRename(t *testing.T) {
	s, inbox := setup(t)
	c := newChannel(t, config(s))
	ctx := context.Background()
	d := delivery("sub-1")
	s.OnRequest(func(r sftptest.Request) error {
		if r.Method == "Rename" || r.Method == "PosixRename" {
			return errors.New("injected: disk on fire")
		}
		return nil
	})
	_, err := c.Deliver(ctx, d)
	if err == nil || errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("Deliver = %v, want a retryable error", err)
	}
	s.OnRequest(nil)
	if got := entries(t, inbox); len(got) != 1 || got[0] != ".sub-1.partial" {
		t.Fatalf("after the failure the inbox holds %v", got)
	}
	if _, found, err := c.Find(ctx, "sub-1"); err != nil || found {
		t.Fatalf("Find = %v, %v; want not found", found, err)
	}
	if got := entries(t, inbox); len(got) != 0 {
		t.Fatalf("leftover partial not removed: %v", got)
	}
	if _, err := c.Deliver(ctx, d); err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, inbox, d)
}

func TestDeliverTwice(t *testing.T) {
	s, inbox := setup(t)
	c := newChannel(t, config(s))
	ctx := context.Background()
	d := delivery("sub-1")
	r1, err := c.Deliver(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	folder := filepath.Join(inbox, "sub-1")
	names := append(entries(t, folder), ".")
	for _, n := range names {
		if err := os.Chtimes(filepath.Join(folder, n), past, past); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var writes []sftptest.Request
	s.OnRequest(func(r sftptest.Request) error {
		switch r.Method {
		case "Stat", "Lstat", "Get", "List":
		default:
			mu.Lock()
			writes = append(writes, r)
			mu.Unlock()
		}
		return nil
	})
	r2, err := c.Deliver(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	s.OnRequest(nil)
	if r2 != r1 {
		t.Fatalf("second receipt %+v, first %+v", r2, r1)
	}
	if len(writes) != 0 {
		t.Errorf("second Deliver wrote: %+v", writes)
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
	if got := entries(t, inbox); len(got) != 1 {
		t.Fatalf("inbox holds %v", got)
	}
}

func otherKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func TestHostKeyChecked(t *testing.T) {
	s, inbox := setup(t)
	ctx := context.Background()

	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub, err := ssh.NewPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, hostKey := range map[string]string{
		"other key":             otherKey(t),
		"other key type":        strings.TrimSpace(string(ssh.MarshalAuthorizedKey(rsaPub))),
		"other known_hosts key": "[127.0.0.1]:22 " + otherKey(t),
	} {
		t.Run(name, func(t *testing.T) {
			cfg := config(s)
			cfg.HostKey = hostKey
			c := newChannel(t, cfg)
			_, err := c.Deliver(ctx, delivery("sub-1"))
			if !errors.Is(err, channel.ErrPermanent) || !strings.Contains(err.Error(), "host key") {
				t.Fatalf("Deliver = %v, want ErrPermanent about the host key", err)
			}
			t.Log(err)
			if _, _, err := c.Find(ctx, "sub-1"); !errors.Is(err, channel.ErrPermanent) {
				t.Fatalf("Find = %v", err)
			}
			if got := entries(t, inbox); len(got) != 0 {
				t.Fatalf("inbox holds %v", got)
			}
		})
	}

	// The server's key as a known_hosts line is accepted.
	cfg := config(s)
	cfg.HostKey = "[" + strings.Replace(s.Addr, ":", "]:", 1) + " " + s.HostKey
	c := newChannel(t, cfg)
	if _, err := c.Deliver(ctx, delivery("sub-1")); err != nil {
		t.Fatal(err)
	}

	for name, hostKey := range map[string]string{
		"missing":    "",
		"garbage":    "not a key",
		"revoked":    "@revoked * " + s.HostKey,
		"cert auth.": "@cert-authority * " + s.HostKey,
	} {
		cfg := config(s)
		cfg.HostKey = hostKey
		if _, err := sftpchan.New(cfg); !errors.Is(err, channel.ErrPermanent) || !strings.Contains(err.Error(), "host key") {
			t.Errorf("New with a %s host key = %v", name, err)
		}
	}
}

func TestAuth(t *testing.T) {
	s, inbox := setup(t)
	ctx := context.Background()

	cfg := config(s)
	cfg.Password = "wrong"
	c := newChannel(t, cfg)
	if _, err := c.Deliver(ctx, delivery("sub-1")); !errors.Is(err, channel.ErrPermanent) || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("Deliver with a wrong password = %v, want ErrPermanent", err)
	} else {
		t.Log(err)
	}
	cfg = config(s)
	cfg.User = "someone"
	c = newChannel(t, cfg)
	if _, err := c.Deliver(ctx, delivery("sub-1")); !errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("Deliver as an unknown user = %v, want ErrPermanent", err)
	}
	if got := entries(t, inbox); len(got) != 0 {
		t.Fatalf("inbox holds %v", got)
	}

	// Public-key auth.
	cfg = config(s)
	cfg.Password = ""
	cfg.KeyFile = s.ClientKeyFile
	c = newChannel(t, cfg)
	if _, err := c.Deliver(ctx, delivery("sub-1")); err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, inbox, delivery("sub-1"))

	// A key the server does not know.
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.KeyFile = filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(cfg.KeyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	c = newChannel(t, cfg)
	if _, err := c.Deliver(ctx, delivery("sub-2")); !errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("Deliver with an unknown key = %v, want ErrPermanent", err)
	}

	// Configuration errors.
	for name, mutate := range map[string]func(*sftpchan.Config){
		"no auth":     func(c *sftpchan.Config) { c.Password, c.KeyFile = "", "" },
		"no key file": func(c *sftpchan.Config) { c.KeyFile = filepath.Join(t.TempDir(), "missing") },
		"bad key file": func(c *sftpchan.Config) {
			c.KeyFile = s.ClientKeyFile + ".pub"
			os.WriteFile(c.KeyFile, []byte("x"), 0o600)
		},
		"no addr": func(c *sftpchan.Config) { c.Addr = "" },
		"no user": func(c *sftpchan.Config) { c.User = "" },
		"no dir":  func(c *sftpchan.Config) { c.Dir = "" },
		"no name": func(c *sftpchan.Config) { c.Name = "" },
	} {
		cfg := config(s)
		mutate(&cfg)
		if _, err := sftpchan.New(cfg); !errors.Is(err, channel.ErrPermanent) {
			t.Errorf("New with %s = %v", name, err)
		}
	}
}

func TestRefusedDeliveries(t *testing.T) {
	s, inbox := setup(t)
	c := newChannel(t, config(s))
	ctx := context.Background()
	for _, name := range []string{"../escape.csv", "..", "a/b.csv", "/etc/passwd", `..\x`, "manifest.json"} {
		d := delivery("sub-1")
		d.Files[0].Name = name
		if _, err := c.Deliver(ctx, d); !errors.Is(err, channel.ErrPermanent) {
			t.Errorf("Deliver with file %q = %v, want ErrPermanent", name, err)
		}
	}
	if got := entries(t, inbox); len(got) != 0 {
		t.Fatalf("inbox holds %v", got)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(inbox), "escape.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file escaped the delivery folder: %v", err)
	}

	// A drop directory that does not exist is a configuration error.
	cfg := config(s)
	cfg.Dir = "/missing"
	if _, err := newChannel(t, cfg).Deliver(ctx, delivery("sub-1")); !errors.Is(err, channel.ErrPermanent) ||
		!strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Deliver into a missing directory = %v", err)
	}
}

func TestReconnect(t *testing.T) {
	s, inbox := setup(t)
	c := newChannel(t, config(s))
	ctx := context.Background()
	if _, err := c.Deliver(ctx, delivery("sub-1")); err != nil {
		t.Fatal(err)
	}

	// The kept connection dies with the server; the next operation reconnects.
	s.Restart()
	if _, found, err := c.Find(ctx, "sub-1"); err != nil || !found {
		t.Fatalf("Find after a restart = %v, %v", found, err)
	}

	// Server down: a retryable error, then success once it is back.
	s.Stop()
	if _, err := c.Deliver(ctx, delivery("sub-2")); err == nil || errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("Deliver to a stopped server = %v, want a retryable error", err)
	}
	s.Restart()
	if _, err := c.Deliver(ctx, delivery("sub-2")); err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, inbox, delivery("sub-2"))

	// A canceled context stops an operation.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Deliver(cctx, delivery("sub-3")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Deliver with a canceled context = %v", err)
	}
	if _, err := c.Deliver(ctx, delivery("sub-3")); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentDeliveries(t *testing.T) {
	s, inbox := setup(t)
	c := newChannel(t, config(s))
	ctx := context.Background()
	var wg sync.WaitGroup
	receipts := make([]channel.Receipt, 6)
	errs := make([]error, 6)
	for i := range receipts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			receipts[i], errs[i] = c.Deliver(ctx, delivery("sub-"+string(rune('a'+i%2))))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		if receipts[i] != receipts[i%2] {
			t.Errorf("receipt %d %+v, want %+v", i, receipts[i], receipts[i%2])
		}
	}
	if got := entries(t, inbox); len(got) != 2 {
		t.Fatalf("inbox holds %v", got)
	}
}
