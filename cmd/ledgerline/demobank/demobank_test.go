package demobank_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ledgerline/ledgerline/cmd/ledgerline/demobank"
	"github.com/ledgerline/ledgerline/cmd/ledgerline/demobank/expect"
	"github.com/ledgerline/ledgerline/schemas"
	"github.com/ledgerline/ledgerline/services/ingest/registry"
)

// sizes are the data sets the story must hold for: small and large, quarters and
// months, in summer and winter time, with few or many counterparties per loan.
var sizes = []demobank.Options{
	demobank.DefaultOptions(),
	{Seed: 2, Counterparties: demobank.MinCounterparties, Loans: demobank.MinLoans, Period: "2026-Q3"},
	{Seed: 3, Counterparties: 150, Loans: 3000, Period: "2026-Q1"},
	{Seed: 4, Counterparties: 2000, Loans: demobank.MinLoans, Period: "2026-09"},
	{Seed: 5, Counterparties: 400, Loans: 2500, Period: "2026-12"},
	{Seed: -7, Counterparties: 300, Loans: 800, Period: "2027-Q4"},
}

var generated = map[string]demobank.Dataset{}

// generate caches data sets: several tests read the same ones.
func generate(t *testing.T, o demobank.Options) demobank.Dataset {
	t.Helper()
	key := fmt.Sprint(o)
	if ds, ok := generated[key]; ok {
		return ds
	}
	ds, err := demobank.Generate(o)
	if err != nil {
		t.Fatalf("%+v: %v", o, err)
	}
	generated[key] = ds
	return ds
}

// envelope is what the tests read of an event.
type envelope struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Subject    string          `json:"subject"`
	OccurredAt time.Time       `json:"occurred_at"`
	Supersedes string          `json:"supersedes"`
	Data       json.RawMessage `json:"data"`
}

func parse(t *testing.T, line []byte) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(line, &e); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	return e
}

// accepted is the events without the ones meant to be refused.
func accepted(ds demobank.Dataset) [][]byte {
	var out [][]byte
	for i, e := range ds.Events {
		if !slices.Contains(ds.Invalid, i) {
			out = append(out, e)
		}
	}
	return out
}

func dec(t *testing.T, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return d
}

func TestSameOptionsGiveTheSameBytes(t *testing.T) {
	o := demobank.Options{Seed: 42, Counterparties: 180, Loans: 600, Period: "2026-Q3"}
	a, err := demobank.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := demobank.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	join := func(lines [][]byte) []byte { return append(bytes.Join(lines, []byte("\n")), '\n') }
	if !bytes.Equal(join(a.Events), join(b.Events)) || !bytes.Equal(join(a.Late), join(b.Late)) {
		t.Fatal("the same options gave different events")
	}
	// Write streams exactly what Generate returns.
	var events, late bytes.Buffer
	sum, err := demobank.Write(o, &events, &late, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(events.Bytes(), join(a.Events)) || !bytes.Equal(late.Bytes(), join(a.Late)) {
		t.Error("Write and Generate disagree")
	}
	sj, _ := json.Marshal(sum)
	aj, _ := json.Marshal(a.Summary)
	if !bytes.Equal(sj, aj) {
		t.Errorf("summaries differ:\n%s\n%s", sj, aj)
	}
	o.Seed = 43
	c, err := demobank.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(join(a.Events), join(c.Events)) {
		t.Error("another seed gave the same events")
	}
}

func TestOptionsAreChecked(t *testing.T) {
	ok := demobank.DefaultOptions()
	for _, tt := range []struct {
		change func(o *demobank.Options)
		want   string
	}{
		{func(o *demobank.Options) { o.Period = "2026" }, "period"},
		{func(o *demobank.Options) { o.Period = "2026-Q5" }, "period"},
		{func(o *demobank.Options) { o.Period = "Q3-2026" }, "period"},
		{func(o *demobank.Options) { o.Counterparties = demobank.MinCounterparties - 1 }, "counterparties"},
		{func(o *demobank.Options) { o.Loans = 10 }, "loans"},
		{func(o *demobank.Options) { o.Loans = -1 }, "loans"},
	} {
		o := ok
		tt.change(&o)
		_, err := demobank.Generate(o)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: got %v, want an error about %s", o, err, tt.want)
		}
	}
}

// Every event but the intended invalid ones passes the ingest service's checks;
// those are refused with a reason.
func TestEventsValidateAsTheIngestServiceChecksThem(t *testing.T) {
	reg, err := registry.New(schemas.FS, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range sizes[:4] {
		ds := generate(t, o)
		for i, line := range ds.Events {
			_, p, err := reg.Check(context.Background(), line)
			if err != nil {
				t.Fatal(err)
			}
			switch want := slices.Contains(ds.Invalid, i); {
			case want && p == nil:
				t.Errorf("%v: event %d is meant to be refused but is valid: %s", o, i, line)
			case want && p.Message == "":
				t.Errorf("%v: event %d refused without a reason", o, i)
			case !want && p != nil:
				t.Errorf("%v: event %d refused: %s: %s", o, i, p.Message, line)
			}
		}
		for _, line := range ds.Late {
			if _, p, err := reg.Check(context.Background(), line); err != nil || p != nil {
				t.Errorf("%v: late event refused: %v %v: %s", o, p, err, line)
			}
		}
		if len(ds.Invalid) < 5 || len(ds.Invalid) != ds.Summary.Invalid {
			t.Errorf("%v: %d invalid events, summary says %d", o, len(ds.Invalid), ds.Summary.Invalid)
		}
	}
}

// The large-exposure story holds by the independent calculator, before and
// after the late events.
func TestLargeExposureStory(t *testing.T) {
	for _, o := range sizes {
		t.Run(fmt.Sprint(o), func(t *testing.T) {
			ds := generate(t, o)
			s := ds.Summary
			events := accepted(ds)
			f, err := expect.Compute(events, o.Period, demobank.Location, "EUR")
			if err != nil {
				t.Fatal(err)
			}
			if !f.Tier1.Equal(dec(t, s.Tier1)) || !f.OwnFunds.Equal(dec(t, s.OwnFunds)) {
				t.Errorf("Tier 1 %s, own funds %s; summary %s, %s", f.Tier1, f.OwnFunds, s.Tier1, s.OwnFunds)
			}
			if ratio := f.Tier1.Div(f.TotalExposure).InexactFloat64(); ratio < 0.10 || ratio > 0.145 {
				t.Errorf("Tier 1 is %.3f of the total exposure %s", ratio, f.TotalExposure)
			}
			if !f.TotalExposure.Equal(dec(t, s.TotalExposure)) {
				t.Errorf("total exposure %s, summary %s", f.TotalExposure, s.TotalExposure)
			}
			if lcr := f.LCR.InexactFloat64(); lcr < 1.3 || lcr > 1.8 || !f.LCR.Equal(dec(t, s.LCR)) {
				t.Errorf("LCR %s (summary %s), want 1.3-1.8", f.LCR, s.LCR)
			}
			if !f.Threshold.Equal(dec(t, s.Threshold)) || !f.Limit.Equal(dec(t, s.Limit)) {
				t.Errorf("threshold %s, limit %s; summary %s, %s", f.Threshold, f.Limit, s.Threshold, s.Limit)
			}
			checkStory(t, f, s.Groups, s.TopGroup.GroupID)
			for _, g := range s.Groups {
				if !f.Groups[g.GroupID].Equal(dec(t, g.Exposure)) {
					t.Errorf("group %s: %s, summary %s", g.GroupID, f.Groups[g.GroupID], g.Exposure)
				}
				if got := strings.Join(f.GroupMembers[g.GroupID], ","); got != strings.Join(g.Members, ",") {
					t.Errorf("group %s has members %s, summary %v", g.GroupID, got, g.Members)
				}
			}

			// The top group's cell traces back to several events of several types,
			// among them a loan with an undrawn commitment and a security.
			byID := map[string]envelope{}
			for _, line := range events {
				e := parse(t, line)
				byID[e.ID] = e
			}
			types := map[string]int{}
			undrawn := false
			for _, id := range f.GroupEvents[s.TopGroup.GroupID] {
				e := byID[id]
				types[e.Type]++
				undrawn = undrawn || bytes.Contains(e.Data, []byte(`"undrawn_commitment"`))
			}
			if types["loan.balance"] < 2 || types["security.position"] < 1 || !undrawn {
				t.Errorf("top group's events: %v, undrawn commitment %v", types, undrawn)
			}
			if len(f.Rates) != 3 {
				t.Errorf("rates used: %v", f.Rates)
			}

			// After the late correction and the audit adjustment: the top group's
			// exposure is higher, Tier 1 lower, the story still holds.
			r, err := expect.Compute(append(events, ds.Late...), o.Period, demobank.Location, "EUR")
			if err != nil {
				t.Fatal(err)
			}
			if !r.Tier1.LessThan(f.Tier1) || !r.Tier1.Equal(dec(t, s.Restated.Tier1)) {
				t.Errorf("restated Tier 1 %s (summary %s), filed %s", r.Tier1, s.Restated.Tier1, f.Tier1)
			}
			top := s.TopGroup.GroupID
			if !r.Groups[top].GreaterThan(f.Groups[top].Mul(dec(t, "1.02"))) || !r.Groups[top].Equal(dec(t, s.Restated.TopGroupExposure)) {
				t.Errorf("restated top group %s (summary %s), filed %s", r.Groups[top], s.Restated.TopGroupExposure, f.Groups[top])
			}
			checkStory(t, r, s.Groups, top)
			lateLoan := parse(t, ds.Late[0])
			if lateLoan.Subject != s.LateLoan || !slices.Contains(f.GroupEvents[top], lateLoan.Supersedes) {
				t.Errorf("the late correction %s of %s does not supersede a snapshot of the top group", lateLoan.ID, lateLoan.Subject)
			}
			if want := ds.Summary.LateIDs; len(want) != len(ds.Late) || want[0] != lateLoan.ID {
				t.Errorf("late ids %v", want)
			}
		})
	}
}

// checkStory: one group above the limit, two or three between threshold and
// limit, every other group and client below the threshold.
func checkStory(t *testing.T, f expect.Figures, story []demobank.GroupStory, top string) {
	t.Helper()
	var ids []string
	for _, g := range story {
		ids = append(ids, g.GroupID)
	}
	var above, large []string
	for g, v := range f.Groups {
		switch {
		case v.GreaterThan(f.Limit):
			above = append(above, g)
		case v.GreaterThanOrEqual(f.Threshold):
			large = append(large, g)
		}
	}
	slices.Sort(large)
	mids := slices.Clone(ids[1:])
	slices.Sort(mids)
	if len(above) != 1 || above[0] != top || ids[0] != top {
		t.Errorf("groups above the limit %s: %v, want only %s", f.Limit, above, top)
	}
	if !slices.Equal(large, mids) || len(mids) < 2 || len(mids) > 3 {
		t.Errorf("groups between threshold %s and limit: %v, want 2 or 3: %v", f.Threshold, large, mids)
	}
	inStory := map[string]bool{}
	for _, g := range story {
		for _, m := range g.Members {
			inStory[m] = true
		}
	}
	for cp, v := range f.Counterparties {
		if !inStory[cp] && v.GreaterThanOrEqual(f.Threshold) {
			t.Errorf("counterparty %s outside the story is a large exposure: %s", cp, v)
		}
	}
}

func TestJournalsBalanceAndIdsAreUnique(t *testing.T) {
	for _, o := range sizes[:4] {
		ds := generate(t, o)
		all := append(accepted(ds), ds.Late...)
		seen := map[string]envelope{}
		superseded := map[string]bool{}
		corrections, voids := 0, 0
		for i, line := range ds.Events {
			if slices.Contains(ds.Invalid, i) {
				var e struct{ ID string }
				_ = json.Unmarshal(line, &e)
				if _, dup := seen[e.ID]; dup {
					t.Errorf("invalid event %d reuses the id %s", i, e.ID)
				}
			}
		}
		for _, line := range all {
			e := parse(t, line)
			if _, dup := seen[e.ID]; dup {
				t.Errorf("%v: id %s twice", o, e.ID)
			}
			if e.Supersedes != "" {
				target, ok := seen[e.Supersedes]
				switch {
				case !ok:
					t.Errorf("%s supersedes %s, which is not an earlier event", e.ID, e.Supersedes)
				case target.Subject != e.Subject:
					t.Errorf("%s (subject %s) supersedes %s of subject %s", e.ID, e.Subject, target.ID, target.Subject)
				case superseded[e.Supersedes]:
					t.Errorf("%s supersedes %s a second time", e.ID, e.Supersedes)
				}
				superseded[e.Supersedes] = true
				if e.Type == "void" {
					voids++
					if target.Type != "payment" {
						t.Errorf("void %s cancels a %s", e.ID, target.Type)
					}
				} else {
					corrections++
					if target.Type != e.Type {
						t.Errorf("%s (%s) corrects a %s", e.ID, e.Type, target.Type)
					}
				}
			}
			seen[e.ID] = e
		}
		if voids != 1 || voids != ds.Summary.Voids || corrections != ds.Summary.Corrections+1 || corrections < 5 {
			t.Errorf("%v: %d corrections (+1 late), %d voids; summary %d, %d", o, corrections, voids, ds.Summary.Corrections, ds.Summary.Voids)
		}

		// Journals: the live lines of each journal entry add up to zero.
		sums := map[string]decimal.Decimal{}
		for id, e := range seen {
			if e.Type != "gl.posting" || superseded[id] {
				continue
			}
			var d struct {
				PostingID string `json:"posting_id"`
				Amount    string `json:"amount"`
			}
			if err := json.Unmarshal(e.Data, &d); err != nil {
				t.Fatal(err)
			}
			je := d.PostingID[:strings.LastIndex(d.PostingID, "-")]
			sums[je] = sums[je].Add(dec(t, d.Amount))
		}
		if len(sums) < 10 {
			t.Errorf("%v: only %d journals", o, len(sums))
		}
		for je, s := range sums {
			if !s.IsZero() {
				t.Errorf("%v: journal %s does not balance: %s", o, je, s)
			}
		}
	}
}

// The awkward cases are in the file: snapshots out of order, events late, events
// at the period's edges in Berlin time.
func TestAwkwardCases(t *testing.T) {
	for _, o := range sizes[:4] {
		ds := generate(t, o)
		s := ds.Summary
		start, end := periodBounds(t, o.Period)
		newest := map[string]time.Time{}
		var latest time.Time
		outOfOrder, late, edge := 0, 0, 0
		for _, line := range accepted(ds) {
			e := parse(t, line)
			if e.Type == "loan.balance" && e.Supersedes == "" {
				if n, ok := newest[e.Subject]; ok && e.OccurredAt.Before(n) {
					outOfOrder++
				}
				if e.OccurredAt.After(newest[e.Subject]) {
					newest[e.Subject] = e.OccurredAt
				}
			}
			if (e.Type == "payment" || e.Type == "gl.posting") && !e.OccurredAt.Before(start) && e.OccurredAt.Before(end) &&
				!latest.Before(end) {
				late++ // sent after an event of the next period
			}
			for _, b := range []time.Time{start, end} {
				if d := e.OccurredAt.Sub(b); d > 0 && d < time.Hour && e.OccurredAt.UTC().Day() != e.OccurredAt.In(demobank.Location).Day() {
					edge++
				}
			}
			if e.OccurredAt.After(latest) {
				latest = e.OccurredAt
			}
		}
		if outOfOrder < 3 || outOfOrder != s.OutOfOrder {
			t.Errorf("%v: %d loan snapshots older than one sent before them, summary says %d", o, outOfOrder, s.OutOfOrder)
		}
		if late < 3 || late != s.Late {
			t.Errorf("%v: %d events of the period sent after the next period's, summary says %d", o, late, s.Late)
		}
		if edge < 4 || edge != s.Edge {
			t.Errorf("%v: %d events just after a period boundary, summary says %d", o, edge, s.Edge)
		}
		// Computed in UTC, the edge events land in the wrong period.
		berlin, err := expect.Compute(accepted(ds), o.Period, demobank.Location, "EUR")
		if err != nil {
			t.Fatal(err)
		}
		utc, err := expect.Compute(accepted(ds), o.Period, time.UTC, "EUR")
		if err != nil {
			t.Fatal(err)
		}
		if berlin.Tier1.Equal(utc.Tier1) || berlin.Payments["inbound"].Add(berlin.Payments["outbound"]).Equal(utc.Payments["inbound"].Add(utc.Payments["outbound"])) {
			t.Errorf("%v: Tier 1 and payments are the same in UTC", o)
		}
	}
}

func periodBounds(t *testing.T, p string) (time.Time, time.Time) {
	t.Helper()
	var start time.Time
	var months int
	var y, n int
	if _, err := fmt.Sscanf(p, "%d-Q%d", &y, &n); err == nil {
		start, months = time.Date(y, time.Month(3*n-2), 1, 0, 0, 0, 0, demobank.Location), 3
	} else if _, err := fmt.Sscanf(p, "%d-%d", &y, &n); err == nil {
		start, months = time.Date(y, time.Month(n), 1, 0, 0, 0, 0, demobank.Location), 1
	} else {
		t.Fatalf("period %s", p)
	}
	return start, start.AddDate(0, months, 0)
}

func TestIdentifiersHaveValidCheckDigits(t *testing.T) {
	ds := generate(t, demobank.DefaultOptions())
	leis, isins, ibans := 0, 0, 0
	for _, line := range accepted(ds) {
		e := parse(t, line)
		var d struct {
			LEI       string `json:"lei"`
			ISIN      string `json:"isin"`
			AccountID string `json:"account_id"`
			Name      string `json:"name"`
		}
		_ = json.Unmarshal(e.Data, &d)
		if d.LEI != "" {
			leis++
			if !mod97is1(d.LEI) {
				t.Errorf("LEI %s of %s has wrong check digits", d.LEI, d.Name)
			}
		}
		if d.ISIN != "" {
			isins++
			if !luhnISIN(d.ISIN) {
				t.Errorf("ISIN %s has a wrong check digit", d.ISIN)
			}
		}
		if e.Type == "deposit.balance" {
			ibans++
			if !mod97is1(d.AccountID[4:] + d.AccountID[:4]) {
				t.Errorf("IBAN %s has wrong check digits", d.AccountID)
			}
		}
	}
	if leis < 50 || isins < 10 || ibans < 100 {
		t.Errorf("%d LEIs, %d ISINs, %d IBANs", leis, isins, ibans)
	}
}

// mod97is1 is ISO 7064 MOD 97-10 (letters count as 10..35), written again here so
// the test does not trust the generator's.
func mod97is1(s string) bool {
	var digits strings.Builder
	for _, c := range s {
		if c >= 'A' && c <= 'Z' {
			fmt.Fprint(&digits, int(c-'A')+10)
		} else {
			digits.WriteRune(c)
		}
	}
	n, ok := new(decimal.Decimal), true
	*n, _ = decimal.NewFromString(digits.String())
	return ok && n.Mod(decimal.NewFromInt(97)).Equal(decimal.NewFromInt(1))
}

func luhnISIN(s string) bool {
	var digits strings.Builder
	for _, c := range s {
		if c >= 'A' && c <= 'Z' {
			fmt.Fprint(&digits, int(c-'A')+10)
		} else {
			digits.WriteRune(c)
		}
	}
	d := digits.String()
	sum := 0
	for i := range len(d) {
		v := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			if v *= 2; v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

func BenchmarkGenerateDefault(b *testing.B) {
	for b.Loop() {
		ds, err := demobank.Generate(demobank.DefaultOptions())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(ds.Events)), "events")
	}
}
