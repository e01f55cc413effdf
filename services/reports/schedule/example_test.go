package schedule_test

import (
	"fmt"
	"time"

	"github.com/ledgerline/ledgerline/services/reports/schedule"
)

func Example() {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	runs, err := schedule.Next("0 6 10 1,4,7,10 *", berlin, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), 3)
	if err != nil {
		panic(err)
	}
	for _, run := range runs {
		fmt.Println(run, schedule.PeriodBefore(schedule.Quarterly, run, berlin))
	}
	// Output:
	// 2026-07-10 06:00:00 +0200 CEST 2026-Q2
	// 2026-10-10 06:00:00 +0200 CEST 2026-Q3
	// 2027-01-10 06:00:00 +0100 CET 2026-Q4
}
