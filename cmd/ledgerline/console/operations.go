package console

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/services/ingest"
	ingeststore "github.com/ledgerline/ledgerline/services/ingest/store"
	"github.com/ledgerline/ledgerline/services/reports"
	"github.com/ledgerline/ledgerline/services/rules"
)

type operationsView struct {
	Metrics      metricsView
	Stream       *ingest.StreamState
	StreamErr    string
	Watermark    *rules.Progress
	WatermarkErr string
	Open         int // open quarantine entries on the first page
	OpenMore     bool
}

// operations shows how the platform is doing: the ingest rate and the rules
// lag from the metrics registry (/metrics), the stream, the rules watermark.
func (c *Console) operations(w http.ResponseWriter, r *http.Request, s session) error {
	v := operationsView{Metrics: c.metrics.view()}
	if c.cfg.Ingest != nil {
		if st, err := c.cfg.Ingest.State(r.Context()); err != nil {
			v.StreamErr = err.Error()
		} else {
			v.Stream = &st
		}
		es, next, err := c.cfg.Ingest.ListQuarantine(r.Context(), ingeststore.QuarantineFilter{Status: "open", Limit: listPerPage})
		if err != nil {
			return err
		}
		v.Open, v.OpenMore = len(es), next != 0
	}
	if wm, err := c.cfg.Rules.Watermark(r.Context()); err != nil {
		v.WatermarkErr = err.Error()
	} else {
		v.Watermark = &wm
	}
	c.render(w, r, &s, http.StatusOK, "operations", "Operations", v)
	return nil
}

type scheduleView struct {
	Upcoming []reports.Upcoming
	Pager    pager
}

func (c *Console) schedule(w http.ResponseWriter, r *http.Request, s session) error {
	offset, err := offsetParam(r)
	if err != nil {
		return err
	}
	u, err := c.cfg.Reports.Schedule(r.Context(), 3)
	if err != nil {
		return err
	}
	v := scheduleView{}
	v.Upcoming, v.Pager = pageOf(u, offset, listPerPage)
	c.render(w, r, &s, http.StatusOK, "schedule", "Schedule", v)
	return nil
}

type quarantineView struct {
	Status  string
	Code    string
	Entries []ingeststore.QuarantineEntry
	Next    int64
	Paged   bool
}

var quarantineStatuses = map[string]string{"open": "open", "resolved": "resolved", "discarded": "discarded", "all": ""}

func (c *Console) ingest() (Ingest, error) {
	if c.cfg.Ingest == nil {
		return nil, fmt.Errorf("the quarantine is not readable from this process (it runs no ingest code): %w", httpjson.ErrUnavailable)
	}
	return c.cfg.Ingest, nil
}

func (c *Console) quarantine(w http.ResponseWriter, r *http.Request, s session) error {
	ing, err := c.ingest()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	v := quarantineView{Status: q.Get("status"), Code: q.Get("code"), Paged: q.Get("cursor") != ""}
	if v.Status == "" {
		v.Status = "open"
	}
	status, ok := quarantineStatuses[v.Status]
	if !ok {
		return badRequest("status %q: want open, resolved, discarded or all", v.Status)
	}
	var before int64
	if cur := q.Get("cursor"); cur != "" {
		if before, err = strconv.ParseInt(cur, 10, 64); err != nil || before < 1 {
			return badRequest("cursor %q is not a page cursor", cur)
		}
	}
	if v.Entries, v.Next, err = ing.ListQuarantine(r.Context(), ingeststore.QuarantineFilter{Status: status, Code: v.Code, Before: before,
		Limit: listPerPage}); err != nil {
		return err
	}
	c.render(w, r, &s, http.StatusOK, "quarantine", "Quarantine", v)
	return nil
}

type quarantineEntryView struct {
	E           ingeststore.QuarantineEntry
	CanResubmit bool
	WhyNot      string
	Result      *ingest.Resubmission
	Corrected   string
}

func quarantineID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, badRequest("quarantine id %q is not a number", r.PathValue("id"))
	}
	return id, nil
}

func (c *Console) entryView(e ingeststore.QuarantineEntry, p auth.Principal) quarantineEntryView {
	v := quarantineEntryView{E: e}
	switch {
	case e.Status != "open":
		v.WhyNot = "This entry is " + e.Status + "."
	case !p.Has(auth.RoleOperator):
		v.WhyNot = "Re-submitting needs an operator key; yours has " + rolesText(p.Roles) + "."
	default:
		v.CanResubmit = true
	}
	return v
}

func (c *Console) quarantineEntry(w http.ResponseWriter, r *http.Request, s session) error {
	ing, err := c.ingest()
	if err != nil {
		return err
	}
	id, err := quarantineID(r)
	if err != nil {
		return err
	}
	e, err := ing.GetQuarantine(r.Context(), id)
	if err != nil {
		return err
	}
	c.render(w, r, &s, http.StatusOK, "quarantine_entry", fmt.Sprintf("Quarantine entry %d", id), c.entryView(e, s.principal))
	return nil
}

// resubmit sends a quarantined input again, corrected or as it was (operators
// only, as POST /v1/quarantine/{id}/resubmit), and shows the per-event answers.
func (c *Console) resubmit(w http.ResponseWriter, r *http.Request, s session) error {
	ing, err := c.ingest()
	if err != nil {
		return err
	}
	id, err := quarantineID(r)
	if err != nil {
		return err
	}
	corrected := strings.TrimSpace(r.PostForm.Get("corrected"))
	res, err := ing.Resubmit(r.Context(), id, s.principal.Actor(), []byte(corrected))
	if err != nil {
		return err
	}
	c.log.Info("console resubmit", "quarantine_id", id, "by", s.principal.Actor(), "status", res.Entry.Status)
	v := c.entryView(res.Entry, s.principal)
	v.Result, v.Corrected = &res, corrected
	c.render(w, r, &s, http.StatusOK, "quarantine_entry", fmt.Sprintf("Quarantine entry %d", id), v)
	return nil
}
