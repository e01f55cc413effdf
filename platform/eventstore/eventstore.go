// Package eventstore connects Ledgerline to its system of record: one JetStream
// stream that keeps every event for ever.
//
// With no NATS URL configured it starts an embedded nats-server with JetStream,
// storing under the data dir, and connects to it in-process. The stream is created
// (or its settings updated) at start: file storage, no age, size or count limit,
// delete and purge denied, the duplicate window and replica count from config.
// See package envelope for the subject scheme.
package eventstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/platform/envelope"
)

// Store is a NATS connection, its JetStream context and the event stream.
type Store struct {
	Conn   *nats.Conn
	JS     jetstream.JetStream
	Stream jetstream.Stream
	Name   string
	// Origin says which server the store is on, for operators: the configured URL
	// (credentials redacted), or an embedded server.
	Origin string
	server *server.Server
	lock   *storeLock
}

// Open connects (starting the embedded server if cfg.NATSURL is empty, or using
// the one another process already runs on the same store) and makes sure the
// event stream exists with the configured settings.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, options ...Option) (*Store, error) {
	var o openOptions
	for _, opt := range options {
		opt(&o)
	}
	var (
		nc  *nats.Conn
		srv *server.Server
		err error
	)
	opts := []nats.Option{
		nats.Name("ledgerline"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrl()) }),
	}
	var lock *storeLock
	origin := ""
	storeDir := filepath.Join(cfg.DataDir, "nats")
	if cfg.NATSURL != "" {
		nc, err = nats.Connect(cfg.NATSURL, opts...)
	} else {
		var owner storeOwner
		lock, owner, err = lockStore(storeDir)
		switch {
		case errors.Is(err, ErrStoreInUse) && owner.Private:
			return nil, fmt.Errorf("%w, which keeps its server to itself (a `ledgerline stream` command working offline): "+
				"try again when it has finished", err)
		case errors.Is(err, ErrStoreInUse) && owner.URL != "":
			// Another process (a running `ledgerline serve`) has the store: use
			// its server, as a second process uses the private PostgreSQL.
			origin = fmt.Sprintf("the embedded nats-server of process %d on %s", owner.PID, storeDir)
			log.Info("using the embedded nats-server of another process", "url", owner.URL, "pid", owner.PID, "store", storeDir)
			nc, err = nats.Connect(owner.URL, opts...)
		case err != nil:
			return nil, err
		default:
			if srv, err = StartEmbedded(storeDir, cfg.NATSListen, cfg.Stream.SyncAlways); err != nil {
				lock.release()
				return nil, err
			}
			if err := lock.publish(srv.ClientURL(), o.private); err != nil {
				log.Warn("cannot record the embedded nats-server's URL for other ledgerline commands", "err", err)
			}
			origin = "an embedded nats-server on " + storeDir + " started by this process"
			nc, err = nats.Connect("", append(opts, nats.InProcessServer(srv))...)
			log.Info("embedded nats-server ready", "url", srv.ClientURL(), "store", storeDir)
		}
	}
	if err != nil {
		if srv != nil {
			srv.Shutdown()
		}
		lock.release()
		return nil, fmt.Errorf("connect to nats: %w", err)
	}
	if origin == "" {
		origin = nc.ConnectedUrlRedacted()
	}
	s := &Store{Conn: nc, server: srv, lock: lock, Name: cfg.Stream.Name, Origin: origin}
	if err := s.init(ctx, cfg.Stream); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Option configures Open.
type Option func(*openOptions)

type openOptions struct{ private bool }

// Private keeps an embedded server this process starts to itself: another
// process that finds the store in use is refused instead of connecting to it,
// as it would to a running `ledgerline serve`. For short-lived commands working
// offline (a restore), whose server goes away when they end.
func Private() Option { return func(o *openOptions) { o.private = true } }

// StreamConfig is the event stream's configuration: kept for ever.
func StreamConfig(c config.StreamConfig) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        c.Name,
		Description: "Ledgerline event store: every source event, kept for ever",
		Subjects:    []string{envelope.StreamSubjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Replicas:    c.Replicas,
		MaxAge:      0,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		MaxMsgSize:  -1,
		Discard:     jetstream.DiscardNew, // were a limit ever hit, refuse new events rather than drop old ones
		Duplicates:  c.DuplicateWindow,
		DenyDelete:  true,
		DenyPurge:   true,
		AllowDirect: true,
	}
}

func (s *Store) init(ctx context.Context, c config.StreamConfig) error {
	js, err := jetstream.New(s.Conn, jetstream.WithPublishAsyncMaxPending(8192))
	if err != nil {
		return err
	}
	s.JS = js
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var st jetstream.Stream
	for {
		// A cluster may still be electing its meta leader; retry until the
		// deadline. Each attempt has a deadline of its own: a request that
		// reached a server before the election is never answered.
		actx, acancel := context.WithTimeout(cctx, 3*time.Second)
		st, err = js.CreateOrUpdateStream(actx, StreamConfig(c))
		acancel()
		if err == nil || cctx.Err() != nil || !errors.Is(err, jetstream.ErrJetStreamNotEnabled) && !isTransient(err) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("create stream %s: %w", c.Name, err)
	}
	s.Stream = st
	return nil
}

func isTransient(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoHeartbeat)
}

// LastSeq is the stream's last sequence number.
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	info, err := s.Stream.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}

// ClientURL is the embedded server's client URL ("" when external).
func (s *Store) ClientURL() string {
	if s.server == nil {
		return ""
	}
	return s.server.ClientURL()
}

// Close drains the connection and stops an embedded server.
func (s *Store) Close() {
	if s.Conn != nil {
		_ = s.Conn.Drain()
		for i := 0; i < 100 && !s.Conn.IsClosed(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		s.Conn.Close()
	}
	if s.server != nil {
		s.server.Shutdown()
		s.server.WaitForShutdown()
	}
	s.lock.release()
}

// StartEmbedded starts a single-node nats-server with JetStream storing in storeDir,
// accepting clients at listen ("host:port", port -1 for any free port).
func StartEmbedded(storeDir, listen string, syncAlways bool) (*server.Server, error) {
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("nats_listen %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("nats_listen %q: bad port", listen)
	}
	opts := &server.Options{
		ServerName: "ledgerline-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   storeDir,
		SyncAlways: syncAlways,
		NoSigs:     true,
		MaxPayload: 8 << 20,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats-server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats-server in %s did not start within 30s", storeDir)
	}
	return srv, nil
}
