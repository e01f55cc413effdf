package demobank

import (
	"math/rand/v2"
	"strconv"
)

// Identifiers with real check digits, so the demo data passes the checks a bank's
// systems (and a curious auditor) would make.

const (
	alnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	digits = "0123456789"
)

// mod97 is the remainder modulo 97 of s read as a number, letters standing for two
// digits (A = 10 ... Z = 35): the arithmetic of ISO 7064 MOD 97-10, used by LEIs
// (ISO 17442) and IBANs (ISO 13616).
func mod97(s string) int {
	r := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			r = (r*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			r = (r*100 + int(c-'A') + 10) % 97
		}
	}
	return r
}

// twoDigits formats a check number 0..99 with a leading zero.
func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// leiPrefixes are the first six characters of LEIs from real issuing units
// (e.g. 529900 for WM Datenservice, 969500 for INSEE).
var leiPrefixes = []string{"529900", "391200", "815600", "213800", "549300", "969500"}

// newLEI draws a Legal Entity Identifier: 18 characters and two ISO 7064 MOD 97-10
// check digits, so that the whole code read as a number is 1 modulo 97.
func newLEI(r *rand.Rand) string {
	b := make([]byte, 0, 20)
	b = append(b, leiPrefixes[r.IntN(len(leiPrefixes))]...)
	for len(b) < 18 {
		b = append(b, alnum[r.IntN(len(alnum))])
	}
	return string(b) + twoDigits(98-mod97(string(b)+"00"))
}

// validLEI reports whether s is a well-formed LEI with correct check digits.
func validLEI(s string) bool {
	if len(s) != 20 {
		return false
	}
	for i := 0; i < 20; i++ {
		c := s[i]
		isDigit := c >= '0' && c <= '9'
		if !isDigit && (i >= 18 || c < 'A' || c > 'Z') {
			return false
		}
	}
	return mod97(s) == 1
}

// iban builds an IBAN from a country code and a BBAN: the check digits make the
// rearranged code (BBAN, country, check) 1 modulo 97.
func iban(country, bban string) string {
	return country + twoDigits(98-mod97(bban+country+"00")) + bban
}

// validIBAN reports whether s has correct IBAN check digits.
func validIBAN(s string) bool {
	return len(s) > 4 && mod97(s[4:]+s[:4]) == 1
}

// isinCheck is the ISIN (ISO 6166) check digit of the first 11 characters: the
// Luhn digit of the code with letters written as two digits.
func isinCheck(s11 string) byte {
	var ds []byte
	for i := 0; i < len(s11); i++ {
		c := s11[i]
		if c >= 'A' && c <= 'Z' {
			ds = strconv.AppendInt(ds, int64(c-'A')+10, 10)
		} else {
			ds = append(ds, c)
		}
	}
	sum, double := 0, true
	for i := len(ds) - 1; i >= 0; i-- {
		d := int(ds[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return byte('0' + (10-sum%10)%10)
}

// newISIN draws an ISIN for country ("DE", or "XS" for a eurobond) shaped like the
// country's: German ones are DE000 and six characters, eurobonds and the others
// mostly digits.
func newISIN(r *rand.Rand, country string) string {
	b := make([]byte, 0, 12)
	b = append(b, country...)
	switch country {
	case "DE":
		b = append(b, "000"...)
	case "XS":
		b = append(b, '2')
	default:
		b = append(b, '0')
	}
	for len(b) < 11 {
		if country == "DE" {
			b = append(b, alnum[r.IntN(len(alnum))])
		} else {
			b = append(b, digits[r.IntN(10)])
		}
	}
	return string(b) + string(isinCheck(string(b)))
}

// validISIN reports whether s is a well-formed ISIN with a correct check digit.
func validISIN(s string) bool {
	return len(s) == 12 && s[11] == isinCheck(s[:11])
}

// externalIBAN draws the account of a customer at another bank in a few European
// countries, with the country's BBAN shape.
func externalIBAN(r *rand.Rand) string {
	num := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = digits[r.IntN(10)]
		}
		return string(b)
	}
	switch r.IntN(10) {
	case 0:
		return iban("AT", num(16))
	case 1:
		return iban("FR", num(23))
	case 2:
		return iban("NL", []string{"ABNA", "INGB", "RABO", "TRIO"}[r.IntN(4)]+num(10))
	case 3:
		return iban("GB", []string{"BUKB", "NWBK", "MIDL", "BARC"}[r.IntN(4)]+num(14))
	case 4:
		return iban("CH", num(17))
	case 5:
		return iban("ES", num(20))
	default:
		return iban("DE", []string{"10010010", "37040044", "50010517", "60050101", "70020270", "20050550"}[r.IntN(6)]+num(10))
	}
}
