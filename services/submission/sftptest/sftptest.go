// Package sftptest runs a real SFTP server in the test process: SSH (password
// and public-key auth) from golang.org/x/crypto/ssh, the SFTP subsystem from
// github.com/pkg/sftp's request server, serving a local directory as its root.
// Every path resolves under that directory (os.Root), so a client cannot reach
// outside it, neither with ".." nor through symbolic links.
package sftptest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Server is a running SFTP server.
type Server struct {
	Addr          string // 127.0.0.1:port
	User          string
	Password      string
	HostKey       string // the server's public host key, authorized_keys format
	ClientKeyFile string // a private key (OpenSSH PEM) the server accepts for User
	Root          string // the served directory

	t         testing.TB
	root      *os.Root
	config    *ssh.ServerConfig
	clientKey ssh.PublicKey

	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]struct{}
	hook    func(Request) error
	stopped bool
	wg      sync.WaitGroup
}

// Request is one file system request the server received.
type Request struct {
	Method string // Get, Put, Open, Stat, Lstat, List, Mkdir, Rename, PosixRename, Remove, Rmdir, Setstat, ...
	Path   string // absolute within the server root, e.g. "/drop/x"
	Target string // the new path of a rename or link
}

// Start starts a server for root (created when missing) and stops it when the
// test ends.
func Start(t testing.TB, root string) *Server {
	t.Helper()
	if err := os.MkdirAll(root, 0o750); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		t.Fatal(err)
	}
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	clientPub, clientPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	clientKey, err := ssh.NewPublicKey(clientPub)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(clientPriv, "sftptest client")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	pw := make([]byte, 12)
	if _, err := rand.Read(pw); err != nil {
		t.Fatal(err)
	}

	s := &Server{
		User:          "ledgerline",
		Password:      hex.EncodeToString(pw),
		HostKey:       strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostSigner.PublicKey()))),
		ClientKeyFile: keyFile,
		Root:          abs,
		t:             t,
		root:          r,
		clientKey:     clientKey,
		conns:         map[net.Conn]struct{}{},
	}
	s.config = &ssh.ServerConfig{
		PasswordCallback: func(c ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
			if c.User() == s.User && subtle.ConstantTimeCompare(password, []byte(s.Password)) == 1 {
				return nil, nil
			}
			return nil, errors.New("wrong user or password")
		},
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if c.User() == s.User && subtle.ConstantTimeCompare(key.Marshal(), s.clientKey.Marshal()) == 1 {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	s.config.AddHostKey(hostSigner)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(func() {
		s.Stop()
		r.Close()
	})
	return s
}

// OnRequest installs fn to run before the server handles each file system
// request; an error from fn fails the request with that message (fault
// injection). nil removes it.
func (s *Server) OnRequest(fn func(Request) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = fn
}

// Stop closes the listener and every connection and waits for them. It is
// safe to call more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	if !s.stopped {
		s.stopped = true
		s.ln.Close()
		for c := range s.conns {
			c.Close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Restart starts a stopped server again on the same address, with the same keys.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		s.t.Fatalf("sftptest: restart on %s: %v", s.Addr, err)
	}
	s.mu.Lock()
	s.stopped = false
	s.mu.Unlock()
	s.serve(ln)
}

func (s *Server) serve(ln net.Listener) {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.stopped {
				s.mu.Unlock()
				nc.Close()
				return
			}
			s.conns[nc] = struct{}{}
			s.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.wg.Done()
				s.handleConn(nc)
				s.mu.Lock()
				delete(s.conns, nc)
				s.mu.Unlock()
			}()
		}
	}()
}

func (s *Server) handleConn(nc net.Conn) {
	defer nc.Close()
	sconn, chans, reqs, err := ssh.NewServerConn(nc, s.config)
	if err != nil {
		return
	}
	defer sconn.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		ssh.DiscardRequests(reqs)
	}()
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		ch, chReqs, err := nch.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer ch.Close()
			started := false
			for req := range chReqs {
				ok := !started && req.Type == "subsystem" && len(req.Payload) >= 4 && string(req.Payload[4:]) == "sftp"
				req.Reply(ok, nil)
				if ok {
					started = true
					wg.Add(1)
					go func() {
						defer wg.Done()
						rs := sftp.NewRequestServer(ch, s.handlers())
						rs.Serve()
						rs.Close()
						ch.Close()
					}()
				}
			}
		}()
	}
}

func (s *Server) handlers() sftp.Handlers {
	h := &handler{s: s}
	return sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h}
}

// handler serves the requests from s.root.
type handler struct{ s *Server }

var (
	_ sftp.OpenFileWriter       = (*handler)(nil)
	_ sftp.PosixRenameFileCmder = (*handler)(nil)
	_ sftp.LstatFileLister      = (*handler)(nil)
)

// rel turns a request path (absolute, cleaned) into a name within the root.
func rel(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

func (h *handler) before(r *sftp.Request) error {
	h.s.mu.Lock()
	hook := h.s.hook
	h.s.mu.Unlock()
	if hook == nil {
		return nil
	}
	return hook(Request{Method: r.Method, Path: path.Clean("/" + r.Filepath), Target: targetOf(r)})
}

func targetOf(r *sftp.Request) string {
	if r.Target == "" {
		return ""
	}
	return path.Clean("/" + r.Target)
}

func (h *handler) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	if err := h.before(r); err != nil {
		return nil, err
	}
	return h.s.root.Open(rel(r.Filepath))
}

func (h *handler) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	return h.OpenFile(r)
}

func (h *handler) OpenFile(r *sftp.Request) (sftp.WriterAtReaderAt, error) {
	if err := h.before(r); err != nil {
		return nil, err
	}
	pf := r.Pflags()
	var flag int
	switch {
	case pf.Read && pf.Write:
		flag = os.O_RDWR
	case pf.Write:
		flag = os.O_WRONLY
	default:
		flag = os.O_RDONLY
	}
	if pf.Creat {
		flag |= os.O_CREATE
	}
	if pf.Trunc {
		flag |= os.O_TRUNC
	}
	if pf.Excl {
		flag |= os.O_EXCL
	}
	// Append is ignored: the client writes at explicit offsets.
	f, err := h.s.root.OpenFile(rel(r.Filepath), flag, 0o640)
	if err != nil {
		return nil, err
	}
	return syncFile{f}, nil
}

// syncFile flushes written data to disk when the client closes the handle.
type syncFile struct{ *os.File }

func (f syncFile) Close() error {
	serr := f.File.Sync()
	if err := f.File.Close(); err != nil {
		return err
	}
	return serr
}

func (h *handler) Filecmd(r *sftp.Request) error {
	if err := h.before(r); err != nil {
		return err
	}
	root, name := h.s.root, rel(r.Filepath)
	switch r.Method {
	case "Setstat":
		flags, attrs := r.AttrFlags(), r.Attributes()
		if flags.Size {
			f, err := root.OpenFile(name, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			err = f.Truncate(int64(attrs.Size))
			f.Close()
			if err != nil {
				return err
			}
		}
		if flags.Permissions {
			if err := root.Chmod(name, attrs.FileMode().Perm()); err != nil {
				return err
			}
		}
		if flags.Acmodtime {
			if err := root.Chtimes(name, attrs.AccessTime(), attrs.ModTime()); err != nil {
				return err
			}
		}
		return nil
	case "Rename":
		// SFTP v3 rename does not replace an existing target.
		if _, err := root.Lstat(rel(r.Target)); err == nil {
			return fmt.Errorf("rename %s: %w", r.Target, os.ErrExist)
		}
		return root.Rename(name, rel(r.Target))
	case "Rmdir":
		fi, err := root.Lstat(name)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("rmdir %s: not a directory", r.Filepath)
		}
		return root.Remove(name)
	case "Remove":
		fi, err := root.Lstat(name)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return fmt.Errorf("remove %s: is a directory", r.Filepath)
		}
		return root.Remove(name)
	case "Mkdir":
		return root.Mkdir(name, 0o750)
	case "Link":
		return root.Link(name, rel(r.Target))
	default: // Symlink: refused, links are a way out of a chroot
		return sftp.ErrSSHFxOpUnsupported
	}
}

func (h *handler) PosixRename(r *sftp.Request) error {
	if err := h.before(r); err != nil {
		return err
	}
	return h.s.root.Rename(rel(r.Filepath), rel(r.Target))
}

func (h *handler) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	if err := h.before(r); err != nil {
		return nil, err
	}
	name := rel(r.Filepath)
	switch r.Method {
	case "List":
		f, err := h.s.root.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		infos, err := f.Readdir(-1)
		if err != nil {
			return nil, err
		}
		return listerAt(infos), nil
	case "Stat":
		fi, err := h.s.root.Stat(name)
		if err != nil {
			return nil, err
		}
		return listerAt{fi}, nil
	default: // Readlink
		return nil, sftp.ErrSSHFxOpUnsupported
	}
}

func (h *handler) Lstat(r *sftp.Request) (sftp.ListerAt, error) {
	if err := h.before(r); err != nil {
		return nil, err
	}
	fi, err := h.s.root.Lstat(rel(r.Filepath))
	if err != nil {
		return nil, err
	}
	return listerAt{fi}, nil
}

type listerAt []os.FileInfo

func (l listerAt) ListAt(ls []os.FileInfo, offset int64) (int, error) {
	if offset >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(ls, l[offset:])
	if n < len(ls) {
		return n, io.EOF
	}
	return n, nil
}
