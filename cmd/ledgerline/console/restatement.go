package console

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/ledgerline/ledgerline/services/reports"
)

type differenceView struct {
	D           reports.Difference
	ChangedOnly bool
	Prev, Next  int // offsets of the neighbour pages (-1: none)
	From, To    int // the rows shown (1..)
	CanReplay   bool
}

// difference is the side-by-side comparison of an amended filing with the
// original it amends.
func (c *Console) difference(w http.ResponseWriter, r *http.Request, s session) error {
	q := r.URL.Query()
	changedOnly := q.Get("all") == ""
	offset := 0
	if o := q.Get("offset"); o != "" {
		var err error
		if offset, err = strconv.Atoi(o); err != nil || offset < 0 {
			return badRequest("offset %q must be a number", o)
		}
	}
	d, err := c.cfg.Reports.Difference(r.Context(), r.PathValue("id"), changedOnly, offset, diffRowsPerPage)
	if err != nil {
		return err
	}
	v := differenceView{D: d, ChangedOnly: changedOnly, Prev: -1, Next: -1, From: d.Offset + 1, To: d.Offset + len(d.Rows)}
	if d.Offset > 0 {
		v.Prev = max(d.Offset-diffRowsPerPage, 0)
	}
	if d.Offset+len(d.Rows) < d.Total {
		v.Next = d.Offset + len(d.Rows)
	}
	c.render(w, r, &s, http.StatusOK, "difference", "Restatement "+d.Amended, v)
	return nil
}

type replayView struct {
	R reports.Replay
}

// replay re-derives a filing at its stored watermark and compares every file
// (it stores nothing, so auditors may run it, as with the API).
func (c *Console) replay(w http.ResponseWriter, r *http.Request, s session) error {
	out, err := c.cfg.Reports.Replay(r.Context(), r.PathValue("id"))
	if errors.Is(err, reports.ErrRulesBehind) {
		c.renderError(w, r, &s, http.StatusGatewayTimeout, "The rules are behind", err.Error())
		return nil
	}
	if err != nil {
		return err
	}
	c.log.Info("console replay", "filing_id", out.Filing, "matches", out.Matches, "by", s.principal.Actor())
	c.render(w, r, &s, http.StatusOK, "replay", "Replay of "+out.Filing, replayView{R: out})
	return nil
}

// restate makes the amended filing at today's watermark and shows its
// difference (operators only, as POST /v1/filings/{id}/restatements).
func (c *Console) restate(w http.ResponseWriter, r *http.Request, s session) error {
	out, err := c.cfg.Reports.Restate(r.Context(), r.PathValue("id"), s.principal)
	if errors.Is(err, reports.ErrRulesBehind) {
		c.renderError(w, r, &s, http.StatusGatewayTimeout, "The rules are behind", err.Error())
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/filings/"+pathEscape(out.Amended.ID)+"/difference", http.StatusSeeOther)
	return nil
}
