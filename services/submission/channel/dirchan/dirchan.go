// Package dirchan is the file-drop channel into a local directory: one folder
// per delivery, named after the submission id, holding the files and a
// manifest.json written last. A delivery is written into a hidden
// ".<id>.partial" folder, synced, and renamed into place, so a reader of the
// directory never sees half a delivery.
//
// The layout (Layout, FS, Manifest) is shared with sftpchan.
package dirchan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/ledgerline/ledgerline/services/submission/channel"
)

// Config configures a directory channel.
type Config struct {
	Name string // the channel name
	Dir  string // the drop directory; created (0o750) when missing
}

// Channel delivers into a local directory. It implements channel.Channel and is
// safe for concurrent use (deliveries are serialized).
type Channel struct {
	name   string
	dir    string // absolute
	layout Layout
	mu     sync.Mutex // serializes Find and Deliver
}

var _ channel.Channel = (*Channel)(nil)

// New checks the configuration, creates the directory when missing and checks
// that it is writable.
func New(cfg Config) (*Channel, error) {
	if cfg.Name == "" {
		return nil, errors.New("dirchan: channel name is required")
	}
	if cfg.Dir == "" {
		return nil, fmt.Errorf("dirchan %s: directory is required", cfg.Name)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("dirchan %s: %w", cfg.Name, err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("dirchan %s: %w", cfg.Name, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("dirchan %s: %w", cfg.Name, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("dirchan %s: %s is not a directory", cfg.Name, dir)
	}
	probe, err := os.CreateTemp(dir, ".write-probe-*")
	if err != nil {
		return nil, fmt.Errorf("dirchan %s: directory %s is not writable: %w", cfg.Name, dir, err)
	}
	probe.Close()
	if err := os.Remove(probe.Name()); err != nil {
		return nil, fmt.Errorf("dirchan %s: %w", cfg.Name, err)
	}
	return &Channel{name: cfg.Name, dir: dir, layout: Layout{Dir: filepath.ToSlash(dir)}}, nil
}

// Name is the configured channel name.
func (c *Channel) Name() string { return c.name }

// Dir is the absolute drop directory.
func (c *Channel) Dir() string { return c.dir }

// Find returns the receipt of the complete delivery of a submission; a
// leftover partial delivery is removed (found false).
func (c *Channel) Find(ctx context.Context, submissionID string) (channel.Receipt, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fsys, err := c.open()
	if err != nil {
		return channel.Receipt{}, false, err
	}
	defer fsys.Close()
	r, found, err := c.layout.Find(ctx, fsys, submissionID)
	if err != nil {
		return r, found, fmt.Errorf("dirchan %s: %w", c.name, err)
	}
	return r, found, nil
}

// Deliver writes the delivery, or returns the existing receipt when the
// submission was delivered already.
func (c *Channel) Deliver(ctx context.Context, d channel.Delivery) (channel.Receipt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fsys, err := c.open()
	if err != nil {
		return channel.Receipt{}, err
	}
	defer fsys.Close()
	r, err := c.layout.Deliver(ctx, fsys, d)
	if err != nil {
		return r, fmt.Errorf("dirchan %s: %w", c.name, err)
	}
	return r, nil
}

// Status is channel.StateDelivered once the delivery folder exists.
func (c *Channel) Status(ctx context.Context, receiptID string) (channel.Status, error) {
	fsys, err := c.open()
	if err != nil {
		return channel.Status{}, err
	}
	defer fsys.Close()
	s, err := c.layout.Status(ctx, fsys, receiptID)
	if err != nil {
		return s, fmt.Errorf("dirchan %s: %w", c.name, err)
	}
	return s, nil
}

func (c *Channel) open() (*rootFS, error) {
	root, err := os.OpenRoot(c.dir)
	if err != nil {
		return nil, fmt.Errorf("dirchan %s: %w", c.name, fsErr("open", c.dir, err))
	}
	return &rootFS{root: root}, nil
}

// rootFS is the FS of a local directory; os.Root keeps every name inside it.
type rootFS struct{ root *os.Root }

func (r *rootFS) Close() error { return r.root.Close() }

func (r *rootFS) Stat(name string) (fs.FileInfo, error) { return r.root.Stat(name) }

func (r *rootFS) ReadFile(name string) ([]byte, error) { return r.root.ReadFile(name) }

func (r *rootFS) Mkdir(name string) error { return r.root.Mkdir(name, 0o750) }

func (r *rootFS) WriteFile(name string, data []byte) error {
	f, err := r.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (r *rootFS) SyncDir(name string) error {
	f, err := r.root.Open(name)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (r *rootFS) Rename(oldname, newname string) error { return r.root.Rename(oldname, newname) }

func (r *rootFS) RemoveAll(name string) error { return r.root.RemoveAll(name) }
