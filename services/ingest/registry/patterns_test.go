package registry

import (
	"math/rand"
	"regexp"
	"testing"
)

func TestHotPatternsMatchLikeRegexp(t *testing.T) {
	crafted := []string{"", "a", "A", "0", "00", "-", "-0", "-1.5", "1.", ".5", "1.5.5", "1e5", " 1", "1 ", "123456789012345678901234567890",
		"1234567890123456789012345678901", "1.123456789012345678", "1.1234567890123456789", "EUR", "EU", "EURO", "eur", "E1R",
		"loan.balance", "loan..balance", ".loan", "loan.", "loan_1.x2", "Loan", "a\x00b", "a\x1fb", "a\x7fb", "\u00e9", "\xff\xfe",
		"0.0", "0.5", "0.0001", "00.1", "10", "x1", "0x", "..1", "0.", "void", "a_b", "_a", "9a"}
	rng := rand.New(rand.NewSource(1))
	alphabet := []byte("019.-_aAzZeE \x00\x1f\x7f\xc3\xa9")
	for i := 0; i < 20000; i++ {
		b := make([]byte, rng.Intn(12))
		for j := range b {
			b[j] = alphabet[rng.Intn(len(alphabet))]
		}
		crafted = append(crafted, string(b))
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
