package demobank

import (
	"math"
	"strconv"

	"github.com/shopspring/decimal"
)

// The model keeps money as integer cents and fx rates as integer ten-thousandths:
// exact, fast for a million events, and turned into decimal strings with fixed
// cents before anything reaches an event. Floats only draw random factors.

// amount is a money amount in cents of its currency.
type amount int64

// eur turns a float drawn in units (e.g. euros) into cents.
func eur(x float64) amount { return amount(math.Round(x * 100)) }

// thousands rounds a float in units to whole thousands, as balance sheet items are.
func thousands(x float64) amount { return amount(math.Round(x/1000)) * 100000 }

// times scales a by f, to the cent.
func (a amount) times(f float64) amount { return amount(math.Round(float64(a) * f)) }

func (a amount) appendTo(b []byte) []byte {
	if a < 0 {
		b = append(b, '-')
		a = -a
	}
	b = strconv.AppendInt(b, int64(a/100), 10)
	c := a % 100
	return append(b, '.', byte('0'+c/10), byte('0'+c%10))
}

func (a amount) String() string { return string(a.appendTo(nil)) }

func (a amount) dec() decimal.Decimal { return decimal.New(int64(a), -2) }

// rate is an fx rate (EUR per unit of a currency) or a factor, in ten-thousandths.
type rate int64

const one rate = 10000

func (r rate) appendTo(b []byte) []byte {
	b = strconv.AppendInt(b, int64(r/one), 10)
	f := int64(r % one)
	return append(b, '.', byte('0'+f/1000), byte('0'+f/100%10), byte('0'+f/10%10), byte('0'+f%10))
}

func (r rate) dec() decimal.Decimal { return decimal.New(int64(r), -4) }

// fromEUR converts a non-negative amount in euros into the currency whose rate is
// r, to the cent (half up).
func fromEUR(a amount, r rate) amount {
	return amount((int64(a)*int64(one)*2 + int64(r)) / (2 * int64(r)))
}

// fill spreads total over items by weight, each under its cap: item i gets
// cap_i·(1 − exp(−λ·w_i/cap_i)) with λ chosen so the parts add up to total. Big
// weights approach their cap without reaching it, so no two capped items look
// alike. total must be below the sum of the caps (the caller leaves room).
func fill(w, caps []float64, total float64) []float64 {
	part := func(lambda float64, out []float64) float64 {
		s := 0.0
		for i := range w {
			v := 0.0
			if w[i] > 0 && caps[i] > 0 {
				v = caps[i] * -math.Expm1(-lambda*w[i]/caps[i])
			}
			if out != nil {
				out[i] = v
			}
			s += v
		}
		return s
	}
	hi := 1.0
	for i := 0; i < 2000 && part(hi, nil) < total; i++ {
		hi *= 2
	}
	lo := 0.0
	for i := 0; i < 200; i++ {
		mid := (lo + hi) / 2
		if part(mid, nil) < total {
			lo = mid
		} else {
			hi = mid
		}
	}
	out := make([]float64, len(w))
	part(hi, out)
	return out
}
