package main_test

import (
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requireLibreOffice is the environment variable that turns a missing
// LibreOffice into a failure (CI sets it, having installed it).
const requireLibreOffice = "LEDGERLINE_REQUIRE_LIBREOFFICE"

// libreOffice finds the libreoffice binary. Without it the check is skipped with
// a message saying how to install it, unless LEDGERLINE_REQUIRE_LIBREOFFICE is
// set, which makes a missing LibreOffice fail the test.
func libreOffice(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"libreoffice", "soffice"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv(requireLibreOffice) != "" {
		t.Fatalf("%s is set but libreoffice is not installed: apt-get install libreoffice-calc-nogui", requireLibreOffice)
	}
	t.Skip("libreoffice is not installed (apt-get install libreoffice-calc-nogui); set " + requireLibreOffice + "=1 to make this a failure")
	return ""
}

// sheetGrid is a sheet as LibreOffice reads it: grid[row][col], both from 0.
type sheetGrid [][]string

// at is the value LibreOffice shows at an A1 reference ("" when empty).
func (g sheetGrid) at(ref string) string {
	col, row := 0, 0
	i := 0
	for ; i < len(ref) && ref[i] >= 'A' && ref[i] <= 'Z'; i++ {
		col = col*26 + int(ref[i]-'A'+1)
	}
	for ; i < len(ref); i++ {
		row = row*10 + int(ref[i]-'0')
	}
	if row-1 >= len(g) || col-1 >= len(g[row-1]) {
		return ""
	}
	return g[row-1][col-1]
}

// convertWithLibreOffice opens an XLSX file in headless LibreOffice, converts it
// to PDF (which must succeed and produce a PDF) and exports every sheet to CSV
// with the raw cell values, answering the sheets by name.
func convertWithLibreOffice(t *testing.T, lo, xlsx string) map[string]sheetGrid {
	t.Helper()
	out := t.TempDir()
	profile := "file://" + filepath.Join(t.TempDir(), "profile") // a profile per run: parallel runs do not share one
	run := func(target string) {
		cmd := exec.Command(lo, "-env:UserInstallation="+profile, "--headless", "--convert-to", target, "--outdir", out, xlsx)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("libreoffice --convert-to %s %s: %v\n%s", target, xlsx, err, b)
		}
	}
	run("pdf")
	base := strings.TrimSuffix(filepath.Base(xlsx), filepath.Ext(xlsx))
	pdf, err := os.ReadFile(filepath.Join(out, base+".pdf"))
	if err != nil {
		t.Fatalf("libreoffice made no PDF of %s: %v", xlsx, err)
	}
	if !strings.HasPrefix(string(pdf), "%PDF-") || len(pdf) < 1000 {
		t.Fatalf("libreoffice's PDF of %s is not a PDF (%d bytes)", xlsx, len(pdf))
	}
	// Tokens: separator ',', quote '"', UTF-8, (import only), (import only),
	// language, quote text, (import only), raw values (not as shown), values not
	// formulas, keep spaces, every sheet into <base>-<sheet>.csv.
	run("csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1")
	matches, _ := filepath.Glob(filepath.Join(out, base+"-*.csv"))
	if len(matches) == 0 {
		t.Fatalf("libreoffice exported no sheet of %s", xlsx)
	}
	sheets := map[string]sheetGrid{}
	for _, m := range matches {
		f, err := os.Open(m)
		if err != nil {
			t.Fatal(err)
		}
		r := csv.NewReader(f)
		r.FieldsPerRecord = -1
		rows, err := r.ReadAll()
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), base+"-"), ".csv")
		sheets[name] = rows
	}
	return sheets
}
