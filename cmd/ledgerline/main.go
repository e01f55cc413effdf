// Command ledgerline is Ledgerline's one CLI: it serves the platform, manages API
// keys, pushes and imports events, works the quarantine and runs the demo.
package main

import (
	"os"

	_ "time/tzdata" // the same zone rules on every machine (CSV mappings name zones)

	"github.com/ledgerline/ledgerline/cmd/ledgerline/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
