package console

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/services/reports"
	reportsstore "github.com/ledgerline/ledgerline/services/reports/store"
	rulesstore "github.com/ledgerline/ledgerline/services/rules/store"
)

// offsetParam reads ?offset= for lists paged by position.
func offsetParam(r *http.Request) (int, error) {
	s := r.URL.Query().Get("offset")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, badRequest("offset %q must be a number", s)
	}
	return n, nil
}

// pager is the position of a page in a list paged by offset.
type pager struct {
	Offset, Total, From, To int
	Prev, Next              int // -1: none
}

func pageOf[T any](xs []T, offset, n int) ([]T, pager) {
	offset = min(offset, len(xs))
	end := min(offset+n, len(xs))
	p := pager{Offset: offset, Total: len(xs), From: offset + 1, To: end, Prev: -1, Next: -1}
	if offset > 0 {
		p.Prev = max(offset-n, 0)
	}
	if end < len(xs) {
		p.Next = end
	}
	return xs[offset:end], p
}

type templatesView struct {
	Versions []reportsstore.Template
	Pager    pager
}

func (c *Console) templates(w http.ResponseWriter, r *http.Request, s session) error {
	offset, err := offsetParam(r)
	if err != nil {
		return err
	}
	ts, err := c.cfg.Reports.Templates(r.Context())
	if err != nil {
		return err
	}
	// Newest first within a template: what needs approval is on top.
	sort.SliceStable(ts, func(i, j int) bool {
		if ts[i].ID != ts[j].ID {
			return ts[i].ID < ts[j].ID
		}
		return ts[i].Version > ts[j].Version
	})
	v := templatesView{}
	v.Versions, v.Pager = pageOf(ts, offset, listPerPage)
	c.render(w, r, &s, http.StatusOK, "templates", "Templates", v)
	return nil
}

// templateCheckView is a template version's page.
type templateCheckView struct {
	Check  reports.TemplateCheck
	Source string
}

type templateVersionView struct {
	templateCheckView
	T          reportsstore.Template
	CanApprove bool
	// WhyNot says why the approve button is disabled ("" when it is not).
	WhyNot   string
	Approved bool // just approved
}

func versionParam(r *http.Request) (int, error) {
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || v < 1 {
		return 0, badRequest("version %q must be a positive number", r.PathValue("version"))
	}
	return v, nil
}

func (c *Console) templateVersion(w http.ResponseWriter, r *http.Request, s session) error {
	version, err := versionParam(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	t, err := c.cfg.Reports.Template(r.Context(), id, version)
	if err != nil {
		return err
	}
	key := id + "/" + strconv.Itoa(version)
	check, ok := c.cache.checks.get(key)
	if !ok {
		tc, err := c.cfg.Reports.CheckTemplate(r.Context(), id, version)
		if err != nil {
			return err
		}
		check = templateCheckView{Check: tc, Source: t.Source}
		c.cache.checks.put(key, check)
	}
	v := templateVersionView{templateCheckView: check, T: t, Approved: r.URL.Query().Get("approved") != ""}
	v.CanApprove, v.WhyNot = approvable(t, s.principal)
	c.render(w, r, &s, http.StatusOK, "template", fmt.Sprintf("Template %s v%d", id, version), v)
	return nil
}

// approvable says whether p may approve t, and why not. The server refuses
// the same cases (the reports service's maker-checker rule, the route's role).
func approvable(t reportsstore.Template, p auth.Principal) (bool, string) {
	switch {
	case t.Status != "validated":
		return false, fmt.Sprintf("This version is %s already (approved by %s).", t.Status, t.ApprovedBy)
	case !p.Has(auth.RoleCompliance):
		return false, "Approving needs a compliance key; yours has " + rolesText(p.Roles) + "."
	case t.MadeByKey == p.KeyID:
		return false, "You onboarded this version (" + t.MadeBy + "): a second compliance officer must approve it (maker-checker)."
	}
	return true, ""
}

func (c *Console) approve(w http.ResponseWriter, r *http.Request, s session) error {
	version, err := versionParam(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	t, err := c.cfg.Reports.Approve(r.Context(), id, version, s.principal)
	if err != nil {
		c.log.Info("console approval refused", "template", id, "version", version, "by", s.principal.Actor(), "err", err)
		return err
	}
	c.cache.checks.del(id + "/" + strconv.Itoa(version)) // its status changed
	c.log.Info("console approval", "template", t.ID, "version", t.Version, "by", s.principal.Actor())
	http.Redirect(w, r, fmt.Sprintf("/templates/%s/versions/%d?approved=1", pathEscape(t.ID), t.Version), http.StatusSeeOther)
	return nil
}

type rulesetsView struct {
	Versions []rulesstore.Version
	Pager    pager
}

func (c *Console) rulesets(w http.ResponseWriter, r *http.Request, s session) error {
	offset, err := offsetParam(r)
	if err != nil {
		return err
	}
	vs, err := c.cfg.Rules.Versions(r.Context())
	if err != nil {
		return err
	}
	sort.SliceStable(vs, func(i, j int) bool {
		if vs[i].Name != vs[j].Name {
			return vs[i].Name < vs[j].Name
		}
		return vs[i].Version > vs[j].Version
	})
	v := rulesetsView{}
	v.Versions, v.Pager = pageOf(vs, offset, listPerPage)
	c.render(w, r, &s, http.StatusOK, "rulesets", "Rule sets", v)
	return nil
}

type rulesetView struct {
	V       rulesstore.Version
	Figures []figureView
}

func (c *Console) rulesetVersion(w http.ResponseWriter, r *http.Request, s session) error {
	version, err := versionParam(r)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	vs, err := c.cfg.Rules.Versions(r.Context())
	if err != nil {
		return err
	}
	for _, v := range vs {
		if v.Name != name || v.Version != version {
			continue
		}
		out := rulesetView{V: v}
		for _, f := range v.Figures {
			out.Figures = append(out.Figures, viewFigure(reports.FigureNode{Name: f.Name, Kind: f.Kind, Ruleset: v.Name,
				Version: v.Version, Definition: f.Definition}))
		}
		c.render(w, r, &s, http.StatusOK, "ruleset", fmt.Sprintf("Rule set %s v%d", name, version), out)
		return nil
	}
	return fmt.Errorf("rule set %s v%d: %w", name, version, httpjson.ErrNotFound)
}
