package render

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"

	"github.com/ledgerline/ledgerline/services/reports/filing"
)

// csvHeader is the first line of every CSV rendering.
var csvHeader = []string{"sheet", "code", "at", "label", "dimensions", "value"}

// CSV renders r as one line per amount, under the header
// sheet,code,at,label,dimensions,value. Cells come first on each sheet (with
// empty dimensions), then each table's rows: code is the table's code, at the
// row's value cell, label the table's label, dimensions "dim=value;dim2=value2"
// in GroupBy order. Values have exactly r.Decimals places. Order follows the
// report: sheets, their cells, their tables, the rows.
func CSV(r filing.Report) ([]byte, error) {
	if err := checkReport(r); err != nil {
		return nil, fmt.Errorf("render csv %s: %w", r.Template, err)
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(csvHeader); err != nil {
		return nil, err
	}
	for _, s := range r.Sheets {
		for _, c := range s.Cells {
			if err := w.Write([]string{s.Name, c.Code, c.At, c.Label, "", amount(r, c.Value)}); err != nil {
				return nil, err
			}
		}
		for _, t := range s.Tables {
			var dims strings.Builder
			for i, row := range t.Rows {
				at, err := tableRef(t, i, len(t.GroupBy))
				if err != nil {
					return nil, fmt.Errorf("render csv %s: table %q: %w", r.Template, t.Code, err)
				}
				dims.Reset()
				for j, g := range t.GroupBy {
					if j > 0 {
						dims.WriteByte(';')
					}
					dims.WriteString(g)
					dims.WriteByte('=')
					dims.WriteString(row.Dims[j])
				}
				if err := w.Write([]string{s.Name, t.Code, at, t.Label, dims.String(), amount(r, row.Value)}); err != nil {
					return nil, err
				}
			}
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("render csv %s: %w", r.Template, err)
	}
	return buf.Bytes(), nil
}
