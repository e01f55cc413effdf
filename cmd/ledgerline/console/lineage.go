package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/ledgerline/ledgerline/services/reports"
)

// rowParam reads ?row= (a table row, 1..; absent for a cell).
func rowParam(r *http.Request) (int, error) {
	s := r.URL.Query().Get("row")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, badRequest("row %q must be a table row number (1, 2, ...)", s)
	}
	return n, nil
}

// definition is a figure's definition as onboarded, its CEL expressions by field.
type definition struct {
	Description string
	Fields      []defField
}

type defField struct{ Name, Source string }

// figureView is a figure of a cell's lineage, with its inputs (derived).
type figureView struct {
	reports.FigureNode
	Def    definition
	Inputs []figureView
	// Query is the filter of the figure's contributions page (inputs only).
	Query string
}

func viewFigure(n reports.FigureNode) figureView {
	v := figureView{FigureNode: n, Query: whereQuery(n.Where)}
	if len(n.Definition) > 0 {
		var def map[string]any
		if json.Unmarshal(n.Definition, &def) == nil {
			if d, ok := def["description"].(string); ok {
				v.Def.Description = d
			}
			keys := make([]string, 0, len(def))
			for k := range def {
				keys = append(keys, k)
			}
			order := map[string]int{"kind": 0, "when": 1, "dimensions": 2, "value": 3, "currency": 4}
			sort.Slice(keys, func(i, j int) bool {
				oi, iok := order[keys[i]]
				oj, jok := order[keys[j]]
				switch {
				case iok && jok:
					return oi < oj
				case iok != jok:
					return iok
				}
				return keys[i] < keys[j]
			})
			for _, k := range keys {
				if k == "name" || k == "description" {
					continue
				}
				src := ""
				switch x := def[k].(type) {
				case string:
					src = strings.TrimSpace(x)
				case map[string]any:
					names := make([]string, 0, len(x))
					for name := range x {
						names = append(names, name)
					}
					sort.Strings(names)
					var b strings.Builder
					for _, name := range names {
						fmt.Fprintf(&b, "%s: %s\n", name, strings.TrimSpace(fmt.Sprint(x[name])))
					}
					src = strings.TrimSpace(b.String())
				default:
					raw, _ := json.Marshal(x)
					src = string(raw)
				}
				v.Def.Fields = append(v.Def.Fields, defField{Name: k, Source: src})
			}
		}
	}
	for _, in := range n.Inputs {
		v.Inputs = append(v.Inputs, viewFigure(in))
	}
	return v
}

type cellView struct {
	C      reports.CellLineage
	Figure figureView
	Filter string
}

func (c *Console) cell(w http.ResponseWriter, r *http.Request, s session) error {
	row, err := rowParam(r)
	if err != nil {
		return err
	}
	cl, err := c.cfg.Reports.FiledCell(r.Context(), r.PathValue("id"), r.PathValue("code"), row)
	if err != nil {
		return err
	}
	v := cellView{C: cl, Figure: viewFigure(cl.Figure), Filter: dimsText(cl.Filter)}
	title := "Cell " + cl.Code
	if row > 0 {
		title += " row " + strconv.Itoa(row)
	}
	c.render(w, r, &s, http.StatusOK, "cell", title, v)
	return nil
}

type contributionsView struct {
	Filing  string
	Code    string // "" for a figure's contributions
	Row     int
	Figure  string
	Where   string
	Query   string // the page's own query, without the cursor
	Page    reports.ContributionPage
	Cursor  string
	Ordinal int // the number of the first contribution of the page (1..)
}

// pageNumber reads ?n= (the ordinal of a page's first row, carried in the
// cursor links so a page can say "contributions 26 to 50").
func pageNumber(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

func (c *Console) cellContributions(w http.ResponseWriter, r *http.Request, s session) error {
	row, err := rowParam(r)
	if err != nil {
		return err
	}
	id, code := r.PathValue("id"), r.PathValue("code")
	cursor := r.URL.Query().Get("cursor")
	p, err := c.cfg.Reports.CellContributions(r.Context(), id, code, row, cursor, contributionsPerPage)
	if err != nil {
		return err
	}
	q := ""
	if row > 0 {
		q = "row=" + strconv.Itoa(row)
	}
	v := contributionsView{Filing: id, Code: code, Row: row, Figure: p.Figure, Page: p, Cursor: cursor, Query: q, Ordinal: pageNumber(r)}
	c.render(w, r, &s, http.StatusOK, "contributions", "Contributions of "+code, v)
	return nil
}

func (c *Console) figureContributions(w http.ResponseWriter, r *http.Request, s session) error {
	id, figure := r.PathValue("id"), r.PathValue("figure")
	where := map[string]string{}
	for k, vs := range r.URL.Query() {
		if dim, ok := strings.CutPrefix(k, "d."); ok && len(vs) > 0 {
			where[dim] = vs[0]
		}
	}
	cursor := r.URL.Query().Get("cursor")
	p, err := c.cfg.Reports.FigureContributions(r.Context(), id, figure, where, cursor, contributionsPerPage)
	if err != nil {
		return err
	}
	v := contributionsView{Filing: id, Figure: figure, Where: dimsText(where), Page: p, Cursor: cursor, Query: whereQuery(where), Ordinal: pageNumber(r)}
	c.render(w, r, &s, http.StatusOK, "contributions", "Contributions of "+figure, v)
	return nil
}

type eventView struct {
	ID          string
	Seq         uint64
	RecordedAt  any
	SentBy      string
	Subject     string
	Superseded  string
	Envelope    json.RawMessage
	Impact      reports.Impact
	Cells       []reports.ImpactedCell
	WouldChange []reports.ImpactedCell
	MoreCells   int
	MoreWould   int
	NoEnvelope  bool
}

// event shows one event: its envelope as stored, and its impact (the
// figures it contributed to, the filed amounts it is behind, and those a
// restatement would change).
func (c *Console) event(w http.ResponseWriter, r *http.Request, s session) error {
	id := r.PathValue("id")
	v := eventView{ID: id}
	if c.cfg.Ingest != nil {
		ev, err := c.cfg.Ingest.Event(r.Context(), id)
		if err != nil {
			return err
		}
		v.Seq, v.RecordedAt, v.SentBy, v.Subject, v.Superseded, v.Envelope = ev.Seq, ev.RecordedAt, ev.SentBy, ev.Subject, ev.SupersededBy, ev.Event
	} else {
		v.NoEnvelope = true
	}
	im, err := c.cfg.Reports.EventImpact(r.Context(), id)
	if err != nil {
		return err
	}
	if v.Seq == 0 {
		v.Seq = im.Seq
	}
	v.Impact = im
	v.Cells, v.MoreCells = firstN(im.Cells, listPerPage)
	v.WouldChange, v.MoreWould = firstN(im.WouldChange, listPerPage)
	if len(v.Impact.Contributions) > listPerPage {
		v.Impact.Contributions = v.Impact.Contributions[:listPerPage]
	}
	c.render(w, r, &s, http.StatusOK, "event", "Event "+id, v)
	return nil
}

// firstN is the first n of xs and how many more there are.
func firstN[T any](xs []T, n int) ([]T, int) {
	if len(xs) <= n {
		return xs, 0
	}
	return xs[:n], len(xs) - n
}
