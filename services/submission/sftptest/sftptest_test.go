package sftptest

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

func dial(t *testing.T, s *Server, auth ssh.AuthMethod) (*sftp.Client, error) {
	t.Helper()
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s.HostKey))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := ssh.Dial("tcp", s.Addr, &ssh.ClientConfig{
		User:            s.User,
		Auth:            []ssh.AuthMethod{auth},
		HostKeyCallback: ssh.FixedHostKey(key),
		Timeout:         5 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	t.Cleanup(func() { c.Close(); conn.Close() })
	return c, nil
}

func TestServer(t *testing.T) {
	root := t.TempDir()
	s := Start(t, root)
	if !strings.HasPrefix(s.Addr, "127.0.0.1:") {
		t.Fatalf("Addr %q", s.Addr)
	}
	var mu sync.Mutex
	var seen []Request
	s.OnRequest(func(r Request) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r)
		return nil
	})

	c, err := dial(t, s, ssh.Password(s.Password))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Mkdir("/drop"); err != nil {
		t.Fatal(err)
	}
	f, err := c.OpenFile("/drop/a.txt", os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.OpenFile("/drop/a.txt", os.O_WRONLY|os.O_CREATE|os.O_EXCL); err == nil {
		t.Error("O_EXCL create of an existing file succeeded")
	}
	if got, err := os.ReadFile(filepath.Join(root, "drop", "a.txt")); err != nil || string(got) != "hello" {
		t.Fatalf("served file %q, %v", got, err)
	}
	// Relative paths resolve from the root too.
	rf, err := c.Open("drop/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rf)
	rf.Close()
	if err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := c.Mkdir("/drop/d"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename("/drop/d", "/drop/a.txt"); err == nil {
		t.Error("Rename onto an existing name succeeded")
	}
	if err := c.Rename("/drop/d", "/drop/e"); err != nil {
		t.Fatal(err)
	}
	if err := c.PosixRename("/drop/e", "/drop/f"); err != nil {
		t.Fatal(err)
	}
	if fi, err := c.Stat("/drop/f"); err != nil || !fi.IsDir() {
		t.Fatalf("Stat = %v, %v", fi, err)
	}
	if _, err := c.Stat("/drop/e"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Stat of a renamed dir = %v", err)
	}
	if err := c.RemoveAll("/drop"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "drop")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("RemoveAll left %v", err)
	}
	mu.Lock()
	if len(seen) == 0 || seen[0] != (Request{Method: "Mkdir", Path: "/drop"}) {
		t.Errorf("requests %+v", seen)
	}
	mu.Unlock()

	// Fault injection.
	s.OnRequest(func(r Request) error {
		if r.Method == "Mkdir" {
			return errors.New("injected")
		}
		return nil
	})
	if err := c.Mkdir("/x"); err == nil || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("Mkdir = %v", err)
	}
	s.OnRequest(nil)
}

func TestChroot(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	if err := os.WriteFile(filepath.Join(base, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Start(t, root)
	if err := os.Symlink(filepath.Join(base, "secret"), filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	c, err := dial(t, s, ssh.Password(s.Password))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/../secret", "../secret", "/a/../../secret", "/link"} {
		if f, err := c.Open(p); err == nil {
			b, _ := io.ReadAll(f)
			f.Close()
			if string(b) == "secret" {
				t.Errorf("Open(%q) read outside the root", p)
			}
		}
	}
	f, err := c.Create("/../escape")
	if err == nil {
		f.Close()
	}
	if _, err := os.Stat(filepath.Join(base, "escape")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Create(/../escape) wrote outside the root: %v", err)
	}
	if err := c.Symlink("/etc/passwd", "/passwd"); err == nil {
		t.Error("Symlink succeeded")
	}
	if err := c.Rename("/link", "/../moved"); err != nil {
		t.Logf("rename: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(base, "moved")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Rename moved a file outside the root: %v", err)
	}
}

func TestAuth(t *testing.T) {
	s := Start(t, t.TempDir())
	if _, err := dial(t, s, ssh.Password("wrong")); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("wrong password: %v", err)
	}
	raw, err := os.ReadFile(s.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dial(t, s, ssh.PublicKeys(signer))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Getwd(); err != nil {
		t.Fatal(err)
	}
}

func TestStopRestart(t *testing.T) {
	s := Start(t, t.TempDir())
	c, err := dial(t, s, ssh.Password(s.Password))
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr
	s.Stop()
	if _, err := c.Stat("/"); err == nil {
		t.Error("a connection survived Stop")
	}
	if nc, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		nc.Close()
		t.Fatal("the server still listens after Stop")
	}
	s.Restart()
	if s.Addr != addr {
		t.Fatalf("restarted on %s, want %s", s.Addr, addr)
	}
	c, err = dial(t, s, ssh.Password(s.Password))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat("/"); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	s.Stop()
}
