package registry

import (
	"fmt"
	"math/rand"
	"regexp"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func TestHotPatternsMatchLikeRegexp(t *testing.T) {
	crafted := []string{"", "a", "A", "0", "00", "-", "-0", "-1.5", "1.", ".5", "1.5.5", "1e5", " 1", "1 ", "123456789012345678901234567890",
		"1234567890123456789012345678901", "1.123456789012345678", "1.1234567890123456789", "EUR", "EU", "EURO", "eur", "E1R",
		"loan.balance", "loan..balance", ".loan", "loan.", "loan_1.x2", "Loan", "a\x00b", "a\x1fb", "a\x7fb", "\u00e9", "\xff\xfe",
		"0.0", "0.5", "0.0001", "00.1", "10", "x1", "0x", "..1", "0.", "void", "a_b", "_a", "9a",
		"1", "2", "1.0", "1.5", "1.01", "0.123456789012345678", "0.1234567890123456789", "1.000000000000000000", "1.0000000000000000000",
		"01", "1.", "10.0", "123", "1234", "1234567890", "12345678901", "12a4", "2026", "2026-10", "2026-1", "2026-00", "2026-09",
		"2026-12", "2026-13", "2026-20", "2026-Q1", "2026-Q4", "2026-Q0", "2026-Q5", "2026-q1", "2026-Q", "2026-Q12", "2026/10",
		"529900T8BM49AURSDO55", "529900T8BM49AURSDO5X", "529900t8BM49AURSDO55", "529900T8BM49AURSDO5", "US0378331005", "DE000BAY0017",
		"U10378331005", "US037833100X", "us0378331005", "US03783310055", " ", "\t\n\f\r", "\v", " a ", "\u00a0", "\t.\t"}
	rng := rand.New(rand.NewSource(1))
	alphabets := [][]byte{[]byte("019.-_aAzZeE \x00\x1f\x7f\xc3\xa9"), []byte("0125.-QAZ \t\n\v\f\r")}
	for i := 0; i < 40000; i++ {
		alphabet := alphabets[i%2]
		b := make([]byte, rng.Intn(12+10*(i%2)))
		for j := range b {
			b[j] = alphabet[rng.Intn(len(alphabet))]
		}
		crafted = append(crafted, string(b))
	}
	// Near misses of the fixed-length patterns (LEI, ISIN, period, factor).
	for _, s := range []string{"529900T8BM49AURSDO55", "US0378331005", "2026-Q3", "2026-11", "0.50", "1.00"} {
		for i := 0; i < 2000; i++ {
			b := []byte(s)
			b[rng.Intn(len(b))] = alphabets[1][rng.Intn(len(alphabets[1]))]
			crafted = append(crafted, string(b))
		}
	}
	for p, f := range hotPatterns {
		re := regexp.MustCompile(p)
		for _, s := range crafted {
			if got, want := f(s), re.MatchString(s); got != want {
				t.Errorf("pattern %q on %q: hand matcher %v, regexp %v", p, s, got, want)
			}
		}
	}
}

func BenchmarkHotPattern(b *testing.B) {
	f := hotPatterns[`^-?[0-9]{1,30}(\.[0-9]{1,18})?$`]
	re := regexp.MustCompile(`^-?[0-9]{1,30}(\.[0-9]{1,18})?$`)
	b.Run("hand", func(b *testing.B) {
		for b.Loop() {
			f("101234.34")
		}
	})
	b.Run("regexp", func(b *testing.B) {
		for b.Loop() {
			re.MatchString("101234.34")
		}
	})
}

// TestFormatChecks: the hand date and date-time checks say valid exactly when both
// time.Parse (in their layouts) and the library's format check accept. (time.Parse
// alone is not enough: it takes offsets such as +01:60 and -24:00, which the
// library refuses.)
func TestFormatChecks(t *testing.T) {
	lib := map[string]*jsonschema.Schema{}
	for _, f := range []string{"date", "date-time"} {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if err := c.AddResource("mem://"+f, map[string]any{"type": "string", "format": f}); err != nil {
			t.Fatal(err)
		}
		lib[f] = c.MustCompile("mem://" + f)
	}
	byParse := func(format, s string) bool {
		switch format {
		case "date":
			if len(s) == 10 && isDateLayout(s) {
				_, err := time.Parse(time.DateOnly, s)
				return err == nil
			}
		case "date-time":
			if isDateTimeLayout(s) {
				_, err := time.Parse(time.RFC3339Nano, s)
				return err == nil
			}
		}
		return false
	}
	var cases []string
	rng := rand.New(rand.NewSource(2))
	for y := range []int{0, 1, 1900, 2000, 2024, 2026, 2100, 9999} {
		for m := 0; m <= 13; m++ {
			for d := 0; d <= 32; d++ {
				date := fmt.Sprintf("%04d-%02d-%02d", []int{0, 1, 1900, 2000, 2024, 2026, 2100, 9999}[y], m, d)
				cases = append(cases, date)
				for _, tm := range []string{"T00:00:00Z", "T23:59:59Z", "T24:00:00Z", "T12:60:00Z", "T12:00:60Z", "T12:00:00.5Z",
					"T12:00:00.123456789Z", "T12:00:00.1234567890Z", "T12:00:00+23:59", "T12:00:00-24:00", "T12:00:00+01:60",
					"T12:00:00+05:30", "T12:00:00z", "t12:00:00Z", "T12:00:00", "T12:00:00.Z", "T12:00:00+0100"} {
					cases = append(cases, date+tm)
				}
			}
		}
	}
	for i := 0; i < 200000; i++ {
		// Random digits in a valid layout: the ranges are what matters.
		b := []byte(fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d", rng.Intn(10000), rng.Intn(100), rng.Intn(100),
			rng.Intn(100), rng.Intn(100), rng.Intn(100)))
		switch rng.Intn(3) {
		case 0:
			b = append(b, 'Z')
		case 1:
			b = fmt.Appendf(b, "+%02d:%02d", rng.Intn(100), rng.Intn(100))
		case 2:
			b = fmt.Appendf(b, ".%dZ", rng.Intn(1000))
		}
		cases = append(cases, string(b), string(b[:10]))
	}
	for _, s := range cases {
		for _, f := range []string{"date", "date-time"} {
			parsed, libOK := byParse(f, s), lib[f].Validate(s) == nil
			if got := formatVerdict(f, s); (got == valid) != (parsed && libOK) {
				t.Errorf("format %s of %q: %s; time.Parse accepts: %v, the library accepts: %v", f, s, got, parsed, libOK)
			}
		}
	}
}
