package csvmap_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/ledgerline/ledgerline/services/ingest/csvmap"
)

// A German core-banking extract: semicolons, decimal commas, dates written
// day first, balances struck at 18:00 Frankfurt time. Rows that cannot be
// mapped are reported with their line and column; the others become events.
func Example() {
	mapping, err := csvmap.ParseMapping([]byte(`
type: loan.balance
schema_version: 1
source: core-banking
delimiter: ";"
decimal_comma: true
timezone: Europe/Berlin   # Frankfurt's IANA zone
id: "cb-${Stichtag}-${Konto}"
subject: "${Konto}"
occurred_at: "${Stichtag} 18:00"
occurred_at_format: "02.01.2006 15:04"
data:
  loan_id: "${Konto}"
  outstanding: {value: "${Saldo}", type: decimal}
  days_past_due: {value: "${Verzug}", type: integer}
  undrawn_commitment: {value: "${Frei}", type: decimal, optional: true}
`))
	if err != nil {
		log.Fatal(err)
	}

	extract := "Stichtag;Konto;Saldo;Verzug;Frei\n" +
		"30.06.2026;LN-1;1.250.000,00;0;250.000,00\n" +
		"31.10.2026;LN-2;480.000,5;3;\n" +
		"31.10.2026;LN-3;12,34,5;x;\n"

	r, err := csvmap.NewReader(mapping, strings.NewReader(extract))
	if err != nil {
		log.Fatal(err)
	}
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			log.Fatal(err) // unreadable CSV: stop
		}
		if row.Err != nil {
			fmt.Println(row.Err) // this row only: report it and go on
			continue
		}
		fmt.Println(string(row.Event))
	}
	// Output:
	// {"id":"cb-30.06.2026-LN-1","source":"core-banking","type":"loan.balance","schema_version":1,"subject":"LN-1","occurred_at":"2026-06-30T16:00:00Z","data":{"loan_id":"LN-1","outstanding":"1250000.00","days_past_due":0,"undrawn_commitment":"250000.00"}}
	// {"id":"cb-31.10.2026-LN-2","source":"core-banking","type":"loan.balance","schema_version":1,"subject":"LN-2","occurred_at":"2026-10-31T17:00:00Z","data":{"loan_id":"LN-2","outstanding":"480000.5","days_past_due":3}}
	// line 4: data.outstanding (column "Saldo"): invalid decimal "12,34,5": want digits with an optional leading "-" and decimal comma ","
	// line 4: data.days_past_due (column "Verzug"): invalid integer "x"
}
