package postgres

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoPostgres means no PostgreSQL URL was given and no local installation was found.
var ErrNoPostgres = errors.New("no PostgreSQL available: set LEDGERLINE_DATABASE_URL (or --database-url) " +
	"to a server, or install PostgreSQL's server binaries (initdb, postgres) on PATH or under " +
	"/usr/lib/postgresql/<version>/bin, e.g. `apt-get install postgresql`, so Ledgerline can start a private one")

// superuser is the role initdb creates in a private cluster.
const superuser = "ledgerline"

// Local is a private PostgreSQL cluster in a directory of ours, started from the
// local installation's binaries. When the process runs as root (PostgreSQL refuses
// that), initdb and the server run as the "postgres" OS user on a directory it owns.
type Local struct {
	// Dir is the cluster directory (PGDATA).
	Dir string
	// BinDir holds initdb and postgres.
	BinDir string
	// Password protects TCP logins; empty means trust (used by tests only).
	Password string
	// Fast turns off fsync and friends: for throw-away test clusters.
	Fast bool
	// LogFile receives the server's output.
	LogFile string

	port  int
	cmd   *exec.Cmd
	owned bool
	exit  chan error
}

// FindBinaries returns the directory holding initdb and postgres: binDir if given,
// else the newest /usr/lib/postgresql/*/bin, else the directory of initdb on PATH.
func FindBinaries(binDir string) (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if binDir != "" {
		if has(binDir) {
			return binDir, nil
		}
		return "", fmt.Errorf("postgres.bin_dir %s does not hold initdb and postgres: %w", binDir, ErrNoPostgres)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && has(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
		if has(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	return "", ErrNoPostgres
}

func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// serverUser is the OS user the server must run as: nil for the current user, or
// the postgres user's credentials when we are root.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL must run as the \"postgres\" OS user, which does not exist: " +
			"create it (useradd --system postgres) or run as another user")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// reachableByOthers reports whether every ancestor of dir lets other users through,
// so that the postgres user can reach a cluster directory inside it.
func reachableByOthers(dir string) bool {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil && fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

// ClusterDir is where the cluster for dataDir lives: dataDir/postgres, or, when the
// server runs as another user who cannot reach dataDir (a home directory, say), a
// directory under /var/tmp named after dataDir.
func ClusterDir(dataDir string) (string, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(abs, "postgres")
	cred, err := serverUser()
	if err != nil || cred == nil || reachableByOthers(dir) {
		return dir, err
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join("/var/tmp", "ledgerline-postgres-"+hex.EncodeToString(sum[:8])), nil
}

// prepareDir creates dir owned by the server's user.
func prepareDir(dir string, cred *syscall.Credential) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("give %s to the postgres user: %w", dir, err)
		}
	}
	return nil
}

// Init runs initdb unless the cluster exists already.
func (l *Local) Init(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(l.Dir, "PG_VERSION")); err == nil {
		return nil
	}
	cred, err := serverUser()
	if err != nil {
		return err
	}
	if err := prepareDir(l.Dir, cred); err != nil {
		return fmt.Errorf("prepare cluster directory: %w", err)
	}
	args := []string{"-D", l.Dir, "-U", superuser, "-E", "UTF8", "--locale=C"}
	if l.Password == "" {
		args = append(args, "--auth=trust")
	} else {
		pw, err := os.CreateTemp("", "ledgerline-pw-*")
		if err != nil {
			return err
		}
		defer os.Remove(pw.Name())
		if _, err := pw.WriteString(l.Password + "\n"); err != nil {
			return err
		}
		pw.Close()
		if cred != nil {
			if err := os.Chown(pw.Name(), int(cred.Uid), int(cred.Gid)); err != nil {
				return err
			}
		}
		args = append(args, "--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile="+pw.Name())
	}
	if l.Fast {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(l.BinDir, "initdb"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = "/"
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb %s: %w\n%s", l.Dir, err, out)
	}
	return nil
}

// Start starts the server, or adopts one already running on the cluster (a
// `ledgerline keys create` beside a running `ledgerline serve`). A server we start
// is our child and dies with us.
func (l *Local) Start(ctx context.Context) error {
	if port, ok := l.running(ctx); ok {
		l.port = port
		return nil
	}
	cred, err := serverUser()
	if err != nil {
		return err
	}
	// After a Stop the server comes back on the same port, so pools reconnect.
	port := l.port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return err
		}
	}
	args := []string{"-D", l.Dir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + l.Dir,
		"-c", "max_connections=200"}
	if l.Fast {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(l.BinDir, "postgres"), args...)
	// Pdeathsig: a private server never outlives the process that started it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	cmd.Dir = "/"
	if l.LogFile != "" {
		f, err := os.OpenFile(l.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	l.cmd, l.owned, l.port = cmd, true, port
	l.exit = make(chan error, 1)
	go func() { l.exit <- cmd.Wait() }()

	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := pgx.Connect(ctx, l.URL("postgres"))
		if err == nil {
			c.Close(ctx)
			return nil
		}
		select {
		case werr := <-l.exit:
			l.cmd = nil
			return fmt.Errorf("postgres exited during start-up (%v); see %s", werr, l.LogFile)
		case <-ctx.Done():
			l.Stop()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			l.Stop()
			return fmt.Errorf("postgres did not accept connections within 60s: %w (see %s)", err, l.LogFile)
		}
	}
}

// running reports the port of a live server on the cluster, from postmaster.pid.
func (l *Local) running(ctx context.Context) (int, bool) {
	f, err := os.Open(filepath.Join(l.Dir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 4 {
		return 0, false
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err != nil {
		return 0, false
	}
	prev := l.port
	l.port = port
	c, err := pgx.Connect(ctx, l.URL("postgres"))
	if err != nil {
		l.port = prev // a stale pid file: its port means nothing
		return 0, false
	}
	c.Close(ctx)
	return port, true
}

// Stop shuts down a server we started (fast shutdown) and waits for it.
func (l *Local) Stop() error {
	if l.cmd == nil || !l.owned {
		return nil
	}
	_ = l.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-l.exit:
	case <-time.After(30 * time.Second):
		_ = l.cmd.Process.Kill()
		<-l.exit
	}
	l.cmd = nil
	return nil
}

// StopImmediate stops a server we started with `pg_ctl stop -m immediate`: every
// server process quits at once, without a checkpoint, and the next Start recovers
// from the WAL as after a crash (fault tests). Start brings it back on its port.
func (l *Local) StopImmediate() error {
	if l.cmd == nil || !l.owned {
		return nil
	}
	cred, err := serverUser()
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(l.BinDir, "pg_ctl"), "stop", "-m", "immediate", "-w", "-D", l.Dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = "/"
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl stop -m immediate: %w\n%s", err, out)
	}
	<-l.exit
	l.cmd = nil
	return nil
}

// Kill stops the server abruptly, as a crash would (fault tests).
func (l *Local) Kill() {
	if l.cmd != nil {
		_ = l.cmd.Process.Signal(syscall.SIGKILL)
		<-l.exit
		l.cmd = nil
	}
}

// Port is the server's TCP port on 127.0.0.1.
func (l *Local) Port() int { return l.port }

// URL is the connection string for database on this server.
func (l *Local) URL(database string) string {
	auth := superuser
	if l.Password != "" {
		auth += ":" + l.Password
	}
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", auth, l.port, database)
}

// EnsureDatabase creates database on the server if it does not exist.
func (l *Local) EnsureDatabase(ctx context.Context, database string) error {
	c, err := pgx.Connect(ctx, l.URL("postgres"))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	var exists bool
	if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", database).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{database}.Sanitize())
	var already interface{ SQLState() string }
	if errors.As(err, &already) && already.SQLState() == "42P04" { // created meanwhile
		return nil
	}
	return err
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// passwordFile returns the password stored beside the cluster, creating one.
func passwordFile(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	buf := make([]byte, 18)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(buf)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	return pw, os.WriteFile(path, []byte(pw+"\n"), 0o600)
}
