package template_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/ledgerline/ledgerline/services/reports/template"
)

// rules is the catalog the rules service would supply: each figure's kind
// and dimensions.
type rules map[string][]string

func (r rules) Figure(name string) (string, []string, bool) {
	dims, ok := r[name]
	if !ok {
		return "", nil, false
	}
	if dims == nil {
		return "derived", nil, true
	}
	return "stock", dims, true
}

func ExampleParse() {
	cat := rules{"own_funds": nil, "loan_exposure": {"counterparty", "exposure_class"}, "large_exposure_threshold": nil}
	src := []byte(`
id: large-exposures
name: Large exposures
regulator: demo-nca
frequency: quarterly
schedule: "0 6 10 1,4,7,10 *"
timezone: Europe/Berlin
reporting_currency: EUR
sheets:
  - name: LE
    cells:
      - {code: own_funds, at: C4, figure: own_funds}
    tables:
      - code: large_exposures
        at: B8
        figure: loan_exposure
        group_by: [counterparty]
        having: value >= figure("large_exposure_threshold")
        order_by: value desc
validations:
  - {id: v1, expr: 'cell("own_funds") > decimal(0)'}
`)
	tpl, err := template.Parse(src, cat)
	if err != nil {
		panic(err)
	}
	fmt.Println(tpl.Figures(), tpl.NumberFormat, tpl.Sheets[0].Tables[0].Order)
	fmt.Println(tpl.PeriodFor(time.Date(2026, 10, 10, 6, 0, 0, 0, tpl.Location)))

	// A template with mistakes is refused with all of them.
	_, err = template.Parse([]byte(`
id: large-exposures
name: Large exposures
regulator: demo-nca
frequency: quarterly
schedule: "0 6 10 1,4,7,10 *"
timezone: Europe/Frankfurt
reporting_currency: EUR
sheets:
  - name: LE
    tables:
      - code: large_exposures
        at: B8
        figure: loan_exposure
        group_by: [country]
        having: value >= figure("large_exposure_treshold")
`), cat)
	var inv *template.Invalid
	if errors.As(err, &inv) {
		for _, p := range inv.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// [large_exposure_threshold loan_exposure own_funds] #,##0.00 [value desc counterparty asc]
	// 2026-Q3
	// 7:11: timezone: unknown time zone "Europe/Frankfurt": want an IANA name such as Europe/Berlin or UTC
	// 15:20: sheets[0].tables[0].group_by[0] (large_exposures): figure "loan_exposure" has no dimension "country" (dimensions: counterparty, exposure_class)
	// 16:17: sheets[0].tables[0].having (large_exposures): CEL 1:17: unknown figure "large_exposure_treshold"
}
