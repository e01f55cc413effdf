package eventstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// lockFileName is the file in the embedded store's directory that the process
// running the embedded nats-server holds locked, with its pid and client URL.
const lockFileName = "ledgerline.lock"

// ErrStoreInUse means another process runs the embedded nats-server on the store
// and its client URL is not known (yet).
var ErrStoreInUse = errors.New("the embedded JetStream store is in use by another process")

// storeOwner is what the lock file says.
type storeOwner struct {
	PID int    `json:"pid"`
	URL string `json:"url"`
	// Private: the owner keeps its server to itself (see Private).
	Private bool `json:"private,omitempty"`
}

// storeLock is held while this process runs the embedded server on a store.
// nats-server does not lock its store directory, and two servers writing one
// directory corrupt it; the lock keeps a second process (a `ledgerline stream
// restore` beside a running `ledgerline serve`, say) from starting another.
// The kernel drops the lock when the process ends, however it ends.
type storeLock struct{ f *os.File }

// lockStore takes the store's lock, or tells who holds it.
func lockStore(dir string) (*storeLock, storeOwner, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, storeOwner{}, fmt.Errorf("embedded nats store: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, storeOwner{}, fmt.Errorf("embedded nats store: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner := readOwner(f)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, owner, fmt.Errorf("%w: %s (pid %d)", ErrStoreInUse, dir, owner.PID)
		}
		return nil, storeOwner{}, fmt.Errorf("lock embedded nats store %s: %w", dir, err)
	}
	return &storeLock{f: f}, storeOwner{}, nil
}

// publish records this process and its server's client URL in the lock file.
func (l *storeLock) publish(url string, private bool) error {
	b, _ := json.Marshal(storeOwner{PID: os.Getpid(), URL: url, Private: private})
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	_, err := l.f.WriteAt(append(b, '\n'), 0)
	return err
}

func (l *storeLock) release() {
	if l != nil {
		_ = l.f.Close() // closing the file drops the lock
	}
}

func readOwner(f *os.File) storeOwner {
	var o storeOwner
	b, _ := io.ReadAll(io.NewSectionReader(f, 0, 4096))
	_ = json.Unmarshal(b, &o)
	return o
}
