package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ledgerline/ledgerline/services/ingest"
	"github.com/ledgerline/ledgerline/services/ingest/csvmap"
)

func eventsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "events", Short: "Send events to Ledgerline"}
	var (
		batchSize int
		asJSON    bool
		mapping   string
	)
	push := &cobra.Command{
		Use:   "push FILE|-",
		Short: "Send the events of a JSON array or NDJSON file (- for stdin), in batches, with progress",
		Long:  "Exit status: 0 when every event was accepted or was a duplicate, 2 when some were rejected (they are in the quarantine), 1 on failure.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			in, size, closeIn, err := openInput(args[0])
			if err != nil {
				return err
			}
			defer closeIn()
			counter := &countingReader{r: in}
			f, err := newEventFile(counter)
			if err != nil {
				return fmt.Errorf("read %s: %w", args[0], err)
			}
			sum, err := pushAll(cmd.Context(), cmd, c, f.next, counter, size, args[0], batchSize, asJSON)
			if err != nil {
				return err
			}
			return sum.exit()
		},
	}
	push.Flags().IntVar(&batchSize, "batch-size", 500, "events per request")
	push.Flags().BoolVar(&asJSON, "json", false, "print every result as JSON on stdout")

	imp := &cobra.Command{
		Use:   "import FILE.csv --mapping MAP.yaml",
		Short: "Turn an end-of-day CSV extract into events with a mapping and send them, with progress",
		Long:  "See docs/sending-events.md for the mapping format. Exit status as for push; rows the mapping cannot turn into events also give 2.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			mb, err := os.ReadFile(mapping)
			if err != nil {
				return fmt.Errorf("mapping: %w", err)
			}
			m, err := csvmap.ParseMapping(mb)
			if err != nil {
				return fmt.Errorf("%s: %w", mapping, err)
			}
			in, size, closeIn, err := openInput(args[0])
			if err != nil {
				return err
			}
			defer closeIn()
			counter := &countingReader{r: in}
			r, err := csvmap.NewReader(m, counter)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			unmapped := 0
			next := func() (rawEvent, error) {
				for {
					row, err := r.Next()
					if err != nil {
						return rawEvent{}, err
					}
					if row.Err != nil {
						unmapped++
						fmt.Fprintf(cmd.ErrOrStderr(), "not sent: %v\n", row.Err)
						continue
					}
					return rawEvent{Where: fmt.Sprintf("line %d", row.Line), Raw: row.Event}, nil
				}
			}
			sum, err := pushAll(cmd.Context(), cmd, c, next, counter, size, args[0], batchSize, asJSON)
			if err != nil {
				return err
			}
			sum.unmapped = unmapped
			return sum.exit()
		},
	}
	imp.Flags().StringVar(&mapping, "mapping", "", "YAML mapping from CSV columns to the event envelope")
	imp.Flags().IntVar(&batchSize, "batch-size", 500, "events per request")
	imp.Flags().BoolVar(&asJSON, "json", false, "print every result as JSON on stdout")
	_ = imp.MarkFlagRequired("mapping")

	cmd.AddCommand(push, imp)
	return cmd
}

func openInput(name string) (io.Reader, int64, func(), error) {
	if name == "-" {
		return os.Stdin, 0, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, nil, err
	}
	return f, fi.Size(), func() { f.Close() }, nil
}

// summary counts the answers of a push.
type summary struct {
	counts   map[ingest.Status]int
	unmapped int
}

func (s summary) exit() error {
	if s.counts[ingest.StatusRejected] > 0 || s.unmapped > 0 {
		return &exitError{code: 2}
	}
	return nil
}

// resultLine is a result with where its event came from.
type resultLine struct {
	Where string `json:"where"`
	ingest.Result
}

// pushAll sends events batch by batch, in file order (a correction may follow its
// original in the same file, so batches are not sent concurrently).
func pushAll(ctx context.Context, cmd *cobra.Command, c *client, next func() (rawEvent, error),
	counter *countingReader, size int64, name string, batchSize int, asJSON bool) (summary, error) {
	if batchSize < 1 {
		return summary{}, fmt.Errorf("--batch-size must be at least 1")
	}
	start := time.Now()
	prog := newProgress(cmd.ErrOrStderr(), size, "sending "+name)
	sum := summary{counts: map[ingest.Status]int{}}
	var (
		batch    [][]byte
		where    []string
		rejected []resultLine
		all      []resultLine
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		results, err := c.pushBatch(ctx, batch)
		if err != nil {
			return fmt.Errorf("send events (%s to %s): %w", where[0], where[len(where)-1], err)
		}
		for i, r := range results {
			sum.counts[r.Status]++
			rl := resultLine{Where: where[i], Result: r}
			if r.Status == ingest.StatusRejected {
				rejected = append(rejected, rl)
			}
			if asJSON {
				all = append(all, rl)
			}
		}
		batch, where = batch[:0], where[:0]
		prog.set(counter.n)
		return nil
	}
	for {
		ev, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			prog.finish()
			return sum, fmt.Errorf("read %s: %w", name, err)
		}
		batch = append(batch, ev.Raw)
		where = append(where, ev.Where)
		if len(batch) >= batchSize {
			if err := flush(); err != nil {
				prog.finish()
				return sum, err
			}
		}
	}
	if err := flush(); err != nil {
		prog.finish()
		return sum, err
	}
	prog.finish()
	out := cmd.OutOrStdout()
	if asJSON {
		if all == nil {
			all = []resultLine{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return sum, enc.Encode(all)
	}
	total := sum.counts[ingest.StatusAccepted] + sum.counts[ingest.StatusDuplicate] + sum.counts[ingest.StatusRejected]
	fmt.Fprintf(out, "%s: %d events in %s: %d accepted, %d duplicate, %d rejected\n", name, total,
		time.Since(start).Round(time.Millisecond), sum.counts[ingest.StatusAccepted], sum.counts[ingest.StatusDuplicate], sum.counts[ingest.StatusRejected])
	for _, r := range rejected {
		id := r.ID
		if id == "" {
			id = "(no id)"
		}
		fmt.Fprintf(out, "  rejected %s %s: %s [quarantine #%d]\n", r.Where, id, r.Error, r.QuarantineID)
	}
	return sum, nil
}
