package rules

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/services/rules/period"
	"github.com/ledgerline/ledgerline/services/rules/ruleset"
	"github.com/ledgerline/ledgerline/services/rules/store"
)

// FiledFigure is Figure for a filed amount: with r.Filing and r.AsOfSeq set
// (the filing's watermark), a stock, flow or cumulative figure is summed from
// the lineage stored with that filing — the contributions it was built from —
// instead of from every contribution of the figure, so that tracing a cell
// of a filing over millions of contributions stays fast; derived figures
// recurse into their inputs the same way. Where that lineage is not stored
// (yet), the contributions are summed as Figure does, with the same result.
func (s *Service) FiledFigure(ctx context.Context, r FigureRequest) (Figure, error) {
	if r.Filing == "" || r.AsOfSeq == 0 {
		return s.Figure(ctx, r)
	}
	if r.Location == nil {
		r.Location = time.UTC
	}
	p, err := period.Parse(r.Period, r.Location)
	if err != nil {
		return Figure{}, fmt.Errorf("period: %w: %w", err, httpjson.ErrInvalid)
	}
	if _, _, err := s.resolveFresh(ctx, r.Name, p, r.Versions); err != nil {
		return Figure{}, err
	}
	return s.filedFigure(ctx, r, p, 0)
}

func (s *Service) filedFigure(ctx context.Context, r FigureRequest, p period.Period, depth int) (Figure, error) {
	if depth > 32 {
		return Figure{}, fmt.Errorf("figure %s: derived figures nest too deep", r.Name)
	}
	l, f, err := s.resolve(r.Name, p, r.Versions)
	if err != nil {
		return Figure{}, err
	}
	out := Figure{Name: f.Name, Ruleset: l.meta.Name, Version: l.meta.Version, Kind: string(f.Kind), Period: r.Period,
		AsOfSeq: r.AsOfSeq, Currency: r.Currency, Where: r.Where}
	if f.Kind == ruleset.KindDerived {
		val, err := f.ValueProg.Derived(func(name string, dims map[string]string) (decimal.Decimal, error) {
			in := r
			in.Name, in.Where = name, dims
			sub, err := s.filedFigure(ctx, in, p, depth+1)
			if err != nil {
				return decimal.Decimal{}, err
			}
			out.Inputs = append(out.Inputs, sub)
			if sub.Currency != "" && out.Currency != "" && sub.Currency != out.Currency {
				return decimal.Decimal{}, fmt.Errorf("its inputs are in %s and %s: ask for it in one reporting currency (currency=EUR): %w",
					out.Currency, sub.Currency, httpjson.ErrInvalid)
			}
			if out.Currency == "" {
				out.Currency = sub.Currency
			}
			return decimal.NewFromString(sub.Value)
		})
		if err != nil {
			if !errors.Is(err, httpjson.ErrUnavailable) && !errors.Is(err, httpjson.ErrInvalid) && !errors.Is(err, httpjson.ErrNotFound) {
				err = fmt.Errorf("%w: %w", err, httpjson.ErrInvalid)
			}
			return Figure{}, fmt.Errorf("figure %s: %w", f.Name, err)
		}
		out.Value = val.String()
		return out, nil
	}
	q := store.Query{Figure: f.Name, Ruleset: l.meta.Name, Version: l.meta.Version, Kind: string(f.Kind),
		Period: p.Text, Start: p.Start, End: p.End, AsOf: r.AsOfSeq, Where: r.Where}
	sums, stored, err := s.store.FiledSums(ctx, q, r.Filing)
	if err == nil && !stored {
		sums, err = s.store.Sums(ctx, q)
	}
	if err != nil {
		return Figure{}, err
	}
	target := r.Currency
	if target == "" {
		var currencies []string
		for _, sm := range sums {
			if sm.Currency != "" {
				currencies = append(currencies, sm.Currency)
			}
		}
		sort.Strings(currencies)
		switch len(currencies) {
		case 0:
		case 1:
			target = currencies[0]
		default:
			return Figure{}, fmt.Errorf("figure %s has amounts in %s: ask for it in one reporting currency (currency=EUR): %w",
				f.Name, strings.Join(currencies, ", "), httpjson.ErrInvalid)
		}
	}
	out.Currency = target
	total := decimal.Zero
	for _, sm := range sums {
		out.Contributions += sm.Count
		if sm.Currency == "" || sm.Currency == target {
			total = total.Add(sm.Value)
			continue
		}
		rate, err := s.store.FXRate(ctx, sm.Currency, target, p.End, r.AsOfSeq)
		if err != nil {
			return Figure{}, fmt.Errorf("figure %s: %w", f.Name, err)
		}
		total = total.Add(rate.Convert(sm.Value))
		out.Conversions = append(out.Conversions, Conversion{From: rate.From, To: rate.To, Rate: rate.Rate.String(),
			Inverse: rate.Inverse, EventID: rate.EventID, Seq: rate.Seq})
	}
	out.Value = total.String()
	return out, nil
}
