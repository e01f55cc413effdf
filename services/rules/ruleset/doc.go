// Package ruleset parses and validates Ledgerline rule sets: the YAML files
// (rules/*.yaml, DESIGN.md "Rules") that say which figures the rules service
// derives from which events.
//
// Parse is what onboarding runs (POST /v1/rulesets, ledgerline rules onboard):
// it decodes the YAML, compiles and type-checks every CEL expression in the
// celenv environment, checks names, kinds, figure references and cycles, and
// returns either a RuleSet ready to evaluate or every problem found, each with
// the figure, the field, a message (with CEL's line:column for expression
// errors) and the position in the YAML file. It is pure: no I/O.
//
// The format:
//
//	ruleset: credit-risk              # [a-z][a-z0-9-]*
//	description: Credit exposures     # optional
//	effective_from: 2026-01           # required: a period ("2026-01", "2026-Q1", "2026")
//	figures:
//	  - name: loan_exposure           # [a-z][a-z0-9_]*, unique in the set
//	    description: ...              # optional
//	    kind: stock                   # stock | flow | cumulative | derived
//	    when: event.type == "loan.balance"          # bool; not for derived
//	    dimensions:                                 # optional, each a string; not for derived
//	      counterparty: event.data.counterparty_id
//	    value: decimal(event.data.outstanding)     # decimal; derived figures may call figure()
//	    currency: event.data.currency               # optional string; not for derived
package ruleset
