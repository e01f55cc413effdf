package demobank

import (
	"math/rand/v2"
	"testing"
)

func TestCheckDigitsOfRealIdentifiers(t *testing.T) {
	for _, lei := range []string{"7LTWFZYICNSX8D621K86", "HWUPKR0MPOU8FGXBT394", "529900T8BM49AURSDO55"} {
		if !validLEI(lei) {
			t.Errorf("LEI %s rejected", lei)
		}
	}
	if validLEI("7LTWFZYICNSX8D621K87") || validLEI("7LTWFZYICNSX8D621K8") {
		t.Error("a wrong LEI passes")
	}
	for _, s := range []string{"DE89370400440532013000", "GB82WEST12345698765432", "AT611904300234573201"} {
		if !validIBAN(s) {
			t.Errorf("IBAN %s rejected", s)
		}
		if got := iban(s[:2], s[4:]); got != s {
			t.Errorf("iban(%s) = %s", s[4:], got)
		}
	}
	for _, s := range []string{"US0378331005", "DE0005557508", "AU0000XVGZA3", "GB0002634946"} {
		if !validISIN(s) {
			t.Errorf("ISIN %s rejected", s)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		if l := newLEI(r); !validLEI(l) {
			t.Fatalf("drew LEI %s", l)
		}
		if i := newISIN(r, []string{"DE", "XS", "FR"}[r.IntN(3)]); !validISIN(i) {
			t.Fatalf("drew ISIN %s", i)
		}
		if i := externalIBAN(r); !validIBAN(i) {
			t.Fatalf("drew IBAN %s", i)
		}
	}
}

func TestAmountsAreExactDecimalStrings(t *testing.T) {
	for _, tt := range []struct {
		a    amount
		want string
	}{{0, "0.00"}, {5, "0.05"}, {-5, "-0.05"}, {123456, "1234.56"}, {-100000000, "-1000000.00"}} {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("%d cents = %s, want %s", tt.a, got, tt.want)
		}
	}
	if got := string(rate(8620).appendTo(nil)); got != "0.8620" {
		t.Errorf("rate 8620 = %s", got)
	}
	if got := fromEUR(100000, 8620); got != 116009 { // 1000 EUR at 0.8620 EUR per USD: 1160.09 USD
		t.Errorf("fromEUR = %d", got)
	}
}

func TestFillStaysUnderEveryCap(t *testing.T) {
	w := []float64{100, 1, 1, 0, 50}
	caps := []float64{10, 10, 10, 10, 5}
	parts := fill(w, caps, 20)
	sum := 0.0
	for i, p := range parts {
		if p >= caps[i] || p < 0 || (w[i] == 0 && p != 0) {
			t.Errorf("part %d = %v (cap %v, weight %v)", i, p, caps[i], w[i])
		}
		sum += p
	}
	if sum < 19.999 || sum > 20.001 {
		t.Errorf("parts add up to %v", sum)
	}
}
