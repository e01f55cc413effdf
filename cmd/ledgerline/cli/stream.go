package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ledgerline/ledgerline/platform/eventstore"
	"github.com/ledgerline/ledgerline/platform/eventstore/backup"
)

// connecting is the part of the stream commands' help that says which NATS they use.
const connecting = `Which NATS: with nats_url (--nats-url, LEDGERLINE_NATS_URL) set, that server or cluster (an
external one, or the embedded server of a running ` + "`ledgerline serve`" + ` at its nats_listen address).
With nats_url empty, the embedded store in <data_dir>/nats: when a ` + "`ledgerline serve`" + ` runs on that
data dir, the command connects to its embedded server (found through <data_dir>/nats/ledgerline.lock),
so run it with the same --data-dir as the server; when nothing serves it, the command starts the
embedded server on the data dir itself (offline), and no ` + "`ledgerline serve`" + ` can start on it meanwhile.`

func streamCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stream",
		Short: "Back up, verify and restore the event stream (talks to NATS directly)",
		Long: "The event stream is the system of record; see docs/operations.md, \"Backup and restore\", for the whole\n" +
			"procedure with the database.\n\n" + connecting,
	}
	var out string
	bk := &cobra.Command{
		Use:   "backup --out FILE",
		Short: "Write every event of the stream to a checksummed backup file, while ingest goes on",
		Long: `Writes a backup of the whole event stream to FILE (- for stdout): every event up to the stream's last
seq when the backup starts, with its seq, subject, headers, data and timestamp, in a gzip-compressed,
checksummed NDJSON file (the format: platform/eventstore/backup). Ingest is not stopped: events
accepted meanwhile are not in this backup, the next one has them. Progress goes to stderr; the
summary, with the file's content SHA-256, to stdout. FILE is written as FILE.partial and renamed
when complete.

Order: back up the database (pg_dump) first, then the stream, so the stream backup holds every event
the database refers to.

` + connecting,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStream(cmd, func(ctx context.Context, es *eventstore.Store) error {
				w, commit, abort, err := createOutput(out)
				if err != nil {
					return err
				}
				var p *progress
				h, t, err := es.Backup(ctx, w, func(done, total uint64) {
					if p == nil {
						p = newCounter(cmd.ErrOrStderr(), int64(total), "backing up", "events")
					}
					p.set(int64(done))
				})
				if p != nil {
					p.finish()
				}
				if err != nil {
					abort()
					return fmt.Errorf("back up stream %s: %w", es.Name, err)
				}
				if err := commit(); err != nil {
					return err
				}
				summary := cmd.OutOrStdout()
				if out == "-" {
					summary = cmd.ErrOrStderr() // stdout is the backup
				}
				fmt.Fprintf(summary, "backup of stream %s: %d events, seq %d to %d, taken %s\nwritten to %s, content sha256 %s\n",
					h.Stream, h.Messages, h.FirstSeq, h.LastSeq, h.CreatedAt.Format(time.RFC3339), out, t.SHA256)
				return nil
			})
		},
	}
	bk.Flags().StringVar(&out, "out", "", "backup file to write (- for stdout)")
	_ = bk.MarkFlagRequired("out")

	verify := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check a backup file's checksum, counts and seq order without restoring it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, t, err := verifyFile(cmd, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: intact: stream %s, %d events, seq %d to %d, taken %s, content sha256 %s\n",
				args[0], h.Stream, h.Messages, h.FirstSeq, h.LastSeq, h.CreatedAt.Format(time.RFC3339), t.SHA256)
			return nil
		},
	}

	restore := &cobra.Command{
		Use:   "restore FILE",
		Short: "Restore a backup into an empty stream, every event at its original seq",
		Long: `Verifies FILE's checksum first (nothing is written to a stream from a damaged backup), then publishes
its events in seq order into the stream, which must be empty: a restore into a stream holding any
message is refused. Every event gets back its original seq, which filings (as_of_seq) and lineage
rely on; each acknowledgement is checked, and the stream is read back at the end and compared with
the backup (seq, subject, headers, data), failing loudly on any difference. JetStream stamps each
message with the time it stores it, so the restore keeps each event's original recorded_at in the
header Ledgerline-Recorded-At, which Ledgerline reads in its place. A backup whose seqs have a gap
(events are never deleted, so a Ledgerline stream has none) is refused: JetStream cannot leave a
hole, so every later event would get another seq.

Restore with nothing publishing to the stream: best before ` + "`ledgerline serve`" + ` starts (embedded: on a fresh
data dir, with no server running on it; external: with every ledgerline process stopped). Another
event stored meanwhile takes a seq of the backup and stops the restore.

Then the database: restore the pg_dump taken BEFORE this stream backup (never a later one: it would
refer to events the stream does not have), start ` + "`ledgerline serve`" + `, which brings the event index up to
the stream's last seq at start and the rules to the end of the stream; or, with a database that has the
rule sets and templates but not the projections, run ` + "`ledgerline projections rebuild`" + `.

` + connecting,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, _, err := verifyFile(cmd, args[0])
			if err != nil {
				return fmt.Errorf("%w; nothing was restored", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: intact: stream %s, %d events, seq %d to %d, taken %s\n",
				args[0], h.Stream, h.Messages, h.FirstSeq, h.LastSeq, h.CreatedAt.Format(time.RFC3339))
			return withStream(cmd, func(ctx context.Context, es *eventstore.Store) error {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				r, err := backup.NewReader(f)
				if err != nil {
					return err
				}
				var p *progress
				err = es.Restore(ctx, r, func(done, total uint64) {
					if p == nil {
						p = newCounter(cmd.ErrOrStderr(), int64(total), "restoring", "events")
					}
					p.set(int64(done))
				})
				if p != nil {
					p.finish()
				}
				if err != nil {
					return fmt.Errorf("restore %s into stream %s: %w", args[0], es.Name, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "restored %d events into stream %s, seq %d to %d, each at its original seq; "+
					"the stream was read back and matches the backup\n", h.Messages, es.Name, h.FirstSeq, h.LastSeq)
				fmt.Fprintln(cmd.OutOrStdout(), "next: restore the database dump taken before this backup, then start ledgerline serve "+
					"(docs/operations.md, \"Backup and restore\")")
				return nil
			})
		},
	}
	cmd.AddCommand(bk, verify, restore)
	return cmd
}

// withStream opens the event store of the configuration (see connecting) for fn.
func withStream(cmd *cobra.Command, fn func(context.Context, *eventstore.Store) error) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	if cfg.Log.Level == "info" { // the embedded server's start-up lines would drown the progress
		cfg.Log.Level = "warn"
	}
	log, err := logger(cmd, cfg)
	if err != nil {
		return err
	}
	// An embedded server this command starts (offline) is its own: a `ledgerline
	// serve` must not attach to a server that goes away with the command.
	es, err := eventstore.Open(cmd.Context(), cfg, log, eventstore.Private())
	if err != nil {
		return err
	}
	defer es.Close()
	fmt.Fprintf(cmd.ErrOrStderr(), "stream %s on %s\n", es.Name, es.Origin)
	return fn(cmd.Context(), es)
}

// verifyFile checks a backup file from end to end, with progress.
func verifyFile(cmd *cobra.Command, path string) (backup.Header, backup.Trailer, error) {
	f, err := os.Open(path)
	if err != nil {
		return backup.Header{}, backup.Trailer{}, err
	}
	defer f.Close()
	var p *progress
	if fi, err := f.Stat(); err == nil {
		counter := &countingReader{r: f}
		p = newProgress(cmd.ErrOrStderr(), fi.Size(), "verifying "+filepath.Base(path))
		h, t, err := backup.Verify(counter, func(uint64) { p.set(counter.n) })
		p.finish()
		if err != nil {
			return h, t, fmt.Errorf("%s: %w", path, err)
		}
		return h, t, nil
	}
	return backup.Header{}, backup.Trailer{}, fmt.Errorf("%s: %w", path, err)
}

// createOutput opens path for writing, as path.partial renamed by commit; "-"
// is stdout.
func createOutput(path string) (w io.Writer, commit func() error, abort func(), err error) {
	if path == "-" {
		return os.Stdout, func() error { return nil }, func() {}, nil
	}
	partial := path + ".partial"
	f, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, nil, nil, err
	}
	commit = func() error {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", partial, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("write %s: %w", partial, err)
		}
		return os.Rename(partial, path)
	}
	abort = func() {
		f.Close()
		os.Remove(partial)
	}
	return f, commit, abort, nil
}
