package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ledgerline/ledgerline/platform/pgtest"
	"github.com/ledgerline/ledgerline/services/ingest/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// BenchmarkLookupAndIndex is one batch's PostgreSQL work: look up 500 new ids, then
// index them. Reported per event.
func BenchmarkLookupAndIndex(b *testing.B) {
	st := store.New(pgtest.NewPool(b))
	ctx := context.Background()
	seq := uint64(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ids := make([]string, 500)
		rows := make([]store.Indexed, 500)
		for j := range ids {
			seq++
			ids[j] = fmt.Sprintf("ev-%09d", seq)
			rows[j] = store.Indexed{ID: ids[j], Seq: seq, Type: "loan.balance"}
		}
		if _, err := st.Lookup(ctx, ids, nil); err != nil {
			b.Fatal(err)
		}
		if err := st.Index(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*500), "µs/event")
}
