// Package sftpchan is the file-drop channel onto an SFTP server, with the
// layout and rules of dirchan (dirchan.Layout): one folder per delivery named
// after the submission id, holding the files and a manifest.json written last,
// written into a hidden ".<id>.partial" folder and renamed into place, so the
// regulator never sees half a delivery.
//
// The server's host key is always checked against the configured one. One
// connection is kept and shared (deliveries are serialized); it is reopened
// when it fails.
package sftpchan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/ledgerline/ledgerline/services/submission/channel"
	"github.com/ledgerline/ledgerline/services/submission/channel/dirchan"
)

// DefaultTimeout bounds connecting and the SSH handshake when Config.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// Config configures an SFTP channel.
type Config struct {
	Name string // the channel name
	Addr string // host:port
	User string
	// Dir is the drop directory on the server (it must exist); relative to the
	// login directory unless absolute.
	Dir string
	// Password and/or KeyFile (a private key file, PEM or OpenSSH format, not
	// passphrase-protected) authenticate; at least one is required.
	Password string
	KeyFile  string
	// HostKey is the server's public key, in authorized_keys format
	// ("ssh-ed25519 AAAA... comment") or as a known_hosts line
	// ("host ssh-ed25519 AAAA..."; only the key is compared). Required.
	HostKey string
	// Timeout bounds connecting and the SSH handshake (DefaultTimeout when 0).
	// Remote operations are bounded by the caller's context.
	Timeout time.Duration
}

// Channel delivers onto an SFTP server. It implements channel.Channel and is
// safe for concurrent use.
type Channel struct {
	cfg     Config
	layout  dirchan.Layout
	hostKey ssh.PublicKey
	auth    []ssh.AuthMethod

	mu     sync.Mutex // serializes operations; guards the connection
	conn   *ssh.Client
	client *sftp.Client
}

var _ channel.Channel = (*Channel)(nil)

// New checks the configuration and reads the key file; it does not connect.
// Configuration errors wrap channel.ErrPermanent.
func New(cfg Config) (*Channel, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: sftpchan %s: %s", channel.ErrPermanent, cfg.Name, fmt.Sprintf(format, args...))
	}
	if cfg.Name == "" {
		return nil, bad("channel name is required")
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, bad("address %q: %v", cfg.Addr, err)
	}
	if cfg.User == "" {
		return nil, bad("user is required")
	}
	if cfg.Dir == "" {
		return nil, bad("directory is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	hostKey, err := ParseHostKey(cfg.HostKey)
	if err != nil {
		return nil, bad("%v", err)
	}
	var auth []ssh.AuthMethod
	if cfg.KeyFile != "" {
		raw, err := os.ReadFile(cfg.KeyFile)
		if err != nil {
			return nil, bad("key file: %v", err)
		}
		signer, err := ssh.ParsePrivateKey(raw)
		if err != nil {
			var pp *ssh.PassphraseMissingError
			if errors.As(err, &pp) {
				return nil, bad("key file %s is passphrase-protected, which is not supported", cfg.KeyFile)
			}
			return nil, bad("key file %s: %v", cfg.KeyFile, err)
		}
		auth = append(auth, ssh.PublicKeys(signer))
	}
	if cfg.Password != "" {
		pw := cfg.Password
		auth = append(auth, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, echos []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range questions {
					if !echos[i] {
						answers[i] = pw
					}
				}
				return answers, nil
			}))
	}
	if len(auth) == 0 {
		return nil, bad("a password or a key file is required")
	}
	return &Channel{
		cfg:     cfg,
		layout:  dirchan.Layout{Dir: path.Clean(cfg.Dir)},
		hostKey: hostKey,
		auth:    auth,
	}, nil
}

// ParseHostKey parses a public key in authorized_keys format or a known_hosts
// line. Revoked keys and certificate authorities are refused.
func ParseHostKey(s string) (ssh.PublicKey, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("the server's host key is required (authorized_keys format or a known_hosts line)")
	}
	if marker, _, key, _, _, err := ssh.ParseKnownHosts([]byte(s)); err == nil {
		switch marker {
		case "":
			return key, nil
		case "revoked":
			return nil, errors.New("host key: the known_hosts line marks the key @revoked")
		default:
			return nil, fmt.Errorf("host key: @%s known_hosts lines are not supported; give the server's key", marker)
		}
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("host key: not an authorized_keys or known_hosts line: %v", err)
	}
	return key, nil
}

// Name is the configured channel name.
func (c *Channel) Name() string { return c.cfg.Name }

// Close closes the connection, if open. The channel stays usable: the next
// operation connects again.
func (c *Channel) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.disconnect()
}

// Find returns the receipt of the complete delivery of a submission; a
// leftover partial delivery is removed (found false).
func (c *Channel) Find(ctx context.Context, submissionID string) (r channel.Receipt, found bool, err error) {
	err = c.do(ctx, func(fsys dirchan.FS) error {
		var err error
		r, found, err = c.layout.Find(ctx, fsys, submissionID)
		return err
	})
	return r, found, err
}

// Deliver uploads the delivery, or returns the existing receipt when the
// submission was delivered already.
func (c *Channel) Deliver(ctx context.Context, d channel.Delivery) (r channel.Receipt, err error) {
	err = c.do(ctx, func(fsys dirchan.FS) error {
		var err error
		r, err = c.layout.Deliver(ctx, fsys, d)
		return err
	})
	return r, err
}

// Status is channel.StateDelivered once the delivery folder exists.
func (c *Channel) Status(ctx context.Context, receiptID string) (s channel.Status, err error) {
	err = c.do(ctx, func(fsys dirchan.FS) error {
		var err error
		s, err = c.layout.Status(ctx, fsys, receiptID)
		return err
	})
	return s, err
}

// do runs op over the connection, connecting when there is none. A failure on
// a connection that was already open is retried once on a new connection (it
// may have gone stale; every operation is safe to repeat). Closing the
// connection is how a done ctx interrupts a remote operation.
func (c *Channel) do(ctx context.Context, op func(dirchan.FS) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		reused := c.client != nil
		if !reused {
			if err := c.connect(ctx); err != nil {
				return err
			}
		}
		conn := c.conn
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		err := op(&remoteFS{c: c.client, dir: c.layout.Dir})
		if !stop() {
			c.disconnect()
			if err == nil {
				return nil
			}
			return fmt.Errorf("sftpchan %s: %w", c.cfg.Name, errors.Join(ctx.Err(), err))
		}
		if err == nil {
			return nil
		}
		if errors.Is(err, channel.ErrPermanent) {
			return fmt.Errorf("sftpchan %s: %w", c.cfg.Name, err)
		}
		c.disconnect()
		if !reused || attempt > 0 {
			return fmt.Errorf("sftpchan %s: %w", c.cfg.Name, err)
		}
	}
}

func (c *Channel) disconnect() error {
	var err error
	if c.client != nil {
		c.client.Close()
	}
	if c.conn != nil {
		err = c.conn.Close()
	}
	c.client, c.conn = nil, nil
	return err
}

// connect opens the SSH connection and the SFTP session and checks that the
// drop directory exists.
func (c *Channel) connect(ctx context.Context) error {
	name, addr := c.cfg.Name, c.cfg.Addr
	dialer := net.Dialer{Timeout: c.cfg.Timeout}
	nc, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("sftpchan %s: connect %s: %w", name, addr, err)
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	if err := nc.SetDeadline(time.Now().Add(c.cfg.Timeout)); err != nil {
		nc.Close()
		return fmt.Errorf("sftpchan %s: connect %s: %w", name, addr, err)
	}

	var hostKeyErr error
	config := &ssh.ClientConfig{
		User:              c.cfg.User,
		Auth:              c.auth,
		HostKeyAlgorithms: hostKeyAlgorithms(c.hostKey),
		HostKeyCallback: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			if err := ssh.FixedHostKey(c.hostKey)(hostname, remote, key); err != nil {
				hostKeyErr = fmt.Errorf("%w: sftpchan %s: the host key of %s (%s %s) is not the configured host key (%s %s): refusing to connect",
					channel.ErrPermanent, name, addr, key.Type(), ssh.FingerprintSHA256(key), c.hostKey.Type(), ssh.FingerprintSHA256(c.hostKey))
				return hostKeyErr
			}
			return nil
		},
		Timeout: c.cfg.Timeout,
	}
	sconn, chans, reqs, err := ssh.NewClientConn(nc, addr, config)
	if err != nil {
		nc.Close()
		switch {
		case hostKeyErr != nil:
			return hostKeyErr
		case strings.Contains(err.Error(), "no common algorithm for host key"):
			return fmt.Errorf("%w: sftpchan %s: %s offers no host key of the configured type %s (configured host key %s): %v",
				channel.ErrPermanent, name, addr, c.hostKey.Type(), ssh.FingerprintSHA256(c.hostKey), err)
		case strings.Contains(err.Error(), "unable to authenticate"):
			return fmt.Errorf("%w: sftpchan %s: %s refused the credentials of user %q: %v",
				channel.ErrPermanent, name, addr, c.cfg.User, err)
		case ctx.Err() != nil:
			return fmt.Errorf("sftpchan %s: connect %s: %w", name, addr, errors.Join(ctx.Err(), err))
		}
		return fmt.Errorf("sftpchan %s: connect %s: %w", name, addr, err)
	}
	conn := ssh.NewClient(sconn, chans, reqs)
	client, err := sftp.NewClient(conn)
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			err = errors.Join(ctx.Err(), err)
		}
		return fmt.Errorf("sftpchan %s: start SFTP on %s: %w", name, addr, err)
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		client.Close()
		conn.Close()
		return fmt.Errorf("sftpchan %s: %w", name, err)
	}
	fi, err := client.Stat(c.layout.Dir)
	if err != nil || !fi.IsDir() {
		client.Close()
		conn.Close()
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%w: sftpchan %s: directory %s does not exist on %s", channel.ErrPermanent, name, c.layout.Dir, addr)
		case errors.Is(err, fs.ErrPermission):
			return fmt.Errorf("%w: sftpchan %s: directory %s on %s: %v", channel.ErrPermanent, name, c.layout.Dir, addr, err)
		case err != nil:
			return fmt.Errorf("sftpchan %s: directory %s on %s: %w", name, c.layout.Dir, addr, err)
		}
		return fmt.Errorf("%w: sftpchan %s: %s on %s is not a directory", channel.ErrPermanent, name, c.layout.Dir, addr)
	}
	c.conn, c.client = conn, client
	return nil
}

// hostKeyAlgorithms are the host key algorithms to negotiate so that the
// server presents the configured key (and not another of its keys).
func hostKeyAlgorithms(key ssh.PublicKey) []string {
	switch key.Type() {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	case ssh.CertAlgoRSAv01:
		return []string{ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSAv01}
	}
	return []string{key.Type()}
}

// remoteFS is the dirchan.FS of the drop directory on the server.
type remoteFS struct {
	c   *sftp.Client
	dir string
}

func (r *remoteFS) path(name string) string { return path.Join(r.dir, name) }

func (r *remoteFS) Stat(name string) (fs.FileInfo, error) { return r.c.Stat(r.path(name)) }

func (r *remoteFS) ReadFile(name string) ([]byte, error) {
	f, err := r.c.Open(r.path(name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func (r *remoteFS) Mkdir(name string) error { return r.c.Mkdir(r.path(name)) }

func (r *remoteFS) WriteFile(name string, data []byte) error {
	f, err := r.c.OpenFile(r.path(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if v, ok := r.c.HasExtension("fsync@openssh.com"); ok && v == "1" {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	// Check the size the server stored: a short write must not pass.
	fi, err := r.c.Stat(r.path(name))
	if err != nil {
		return err
	}
	if fi.Size() != int64(len(data)) {
		return fmt.Errorf("%s: server stored %d bytes, wrote %d", name, fi.Size(), len(data))
	}
	return nil
}

// SyncDir is a no-op: SFTP has no directory sync; the server's rename is
// expected to be durable.
func (r *remoteFS) SyncDir(string) error { return nil }

// Rename uses the plain SFTP rename, which refuses to replace an existing
// target (posix-rename would replace an empty directory).
func (r *remoteFS) Rename(oldname, newname string) error {
	return r.c.Rename(r.path(oldname), r.path(newname))
}

func (r *remoteFS) RemoveAll(name string) error { return r.c.RemoveAll(r.path(name)) }
