package rules

import (
	"context"
	"fmt"
	"time"

	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/services/rules/period"
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
	return s.figure(ctx, r, p, 0, func(ctx context.Context, q store.Query) ([]store.Sum, error) {
		sums, stored, err := s.store.FiledSums(ctx, q, r.Filing)
		if err == nil && !stored {
			return s.store.Sums(ctx, q)
		}
		return sums, err
	})
}
