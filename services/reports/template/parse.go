package template

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // a template's timezone must not depend on the host's zone database
	"unicode/utf8"

	"github.com/ledgerline/ledgerline/services/reports/schedule"
	"github.com/ledgerline/ledgerline/services/rules/celenv"
	"github.com/xuri/excelize/v2"
	"go.yaml.in/yaml/v3"
)

var (
	idPattern           = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	codePattern         = regexp.MustCompile(`^[a-z0-9_]+$`)
	figurePattern       = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	currencyPattern     = regexp.MustCompile(`^[A-Z]{3}$`)
	validationIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

const (
	// maxNameLength bounds ids, codes and names, as the rule sets do.
	maxNameLength = 128
	// maxSheetName is Excel's limit on a worksheet name.
	maxSheetName = 31
	// kindDerived is the kind of a figure computed from other figures: it has
	// no dimensions.
	kindDerived = "derived"
)

// The YAML as written. Optional scalars whose absence matters are pointers;
// KnownFields decoding refuses keys that are not here.
type (
	rawTemplate struct {
		ID                string          `yaml:"id"`
		Name              string          `yaml:"name"`
		Description       string          `yaml:"description"`
		Regulator         string          `yaml:"regulator"`
		Frequency         string          `yaml:"frequency"`
		Schedule          string          `yaml:"schedule"`
		Timezone          string          `yaml:"timezone"`
		ReportingCurrency string          `yaml:"reporting_currency"`
		Decimals          *int            `yaml:"decimals"`
		NumberFormat      *string         `yaml:"number_format"`
		Layout            string          `yaml:"layout"`
		SignOff           string          `yaml:"sign_off"`
		Sheets            []rawSheet      `yaml:"sheets"`
		Validations       []rawValidation `yaml:"validations"`
		Outputs           []string        `yaml:"outputs"`
		Submission        *rawSubmission  `yaml:"submission"`
	}
	rawSheet struct {
		Name   string     `yaml:"name"`
		Cells  []rawCell  `yaml:"cells"`
		Tables []rawTable `yaml:"tables"`
	}
	rawCell struct {
		Code   string            `yaml:"code"`
		At     string            `yaml:"at"`
		Label  string            `yaml:"label"`
		Figure string            `yaml:"figure"`
		Where  map[string]string `yaml:"where"`
	}
	rawTable struct {
		Code    string   `yaml:"code"`
		At      string   `yaml:"at"`
		Label   string   `yaml:"label"`
		Figure  string   `yaml:"figure"`
		GroupBy []string `yaml:"group_by"`
		Having  string   `yaml:"having"`
		OrderBy string   `yaml:"order_by"`
		Limit   *int     `yaml:"limit"`
	}
	rawValidation struct {
		ID       string `yaml:"id"`
		Expr     string `yaml:"expr"`
		Severity string `yaml:"severity"`
		Message  string `yaml:"message"`
	}
	rawSubmission struct {
		Channel string `yaml:"channel"`
		Auto    bool   `yaml:"auto"`
	}
)

// reportEnv is built once: building a CEL environment takes milliseconds.
var reportEnv = sync.OnceValues(func() (*celenv.ReportEnv, error) { return celenv.NewReportEnv() })

// Parse parses and checks a template. cat supplies the figures of the rules
// service; with cat nil the figures are not checked (only the form of their
// names). On any problem it returns nil and an *Invalid holding every problem
// found.
func Parse(src []byte, cat Catalog) (*Template, error) {
	env, err := reportEnv()
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	p := &parser{cat: cat, env: env}
	raw := p.decode(src)
	var t *Template
	if raw != nil {
		t = p.check(raw)
	}
	if len(p.problems) > 0 {
		sort.SliceStable(p.problems, func(i, j int) bool {
			a, b := p.problems[i], p.problems[j]
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Column < b.Column
		})
		return nil, &Invalid{Problems: slices.Compact(p.problems)}
	}
	t.Source = bytes.Clone(src)
	return t, nil
}

type parser struct {
	cat      Catalog
	env      *celenv.ReportEnv
	idx      *nodeIndex
	bad      []string // paths whose values could not be decoded
	problems []Problem
}

// add records a problem with the position of field (or of its closest
// ancestor in the YAML, for a field that is missing), unless the field could
// not be decoded, which is already reported.
func (p *parser) add(cell, field, format string, args ...any) {
	if p.suppressed(field) {
		return
	}
	p.addAlways(cell, field, fmt.Sprintf(format, args...))
}

func (p *parser) addAlways(cell, field, msg string) {
	pr := Problem{Cell: cell, Field: field, Message: msg}
	if p.idx != nil {
		if n := p.idx.near(field); n != nil {
			pr.Line, pr.Column = n.Line, n.Column
		}
	}
	p.problems = append(p.problems, pr)
}

func (p *parser) suppressed(field string) bool {
	for _, b := range p.bad {
		if b == "" || field == b || strings.HasPrefix(field, b+".") || strings.HasPrefix(field, b+"[") {
			return true
		}
	}
	return false
}

var yamlLine = regexp.MustCompile(`^line (\d+): `)

// decode reads the YAML into a rawTemplate, reporting syntax errors, unknown
// keys and values of the wrong type. It returns nil when there is nothing to
// check.
func (p *parser) decode(src []byte) *rawTemplate {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.addAlways("", "", "the template is empty")
			return nil
		}
		pr := Problem{Message: strings.TrimPrefix(err.Error(), "yaml: ")}
		if m := yamlLine.FindStringSubmatch(pr.Message); m != nil {
			pr.Line, _ = strconv.Atoi(m[1])
			pr.Column = 1
			pr.Message = pr.Message[len(m[0]):]
		}
		if strings.Contains(pr.Message, "mapping values are not allowed") {
			// The usual cause: an expression holding ": " (a map literal).
			pr.Message += `; an expression containing ": " must be quoted or written as a block (having: |)`
		}
		p.problems = append(p.problems, pr)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		pr := Problem{Message: "a template is one YAML document; found more after the first"}
		if err == nil {
			pr.Line, pr.Column = extra.Line, extra.Column
		}
		p.problems = append(p.problems, pr)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		p.problems = append(p.problems, Problem{Line: root.Line, Column: root.Column,
			Message: "a template is a mapping of fields: " + strings.Join(yamlKeys[typeName(rawTemplate{})], ", ")})
		return nil
	}
	p.idx = indexNodes(root)

	raw := &rawTemplate{}
	kd := yaml.NewDecoder(bytes.NewReader(src))
	kd.KnownFields(true)
	err := kd.Decode(raw)
	var te *yaml.TypeError
	switch {
	case errors.As(err, &te):
		for _, msg := range te.Errors {
			p.typeError(msg)
		}
	case err != nil:
		p.addAlways("", "", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil
	}
	return raw
}

// check validates the decoded template and builds the Template.
func (p *parser) check(raw *rawTemplate) *Template {
	t := &Template{
		ID: raw.ID, Name: raw.Name, Description: raw.Description, Regulator: raw.Regulator,
		Frequency: raw.Frequency, Schedule: raw.Schedule, Timezone: raw.Timezone,
		ReportingCurrency: raw.ReportingCurrency, Layout: raw.Layout,
	}
	switch {
	case raw.ID == "":
		p.add("", "id", "required, e.g. id: corep-own-funds")
	case len(raw.ID) > maxNameLength:
		p.add("", "id", "longer than %d characters", maxNameLength)
	case !idPattern.MatchString(raw.ID):
		p.add("", "id", `%q is not a valid template id: use lower-case letters, digits and "-", starting with a letter or digit`, raw.ID)
	}
	if strings.TrimSpace(raw.Name) == "" {
		p.add("", "name", "required: the template's display name")
	}
	if strings.TrimSpace(raw.Regulator) == "" {
		p.add("", "regulator", "required: the regulator the filings go to, e.g. regulator: demo-nca")
	}
	switch raw.Frequency {
	case schedule.Monthly, schedule.Quarterly, schedule.Annual:
	case "":
		p.add("", "frequency", "required: monthly, quarterly or annual")
	default:
		p.add("", "frequency", "%q is not a frequency: want monthly, quarterly or annual", raw.Frequency)
	}
	if raw.Schedule == "" {
		p.add("", "schedule", `required: when the template runs, five cron fields in its timezone, e.g. schedule: "0 6 10 1,4,7,10 *"`)
	} else if err := schedule.Validate(raw.Schedule); err != nil {
		p.add("", "schedule", "%v", err)
	}
	t.Location = p.timezone(raw.Timezone)
	switch {
	case raw.ReportingCurrency == "":
		p.add("", "reporting_currency", "required: the ISO 4217 code amounts are reported in, e.g. reporting_currency: EUR")
	case !currencyPattern.MatchString(raw.ReportingCurrency):
		p.add("", "reporting_currency", "%q is not a currency code: want three upper-case letters, e.g. EUR", raw.ReportingCurrency)
	}
	t.Decimals = DefaultDecimals
	if raw.Decimals != nil {
		t.Decimals = *raw.Decimals
		if t.Decimals < 0 || t.Decimals > MaxDecimals {
			p.add("", "decimals", "%d is out of range: want 0 to %d", t.Decimals, MaxDecimals)
		}
	}
	switch {
	case raw.NumberFormat == nil:
		t.NumberFormat = numberFormat(t.Decimals)
	case strings.TrimSpace(*raw.NumberFormat) == "":
		p.add("", "number_format", `must not be empty: leave it out for the default, e.g. "#,##0.00" for 2 decimals`)
	default:
		t.NumberFormat = *raw.NumberFormat
	}
	switch raw.SignOff {
	case "":
		t.SignOff = SignOffNone
	case SignOffRequired, SignOffNone:
		t.SignOff = raw.SignOff
	default:
		p.add("", "sign_off", "%q: want required or none", raw.SignOff)
	}
	t.Outputs = p.outputs(raw.Outputs)
	if raw.Layout != "" {
		switch {
		case strings.ContainsAny(raw.Layout, `/\`) || strings.HasPrefix(raw.Layout, ".") || strings.TrimSpace(raw.Layout) != raw.Layout:
			p.add("", "layout", "%q: want the file name of a workbook next to template.yaml, e.g. layout.xlsx", raw.Layout)
		case strings.ToLower(path.Ext(raw.Layout)) != ".xlsx":
			p.add("", "layout", "%q: the layout is an Excel workbook (.xlsx)", raw.Layout)
		case !slices.Contains(t.Outputs, OutputXLSX):
			p.add("", "layout", "the layout fills the xlsx output, which outputs does not list")
		}
	}
	if s := raw.Submission; s != nil {
		switch {
		case s.Channel == "":
			p.add("", "submission.channel", "required: the channel filings are submitted through, e.g. channel: regulator-sim")
		case !idPattern.MatchString(s.Channel):
			p.add("", "submission.channel", `%q is not a channel name: use lower-case letters, digits and "-"`, s.Channel)
		}
		t.Submission = &Submission{Channel: s.Channel, Auto: s.Auto}
	}

	codes := p.sheets(t, raw.Sheets)
	p.validations(t, raw.Validations, codes)
	t.figures = figuresOf(t)
	return t
}

func numberFormat(decimals int) string {
	if decimals <= 0 {
		return "#,##0"
	}
	return "#,##0." + strings.Repeat("0", decimals)
}

func (p *parser) timezone(tz string) *time.Location {
	switch tz {
	case "":
		p.add("", "timezone", "required: the IANA time zone of the schedule and the periods, e.g. timezone: Europe/Berlin")
		return nil
	case "Local":
		p.add("", "timezone", `"Local" depends on the host: name the zone, e.g. Europe/Berlin`)
		return nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		p.add("", "timezone", "unknown time zone %q: want an IANA name such as Europe/Berlin or UTC", tz)
		return nil
	}
	return loc
}

func (p *parser) outputs(outs []string) []string {
	if outs == nil {
		return slices.Clone(DefaultOutputs)
	}
	if len(outs) == 0 {
		p.add("", "outputs", "at least one of xlsx, csv, json; leave it out for all three")
	}
	seen := map[string]bool{}
	for i, o := range outs {
		field := fmt.Sprintf("outputs[%d]", i)
		switch {
		case !slices.Contains(DefaultOutputs, o):
			p.add("", field, "%q is not an output: want xlsx, csv or json", o)
		case seen[o]:
			p.add("", field, "%s is listed twice", o)
		}
		seen[o] = true
	}
	return slices.Clone(outs)
}

// codeUse is where a cell or table code is defined.
type codeUse struct {
	table bool
	field string
}

// area is the rectangle of a sheet a cell or a table writes: columns c0..c1,
// rows r0..r1 (r1 is excelize.TotalRows for a table without a limit).
type area struct {
	code, field, at string
	table           bool
	c0, c1, r0, r1  int
}

func (a area) overlaps(b area) bool {
	return a.c0 <= b.c1 && b.c0 <= a.c1 && a.r0 <= b.r1 && b.r0 <= a.r1
}

func (a area) String() string {
	if !a.table {
		return a.at
	}
	end, _ := excelize.ColumnNumberToName(a.c1)
	if a.r1 >= excelize.TotalRows {
		return a.at + ":" + end + "…"
	}
	return fmt.Sprintf("%s:%s%d", a.at, end, a.r1)
}

// sheets checks the sheets, their cells and tables, and returns the codes
// defined.
func (p *parser) sheets(t *Template, raw []rawSheet) map[string]codeUse {
	codes := map[string]codeUse{}
	if len(raw) == 0 {
		p.add("", "sheets", "at least one sheet is required")
		return codes
	}
	names := map[string]string{} // folded name → field
	for i, rs := range raw {
		sp := fmt.Sprintf("sheets[%d]", i)
		p.sheetName(sp+".name", rs.Name, names)
		if len(rs.Cells) == 0 && len(rs.Tables) == 0 {
			p.add("", sp, "a sheet needs at least one cell or table")
		}
		sheet := Sheet{Name: rs.Name}
		var areas []area
		for j, rc := range rs.Cells {
			cp := fmt.Sprintf("%s.cells[%d]", sp, j)
			c, a, ok := p.cell(cp, rc, codes)
			sheet.Cells = append(sheet.Cells, c)
			if ok {
				areas = append(areas, a)
			}
		}
		for j, rt := range rs.Tables {
			tp := fmt.Sprintf("%s.tables[%d]", sp, j)
			tb, a, ok := p.table(tp, rt, codes)
			sheet.Tables = append(sheet.Tables, tb)
			if ok {
				areas = append(areas, a)
			}
		}
		p.overlaps(areas)
		t.Sheets = append(t.Sheets, sheet)
	}
	return codes
}

func (p *parser) sheetName(field, name string, names map[string]string) {
	switch {
	case strings.TrimSpace(name) == "":
		p.add("", field, `required: the worksheet's name, e.g. name: "C 01.00"`)
		return
	case utf8.RuneCountInString(name) > maxSheetName:
		p.add("", field, "%q is longer than %d characters, Excel's limit for a sheet name", name, maxSheetName)
	case strings.ContainsAny(name, `[]:*?/\`):
		p.add("", field, `%q: a sheet name cannot contain any of [ ] : * ? / \`, name)
	case strings.HasPrefix(name, "'") || strings.HasSuffix(name, "'"):
		p.add("", field, "%q: a sheet name cannot begin or end with an apostrophe", name)
	}
	// Excel compares sheet names without regard to case.
	folded := strings.ToLower(name)
	if prev, dup := names[folded]; dup {
		p.add("", field, "sheet %q is defined twice (also at %s)", name, prev)
		return
	}
	names[folded] = field
}

// code checks a cell or table code and records it.
func (p *parser) code(field, code string, table bool, codes map[string]codeUse) {
	what := "cell"
	if table {
		what = "table"
	}
	switch {
	case code == "":
		p.add("", field, "required: the stable code of the %s, e.g. code: r0010_c0010", what)
		return
	case len(code) > maxNameLength:
		p.add(code, field, "longer than %d characters", maxNameLength)
	case !codePattern.MatchString(code):
		p.add(code, field, `%q is not a valid code: use lower-case letters, digits and "_"`, code)
	}
	if prev, dup := codes[code]; dup {
		p.add(code, field, "code %s is used twice (also at %s): codes are unique across the template, cells and tables alike", code, prev.field)
		return
	}
	codes[code] = codeUse{table: table, field: field}
}

// at checks an A1 reference and returns it canonical ("$d$8" → "D8").
func (p *parser) at(code, field, at string) (string, int, int, bool) {
	if at == "" {
		p.add(code, field, "required: the position, an A1 reference such as D8")
		return "", 0, 0, false
	}
	col, row, err := excelize.CellNameToCoordinates(at)
	if err != nil {
		p.add(code, field, "%q is not a cell reference such as D8: %v", at, err)
		return at, 0, 0, false
	}
	canonical, err := excelize.CoordinatesToCellName(col, row)
	if err != nil {
		p.add(code, field, "%q is not a cell reference such as D8: %v", at, err)
		return at, 0, 0, false
	}
	return canonical, col, row, true
}

// figure checks a figure name and looks it up. known is false when it is not
// in the catalog or there is no catalog.
func (p *parser) figure(code, field, name, what string) (kind string, dims []string, known bool) {
	switch {
	case name == "":
		p.add(code, field, "required: the figure the %s reports, e.g. figure: own_funds", what)
		return "", nil, false
	case !figurePattern.MatchString(name):
		p.add(code, field, `%q is not a figure name: figure names are lower-case letters, digits and "_", starting with a letter`, name)
		return "", nil, false
	case p.cat == nil:
		return "", nil, false
	}
	kind, dims, ok := p.cat.Figure(name)
	if !ok {
		p.add(code, field, "unknown figure %q", name)
		return "", nil, false
	}
	return kind, dims, true
}

func dimensionsText(dims []string) string {
	if len(dims) == 0 {
		return "it has none"
	}
	return "dimensions: " + strings.Join(dims, ", ")
}

func (p *parser) cell(cp string, rc rawCell, codes map[string]codeUse) (Cell, area, bool) {
	p.code(cp+".code", rc.Code, false, codes)
	at, col, row, ok := p.at(rc.Code, cp+".at", rc.At)
	c := Cell{Code: rc.Code, At: at, Label: rc.Label, Figure: rc.Figure}
	kind, dims, known := p.figure(rc.Code, cp+".figure", rc.Figure, "cell")
	if len(rc.Where) > 0 {
		c.Where = rc.Where
		keys := make([]string, 0, len(rc.Where))
		for k := range rc.Where {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		switch {
		case known && kind == kindDerived:
			p.add(rc.Code, cp+".where", "figure %q is derived: it has no dimensions to filter by", rc.Figure)
		case known:
			for _, k := range keys {
				if !slices.Contains(dims, k) {
					p.add(rc.Code, cp+".where."+k, "figure %q has no dimension %q (%s)", rc.Figure, k, dimensionsText(dims))
				}
			}
		}
	}
	return c, area{code: rc.Code, field: cp + ".at", at: at, c0: col, c1: col, r0: row, r1: row}, ok
}

func (p *parser) table(tp string, rt rawTable, codes map[string]codeUse) (Table, area, bool) {
	p.code(tp+".code", rt.Code, true, codes)
	at, col, row, ok := p.at(rt.Code, tp+".at", rt.At)
	tb := Table{Code: rt.Code, At: at, Label: rt.Label, Figure: rt.Figure, GroupBy: rt.GroupBy, Having: rt.Having}
	kind, dims, known := p.figure(rt.Code, tp+".figure", rt.Figure, "table")
	derived := known && kind == kindDerived
	if derived {
		p.add(rt.Code, tp+".figure", "figure %q is derived: it has no dimensions to group by; a table needs a stock, flow or cumulative figure", rt.Figure)
	}
	if len(rt.GroupBy) == 0 {
		p.add(rt.Code, tp+".group_by", "at least one dimension is required, e.g. group_by: [counterparty]")
	}
	for k, d := range rt.GroupBy {
		field := fmt.Sprintf("%s.group_by[%d]", tp, k)
		switch {
		case d == "":
			p.add(rt.Code, field, "empty dimension name")
		case slices.Index(rt.GroupBy, d) < k:
			p.add(rt.Code, field, "dimension %q is listed twice", d)
		case known && !derived && !slices.Contains(dims, d):
			p.add(rt.Code, field, "figure %q has no dimension %q (%s)", rt.Figure, d, dimensionsText(dims))
		}
	}
	if strings.TrimSpace(rt.Having) != "" {
		prog := p.compile(rt.Code, tp+".having", rt.Having, celenv.ReportHaving)
		if prog != nil {
			tb.HavingProg = prog
			for _, k := range prog.RowKeys() {
				if !slices.Contains(rt.GroupBy, k) {
					p.add(rt.Code, tp+".having", "row has no key %q: a row holds the group_by dimensions (%s)", k, strings.Join(rt.GroupBy, ", "))
				}
			}
		}
	} else if rt.Having != "" {
		p.add(rt.Code, tp+".having", "empty expression: leave having out to keep every row")
	}
	tb.OrderBy = strings.TrimSpace(rt.OrderBy)
	tb.Order = p.orderBy(rt.Code, tp+".order_by", tb.OrderBy, rt.GroupBy)
	if rt.Limit != nil {
		tb.Limit = *rt.Limit
		if tb.Limit < 1 {
			p.add(rt.Code, tp+".limit", "%d: a limit is at least 1; leave it out for every row", tb.Limit)
		}
	}
	a := area{code: rt.Code, field: tp + ".at", at: at, table: true,
		c0: col, c1: col + max(len(rt.GroupBy), 1), r0: row, r1: excelize.TotalRows}
	if tb.Limit > 0 {
		a.r1 = min(row+tb.Limit-1, excelize.TotalRows)
	}
	if ok && a.c1 > excelize.MaxColumns {
		p.add(rt.Code, tp+".at", "the table's %d columns do not fit right of %s", len(rt.GroupBy)+1, at)
	}
	return tb, a, ok
}

// orderBy parses "value desc", "value asc", "<dimension> asc|desc" (asc
// when the direction is left out) and returns the complete order: that key,
// then the group_by dimensions, ascending.
func (p *parser) orderBy(code, field, spec string, groupBy []string) []OrderKey {
	var keys []OrderKey
	if spec != "" {
		words := strings.Fields(spec)
		k := OrderKey{By: words[0]}
		switch {
		case len(words) > 2 || strings.Contains(spec, ","):
			p.add(code, field, `%q: want one key, "value desc", "value asc" or "<dimension> asc|desc"`, spec)
			return nil
		case len(words) == 2 && strings.EqualFold(words[1], "desc"):
			k.Desc = true
		case len(words) == 2 && !strings.EqualFold(words[1], "asc"):
			p.add(code, field, "%q: the direction is asc or desc, not %q", spec, words[1])
			return nil
		}
		if k.By != OrderValue && !slices.Contains(groupBy, k.By) {
			p.add(code, field, "%q is neither value nor a group_by dimension (%s)", k.By, strings.Join(groupBy, ", "))
			return nil
		}
		keys = append(keys, k)
	}
	for _, d := range groupBy {
		if !slices.ContainsFunc(keys, func(o OrderKey) bool { return o.By == d }) {
			keys = append(keys, OrderKey{By: d})
		}
	}
	return keys
}

// overlaps reports cells and tables of one sheet that write the same cells.
func (p *parser) overlaps(areas []area) {
	for i, b := range areas {
		for _, a := range areas[:i] {
			if !a.overlaps(b) {
				continue
			}
			switch {
			case !a.table && !b.table:
				p.add(b.code, b.field, "%s is also the position of %s", b.at, a.code)
			case a.table && b.table:
				p.add(b.code, b.field, "table %s (%s) overlaps table %s (%s)", b.code, b, a.code, a)
			case a.table:
				p.add(b.code, b.field, "%s lies in the rows of table %s (%s), which would overwrite it", b.at, a.code, a)
			default:
				p.add(b.code, b.field, "the rows of table %s (%s) would overwrite %s (%s)", b.code, b, a.code, a.at)
			}
		}
	}
}

func (p *parser) validations(t *Template, raw []rawValidation, codes map[string]codeUse) {
	ids := map[string]bool{}
	// A cell whose YAML could not be decoded has no code: a reference to it
	// would be reported as unknown for no reason of its own.
	// Without sheets, every reference is unknown: "at least one sheet" says it.
	cellsComplete := len(t.Sheets) > 0 &&
		!slices.ContainsFunc(p.bad, func(b string) bool { return b == "" || strings.HasPrefix(b, "sheets") })
	for k, rv := range raw {
		vp := validationPath(k, rv.ID)
		switch {
		case rv.ID == "":
			p.add("", vp+".id", "required: the validation's id, e.g. id: v0001")
		case len(rv.ID) > maxNameLength:
			p.add(rv.ID, vp+".id", "longer than %d characters", maxNameLength)
		case !validationIDPattern.MatchString(rv.ID):
			p.add(rv.ID, vp+".id", `%q is not a valid id: use letters, digits, "_", "." and "-"`, rv.ID)
		case ids[rv.ID]:
			p.add(rv.ID, vp+".id", "validation %s is defined twice", rv.ID)
		}
		ids[rv.ID] = true
		v := Validation{ID: rv.ID, Expr: rv.Expr, Severity: rv.Severity, Message: strings.TrimSpace(rv.Message)}
		switch rv.Severity {
		case "":
			v.Severity = SeverityError
		case SeverityError, SeverityWarning:
		default:
			p.add(rv.ID, vp+".severity", "%q: want error or warning", rv.Severity)
		}
		if strings.TrimSpace(rv.Expr) == "" {
			p.add(rv.ID, vp+".expr", `required: a CEL expression that is true when the filing passes, e.g. cell("r0010_c0010") >= decimal(0)`)
		} else if prog := p.compile(rv.ID, vp+".expr", rv.Expr, celenv.ReportValidation); prog != nil {
			v.Program = prog
			for _, c := range prog.CellRefs() {
				use, ok := codes[c]
				switch {
				case ok && use.table:
					p.add(rv.ID, vp+".expr", "%s%s is a table, not a cell: a validation reads cells", celPosition(rv.Expr, c), c)
				case !ok && cellsComplete:
					p.add(rv.ID, vp+".expr", "%sunknown cell %q", celPosition(rv.Expr, c), c)
				}
			}
			for _, c := range prog.TableRefs() {
				use, ok := codes[c]
				switch {
				case ok && !use.table:
					p.add(rv.ID, vp+".expr", "%s%s is a cell, not a table: rows() reads the rows of a table; a cell is cell(%q)", celPosition(rv.Expr, c), c, c)
				case !ok && cellsComplete:
					p.add(rv.ID, vp+".expr", "%sunknown table %q", celPosition(rv.Expr, c), c)
				}
			}
		}
		t.Validations = append(t.Validations, v)
	}
}

// validationPath is the field path of a validation: by id when it has one.
func validationPath(k int, id string) string {
	if id == "" {
		return fmt.Sprintf("validations[%d]", k)
	}
	return "validations[" + id + "]"
}

// compile compiles a report expression and checks its figure() references.
func (p *parser) compile(code, field, expr string, kind celenv.ReportKind) *celenv.ReportProgram {
	prog, err := p.env.Compile(expr, kind)
	if err != nil {
		var ce *celenv.CompileError
		if !errors.As(err, &ce) {
			p.add(code, field, "%v", err)
			return nil
		}
		for _, is := range ce.Issues {
			if is.Line > 0 {
				p.add(code, field, "CEL %d:%d: %s", is.Line, is.Column, is.Message)
			} else {
				p.add(code, field, "%s", is.Message)
			}
		}
		return nil
	}
	if p.cat == nil {
		return prog
	}
	used := prog.FigureDims()
	for _, name := range prog.FigureRefs() {
		kind, dims, ok := p.cat.Figure(name)
		switch {
		case !ok:
			p.add(code, field, "%sunknown figure %q", celPosition(expr, name), name)
		case len(used[name]) > 0 && kind == kindDerived:
			p.add(code, field, "%sfigure %q is derived: it has no dimensions to filter by", celPosition(expr, name), name)
		default:
			for _, d := range used[name] {
				if !slices.Contains(dims, d) {
					p.add(code, field, "%sfigure %q has no dimension %q (%s)", celPosition(expr, d), name, d, dimensionsText(dims))
				}
			}
		}
	}
	return prog
}

// celPosition returns "CEL line:column: " of the first string literal s in
// expr, or "" when it is not written plainly.
func celPosition(expr, s string) string {
	i := strings.Index(expr, strconv.Quote(s))
	if j := strings.Index(expr, "'"+s+"'"); i < 0 || (j >= 0 && j < i) {
		i = j
	}
	if i < 0 {
		return ""
	}
	before := expr[:i]
	line := strings.Count(before, "\n") + 1
	col := utf8.RuneCountInString(before[strings.LastIndex(before, "\n")+1:]) + 1
	return fmt.Sprintf("CEL %d:%d: ", line, col)
}

// figuresOf returns the figures a template needs, sorted and distinct.
func figuresOf(t *Template) []string {
	var out []string
	for _, s := range t.Sheets {
		for _, c := range s.Cells {
			out = append(out, c.Figure)
		}
		for _, tb := range s.Tables {
			out = append(out, tb.Figure)
			if tb.HavingProg != nil {
				out = append(out, tb.HavingProg.FigureRefs()...)
			}
		}
	}
	for _, v := range t.Validations {
		if v.Program != nil {
			out = append(out, v.Program.FigureRefs()...)
		}
	}
	out = slices.DeleteFunc(out, func(s string) bool { return s == "" })
	slices.Sort(out)
	return slices.Compact(out)
}
