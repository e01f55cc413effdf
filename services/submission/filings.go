package submission

import (
	"context"

	"github.com/ledgerline/ledgerline/services/submission/store"
)

// ForFilings returns the submissions of the given filings, by filing id,
// without their attempts (Get has those): the status and receipt of a page of
// filings in one query.
func (s *Service) ForFilings(ctx context.Context, filingIDs []string) (map[string]store.Submission, error) {
	return s.store.ForFilings(ctx, filingIDs)
}
