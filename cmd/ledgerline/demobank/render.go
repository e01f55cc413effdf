package demobank

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Rendering: each event is one line of JSON, written field by field in the order
// of the schemas' examples (json.Marshal would sort nothing but escape "&" in
// company names and cost a map per event).

// obj writes one JSON object's members.
type obj struct {
	b     []byte
	first bool
}

func (o *obj) key(k string) {
	if !o.first {
		o.b = append(o.b, ',')
	}
	o.first = false
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

func (o *obj) str(k, v string) {
	o.key(k)
	o.b = appendString(o.b, v)
}

// opt writes k only when v is not empty.
func (o *obj) opt(k, v string) {
	if v != "" {
		o.str(k, v)
	}
}

func (o *obj) money(k string, a amount) {
	o.key(k)
	o.b = append(o.b, '"')
	o.b = a.appendTo(o.b)
	o.b = append(o.b, '"')
}

func (o *obj) raw(k, v string) {
	o.key(k)
	o.b = append(o.b, v...)
}

func (o *obj) boolean(k string, v bool) { o.raw(k, strconv.FormatBool(v)) }

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, everything else (UTF-8) as it is.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, fmt.Sprintf(`\u%04x`, c)...)
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			_, n := utf8.DecodeRuneInString(s[i:])
			b = append(b, s[i:i+n]...)
			i += n
			continue
		}
		i++
	}
	return append(b, '"')
}

// envelope is an event's envelope; data writes the data object's members.
type envelope struct {
	id, source, typ, subject, supersedes string
	at                                   time.Time
	rawAt                                string // occurred_at as sent, when it is not at
}

func appendEvent(b []byte, e envelope, data func(o *obj)) []byte {
	o := obj{b: append(b, '{'), first: true}
	o.str("id", e.id)
	o.str("source", e.source)
	o.str("type", e.typ)
	if e.typ != "void" {
		o.raw("schema_version", "1")
	}
	o.str("subject", e.subject)
	o.key("occurred_at")
	if e.rawAt != "" {
		o.b = appendString(o.b, e.rawAt)
	} else {
		o.b = append(o.b, '"')
		o.b = e.at.UTC().AppendFormat(o.b, time.RFC3339)
		o.b = append(o.b, '"')
	}
	if data != nil {
		o.key("data")
		d := obj{b: append(o.b, '{'), first: true}
		data(&d)
		o.b = append(d.b, '}')
	}
	o.opt("supersedes", e.supersedes)
	return append(o.b, '}')
}

// localDate is the Berlin calendar date of t, as ids and booking dates use it.
func (b *bank) localDate(t time.Time) string { return date(t.In(b.loc)) }

func (b *bank) secTime(m int) time.Time { return b.monthEnd[m].Add(-30 * time.Minute) }

func (b *bank) voidTime(p payment) time.Time { return b.at(weekday(p.at.AddDate(0, 0, 1), 1), 7, 45) }

// render appends the event r names.
func (b *bank) render(buf []byte, r ref) []byte {
	m := int(r.m)
	fixID := func(e *envelope) {
		if r.v == vFix || r.v == vLateFix {
			e.supersedes = e.id
			e.id += "-c1"
		}
	}
	switch r.k {
	case kCounterparty:
		c := &b.cps[r.i]
		at := b.mdmTime()
		e := envelope{id: "mdm-" + b.localDate(at) + "-" + c.id, source: "mdm", typ: "counterparty", subject: c.id, at: at}
		fixID(&e)
		name := c.name
		if r.v == vWrong {
			name = c.typo
		}
		return appendEvent(buf, e, func(o *obj) {
			o.str("counterparty_id", c.id)
			o.str("name", name)
			o.opt("lei", c.lei)
			o.opt("group_id", c.group)
			o.str("country", c.country)
			o.str("sector", c.sector)
		})

	case kFX:
		f := &b.fx[r.i]
		return appendEvent(buf, envelope{id: "md-" + b.localDate(f.at) + "-" + f.ccy + "EUR", source: "market-data",
			typ: "fx.rate", subject: f.ccy + "/EUR", at: f.at}, func(o *obj) {
			o.str("base", f.ccy)
			o.str("quote", "EUR")
			o.key("rate")
			o.b = append(o.b, '"')
			o.b = f.rate.appendTo(o.b)
			o.b = append(o.b, '"')
		})

	case kLoan:
		l := &b.loans[r.i]
		at, out, und := b.monthEnd[m], l.out[m], l.und[m]
		switch r.v {
		case vWrong:
			for _, f := range b.sp.loanFixes {
				if f.i == int(r.i) && f.m == m {
					out = f.wrong
				}
			}
		case vEdge:
			at, out, und = b.per.End.Add(30*time.Minute), b.sp.edgeOut, b.sp.edgeUnd
		case vPrior:
			at, out, und = b.at(b.per.Start.AddDate(0, 0, -1), 18, 0), l.priorOut, l.priorUnd
		case vLateFix:
			out = b.sp.lateOut
		}
		e := envelope{id: "cb-" + b.localDate(at) + "-" + l.id, source: "core-banking", typ: "loan.balance", subject: l.id, at: at}
		fixID(&e)
		return appendEvent(buf, e, func(o *obj) {
			o.str("loan_id", l.id)
			o.str("counterparty_id", b.cps[l.cp].id)
			o.opt("group_id", b.cps[l.cp].group)
			o.str("exposure_class", l.class)
			o.str("product", l.product)
			o.money("outstanding", out)
			if l.undrawn {
				o.money("undrawn_commitment", und)
			}
			o.opt("ccf", l.ccf)
			o.str("currency", l.ccy)
			o.opt("maturity_date", l.maturity)
		})

	case kSecurity:
		s := &b.secs[r.i]
		at, mv := b.secTime(m), s.mv[m]
		if r.v == vWrong {
			mv = b.sp.secFix.wrong
		}
		e := envelope{id: "tr-" + b.localDate(at) + "-" + s.id, source: "treasury", typ: "security.position", subject: s.id, at: at}
		fixID(&e)
		return appendEvent(buf, e, func(o *obj) {
			o.str("position_id", s.id)
			o.str("isin", s.isin)
			o.str("issuer_id", b.cps[s.issuer].id)
			o.opt("group_id", b.cps[s.issuer].group)
			o.str("portfolio", s.portfolio)
			o.raw("quantity", `"`+strconv.FormatInt(s.qty, 10)+`"`)
			o.money("market_value", mv)
			o.str("currency", s.ccy)
			o.str("hqla_level", s.level)
			if s.flagged || s.encumbered {
				o.boolean("encumbered", s.encumbered)
			}
		})

	case kDeposit:
		d := &b.deps[r.i]
		at, bal := b.monthEnd[m], d.bal[m]
		if r.v == vWrong {
			bal = b.sp.depFix.wrong
		}
		e := envelope{id: "cb-" + b.localDate(at) + "-DP-" + d.account[12:], source: "core-banking", typ: "deposit.balance",
			subject: d.account, at: at}
		fixID(&e)
		return appendEvent(buf, e, func(o *obj) {
			o.str("account_id", d.account)
			o.str("counterparty_id", b.cps[d.cp].id)
			o.str("deposit_category", d.category)
			o.boolean("insured", d.insured)
			o.money("balance", bal)
			o.str("currency", d.ccy)
			o.opt("maturity_date", d.maturity)
		})

	case kPosting:
		j := &b.jes[r.i]
		l := j.lines[r.line]
		pid := fmt.Sprintf("%s-%02d", j.no, r.line+1)
		amt := l.amt
		if r.v == vWrong {
			amt = j.wrong[r.line]
		}
		e := envelope{id: "gl-" + pid, source: "gl", typ: "gl.posting", subject: pid, at: j.at}
		fixID(&e)
		return appendEvent(buf, e, func(o *obj) {
			o.str("posting_id", pid)
			o.str("gl_account", l.account)
			o.str("entity", entity)
			o.money("amount", amt)
			o.str("currency", "EUR")
			o.str("booking_date", b.localDate(j.at))
			o.opt("description", l.text)
		})

	case kPayment:
		p := &b.pays[r.i]
		e := envelope{id: "ph-" + p.id, source: "payments-hub", typ: "payment", subject: p.id, at: p.at}
		switch r.v {
		case vResent:
			e.id += "-RESENT"
		case vVoid:
			return appendEvent(buf, envelope{id: "ph-void-" + p.id + "-RESENT", source: "payments-hub", typ: "void",
				subject: p.id, at: b.voidTime(*p), supersedes: e.id + "-RESENT"}, nil)
		}
		return appendEvent(buf, e, func(o *obj) { b.paymentData(o, p, p.ccy) })

	case kInvalid:
		return b.renderInvalid(buf, &b.sp.invalid[r.i])
	}
	panic("demobank: unknown event kind")
}

func (b *bank) paymentData(o *obj, p *payment, ccy string) {
	o.str("payment_id", p.id)
	o.str("debtor_account", p.debtor)
	o.str("creditor_account", p.creditor)
	o.money("amount", p.amt)
	o.str("currency", ccy)
	o.str("direction", p.direction)
	o.str("value_date", b.localDate(p.at))
}

// renderInvalid writes an event the ingest service refuses.
func (b *bank) renderInvalid(buf []byte, inv *invalid) []byte {
	switch inv.batch {
	case "loans":
		at := b.monthEnd[inv.m]
		c := &b.cps[inv.cp]
		e := envelope{id: "cb-" + b.localDate(at) + "-" + inv.id, source: "core-banking", typ: "loan.balance", subject: inv.id, at: at}
		return appendEvent(buf, e, func(o *obj) {
			o.str("loan_id", inv.id)
			o.str("counterparty_id", c.id)
			o.opt("group_id", c.group)
			o.str("exposure_class", "corporate")
			if inv.code == invNegative {
				o.str("product", "overdraft")
				o.str("outstanding", "-2500.00")
				o.str("undrawn_commitment", "50000.00")
			} else {
				o.str("product", "term_loan")
				o.raw("outstanding", "1250000.5")
			}
			o.str("currency", "EUR")
		})
	case "deposits":
		at := b.monthEnd[inv.m]
		e := envelope{id: "cb-" + b.localDate(at) + "-DP-" + inv.id[12:], source: "core-banking", typ: "deposit.balance",
			subject: inv.id, at: at}
		return appendEvent(buf, e, func(o *obj) {
			o.str("account_id", inv.id)
			o.str("counterparty_id", b.cps[inv.cp].id)
			o.str("deposit_category", "operational")
			o.str("balance", "845000.00")
			o.str("currency", "EUR")
		})
	case "securities":
		at := b.secTime(inv.m)
		e := envelope{id: "tr-" + b.localDate(at) + "-" + inv.id, source: "treasury", typ: "security.position", subject: inv.id, at: at}
		return appendEvent(buf, e, func(o *obj) {
			o.str("position_id", inv.id)
			o.str("isin", "DE0001102580")
			o.str("issuer_id", b.cps[len(b.cps)-1].id)
			o.str("portfolio", "liquidity_buffer")
			o.str("quantity", "5000000")
			o.str("market_value", "4987500.00")
			o.str("currency", "EUR")
			o.str("hqla_level", "3")
		})
	case "mdm":
		at := b.mdmTime()
		e := envelope{id: "mdm-" + b.localDate(at) + "-" + inv.id, source: "mdm", typ: "counterparty", subject: inv.id, at: at}
		return appendEvent(buf, e, func(o *obj) {
			o.str("counterparty_id", inv.id)
			o.str("name", "Demo Neukunde GmbH")
			o.str("lei", "529900DEMO")
			o.str("country", "DE")
			o.str("sector", secCorporate)
		})
	}
	// payments
	p := &inv.pay
	e := envelope{id: "ph-" + p.id, source: "payments-hub", typ: "payment", subject: p.id, at: p.at}
	ccy := p.ccy
	if inv.code == invOffset {
		e.rawAt = p.at.In(b.loc).Format("2006-01-02T15:04:05")
	} else {
		ccy = "EURO"
	}
	return appendEvent(buf, e, func(o *obj) { b.paymentData(o, p, ccy) })
}
