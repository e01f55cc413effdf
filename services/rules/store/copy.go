package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"math/big"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// Contributions are the rows every batch writes, so their COPY is encoded here in
// PostgreSQL's binary COPY format straight into one reused buffer, instead of
// through pgx's generic per-value encoding ([]any rows, a plan lookup per value):
// that generic path was a sixth of a rule worker's CPU. The format is the
// documented one (https://www.postgresql.org/docs/current/sql-copy.html, "Binary
// Format"); copy_test.go checks every column type against PostgreSQL itself.

const copyContributions = `COPY contributions (seq, occurred_at, figure_id, dim_set, value, currency, event_id, subject, adj_period)
	FROM STDIN (FORMAT binary)`

// copyWithTombstones is the COPY of a batch that holds tombstones: stops_counting
// is one more column, true for them and NULL for the others. A batch without
// any (every event matching its rules) is written exactly as before.
const copyWithTombstones = `COPY contributions (seq, occurred_at, figure_id, dim_set, value, currency, event_id, subject, adj_period,
	stops_counting) FROM STDIN (FORMAT binary)`

var copyBufs = sync.Pool{New: func() any { return new(copyBuf) }}

// copyContributionRows writes cs (with their resolved keys) in one COPY on tx.
func copyContributionRows(ctx context.Context, tx pgx.Tx, cs []Contribution, figureIDs, dimSets []int32) error {
	w := copyBufs.Get().(*copyBuf)
	defer copyBufs.Put(w)
	w.b = w.b[:0]
	w.header()
	stmt, fields := copyContributions, 9
	for i := range cs {
		if cs[i].StopsCounting {
			stmt, fields = copyWithTombstones, 10
			break
		}
	}
	for i := range cs {
		c := &cs[i]
		w.tuple(fields)
		w.int8(int64(c.Seq))
		w.timestamptz(c.OccurredAt)
		w.int4(figureIDs[i])
		w.int4(dimSets[i])
		w.numeric(c.Value)
		w.textOrNull(c.Currency)
		w.text(c.EventID)
		w.text(c.Subject)
		w.textOrNull(c.AdjPeriod)
		if fields == 10 {
			w.trueOrNull(c.StopsCounting)
		}
	}
	w.trailer()
	_, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(w.b), stmt)
	return err
}

// copyBuf builds a binary COPY stream.
type copyBuf struct {
	b      []byte
	digits []byte // scratch: a numeric's decimal digits
	padded []byte // scratch: the same padded to groups of four
}

func (w *copyBuf) header() {
	w.b = append(w.b, "PGCOPY\n\xff\r\n\x00"...)
	w.b = binary.BigEndian.AppendUint32(w.b, 0) // flags: no OIDs
	w.b = binary.BigEndian.AppendUint32(w.b, 0) // no header extension
}

func (w *copyBuf) trailer() { w.b = binary.BigEndian.AppendUint16(w.b, 0xffff) }

func (w *copyBuf) tuple(fields int) { w.b = binary.BigEndian.AppendUint16(w.b, uint16(fields)) }

func (w *copyBuf) int8(v int64) {
	w.b = binary.BigEndian.AppendUint32(w.b, 8)
	w.b = binary.BigEndian.AppendUint64(w.b, uint64(v))
}

func (w *copyBuf) int4(v int32) {
	w.b = binary.BigEndian.AppendUint32(w.b, 4)
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(v))
}

func (w *copyBuf) text(s string) {
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(len(s)))
	w.b = append(w.b, s...)
}

// textOrNull writes "" as NULL.
func (w *copyBuf) textOrNull(s string) {
	if s == "" {
		w.b = binary.BigEndian.AppendUint32(w.b, math.MaxUint32) // length -1: NULL
		return
	}
	w.text(s)
}

// trueOrNull writes true as a bool, false as NULL.
func (w *copyBuf) trueOrNull(v bool) {
	if !v {
		w.b = binary.BigEndian.AppendUint32(w.b, math.MaxUint32)
		return
	}
	w.b = binary.BigEndian.AppendUint32(w.b, 1)
	w.b = append(w.b, 1)
}

// pgEpochMicros is 2000-01-01 UTC, PostgreSQL's timestamp epoch, in Unix microseconds.
const pgEpochMicros = 946684800 * 1000000

func (w *copyBuf) timestamptz(t time.Time) {
	w.int8(t.Unix()*1000000 + int64(t.Nanosecond())/1000 - pgEpochMicros)
}

// numeric writes d exactly: PostgreSQL's binary numeric is base-10000 digits with
// a weight (the power of 10000 of the first digit), a sign and the display scale.
func (w *copyBuf) numeric(d decimal.Decimal) {
	coef, exp := d.Coefficient(), d.Exponent()
	neg := coef.Sign() < 0
	// The decimal digits of |coefficient|: value = digits × 10^exp.
	w.digits = w.digits[:0]
	if v := coef.Int64(); coef.IsInt64() && v != math.MinInt64 {
		w.digits = strconv.AppendInt(w.digits, max(v, -v), 10)
	} else {
		w.digits = new(big.Int).Abs(coef).Append(w.digits, 10)
	}
	for ; exp > 0; exp-- {
		w.digits = append(w.digits, '0')
	}
	dscale := int(-exp)
	// The digits padded to whole groups of four on both sides of the point:
	// zeros before the integer part, between the point and a small fraction's
	// digits, and after the fraction.
	intLen := len(w.digits) - dscale
	w.padded = w.padded[:0]
	intGroups := 0
	if intLen >= 0 {
		for k := 0; k < (4-intLen%4)%4; k++ {
			w.padded = append(w.padded, '0')
		}
		w.padded = append(w.padded, w.digits[:intLen]...)
		intGroups = len(w.padded) / 4
		w.padded = append(w.padded, w.digits[intLen:]...)
	} else {
		for k := 0; k < -intLen; k++ {
			w.padded = append(w.padded, '0')
		}
		w.padded = append(w.padded, w.digits...)
	}
	for len(w.padded)%4 != 0 {
		w.padded = append(w.padded, '0')
	}
	group := func(g int) uint16 {
		p := w.padded[4*g : 4*g+4]
		return uint16(p[0]-'0')*1000 + uint16(p[1]-'0')*100 + uint16(p[2]-'0')*10 + uint16(p[3]-'0')
	}
	// Leading and trailing zero groups are implied by the weight and the scale.
	first, last, weight := 0, len(w.padded)/4-1, intGroups-1
	for first <= last && group(first) == 0 {
		first++
		weight--
	}
	for last >= first && group(last) == 0 {
		last--
	}
	n := last - first + 1
	if n == 0 {
		weight, neg = 0, false
	}
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(8+2*n))
	w.b = binary.BigEndian.AppendUint16(w.b, uint16(n))
	w.b = binary.BigEndian.AppendUint16(w.b, uint16(int16(weight)))
	sign := uint16(0)
	if neg {
		sign = 0x4000
	}
	w.b = binary.BigEndian.AppendUint16(w.b, sign)
	w.b = binary.BigEndian.AppendUint16(w.b, uint16(dscale))
	for g := first; g <= last; g++ {
		w.b = binary.BigEndian.AppendUint16(w.b, group(g))
	}
}
