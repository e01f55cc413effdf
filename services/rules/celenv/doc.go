// Package celenv is the CEL environment in which Ledgerline rule expressions are
// compiled and evaluated: the `when`, `dimensions`, `value` and `currency` of a
// rule set's figures (DESIGN.md, "Rules"). The ruleset package compiles a rule
// set's expressions with it at onboarding; the rules consumer evaluates them on
// every event; the figures query layer evaluates derived figures. It is pure:
// no I/O, no clock.
//
// # Variables
//
// Expressions of stock, flow and cumulative figures see one variable, `event`,
// the event envelope as a map:
//
//	event.id, event.source, event.type, event.subject   string
//	event.schema_version                                 int
//	event.occurred_at                                    timestamp
//	event.supersedes                                     string, "" when absent
//	event.data                                           map: the event's data
//
// In event.data, JSON strings are strings, booleans bools, integers ints, any
// other number a decimal (never a double), objects maps and arrays lists.
// Money in the event schemas is a string ("1234.56"), so a value is usually
// decimal(event.data.outstanding). A field the envelope does not have
// (event.tpye) is a compile error; a missing data field is a runtime error
// unless tested first: has(event.data.ccf), or event.data.?ccf.orValue("1").
//
// Derived figures see no event; instead they call
//
//	figure("tier1_capital")                        the figure summed over all its dimensions
//	figure("loan_exposure", {"counterparty": "CP-1"})  only the matching contributions
//
// both returning a decimal. The name must be a string literal, so that the
// references of a rule set can be checked (Program.FigureRefs) and ordered
// without evaluating anything; the values are supplied at evaluation time by
// Program.Derived's lookup.
//
// # Decimals
//
// Money is exact end to end. The CEL type `decimal` is backed by
// github.com/shopspring/decimal:
//
//	decimal("1234.56"), decimal(42), decimal(d)   constructors; the string form
//	                                              is plain notation only (-?digits[.digits])
//	+ - * / and unary -                           on two decimals, or a decimal and an int
//	                                              on either side: decimal("1.5") * 2
//	< <= > >=                                     likewise
//	== !=                                         numeric on two decimals: decimal("1.50") == decimal("1.5");
//	                                              against a value of unknown type (event.data.x) a
//	                                              compile error: write decimal(event.data.x), since
//	                                              CEL's equality would ask the left operand and an int
//	                                              on the left never equals a decimal
//	round(d, places)                              half away from zero ("commercial"
//	                                              rounding, as used in regulatory returns):
//	                                              round(decimal("2.345"), 2) == decimal("2.35"),
//	                                              round(decimal("-2.5"), 0) == decimal("-3");
//	                                              negative places round to tens, hundreds...
//	roundHalfEven(d, places)                      banker's rounding, when a rule needs it
//	abs(d), min(a, b), max(a, b), string(d)
//
// Division by zero is an error. A quotient is exact when it terminates within
// 20 decimal places (DivisionPlaces); otherwise it is rounded half away from
// zero to 20 places: decimal(1) / 3 == decimal("0.33333333333333333333").
// A decimal never mixes with a double: decimal("1.5") * 1.5 and decimal(1.5)
// are type-check errors whose message says to write decimal("1.5"). Results
// longer than 1000 digits are errors, so no rule can blow a number up.
//
// How the operators are wired in: CEL's arithmetic and relational operators
// each have one runtime binding that dispatches on the left operand's traits,
// which cannot handle an int on the left of a decimal and does not accept extra
// bindings. The environment therefore takes the standard library minus those
// nine operators (StdLibSubset) and redeclares each with all its standard
// overload declarations plus (decimal, decimal), (decimal, int) and
// (int, decimal), and a binding that computes on decimals when either operand
// is one and otherwise calls the standard implementation. Equality is CEL's own
// (it calls the value's Equal), so it is declared only for two decimals.
//
// # Other helpers
//
//   - the standard library, including timestamps: event.occurred_at.getFullYear("Europe/Berlin"),
//     getMonth, getDayOfMonth, getHours...; without a zone these use UTC
//   - date(ts, zone): the calendar date "2006-01-02" of a timestamp in an IANA
//     time zone: date(event.occurred_at, "Europe/Berlin")
//   - the strings extension (cel-go ext.Strings): lowerAscii, upperAscii, trim,
//     replace, split, substring, indexOf, join, format...
//   - cel.bind(name, value, expr) (ext.Bindings) and optional values
//     (event.data.?ccf.orValue("1"))
//
// # Cost limit
//
// Every program has a cost limit (DefaultCostLimit, or WithCostLimit). A CEL
// expression can only run away through a comprehension: the macros all,
// exists, exists_one, map and filter, and cel.bind. Without one, evaluation
// visits each node of the expression once and cannot loop, so its cost is
// bounded by the expression and the size of the event. Programs with a
// comprehension are therefore compiled with cel.CostLimit and track their cost
// at run time, stopping with an error that wraps ErrCostLimit; programs
// without are evaluated untracked, which saves about 250 ns per evaluation, a
// third of the per-event cost. WithCostTrackingAlways tracks every program.
//
// # Performance
//
// NewEvent reads the envelope with a small JSON reader that produces CEL values
// directly from one copy of the input, and the `event` value is a struct, not
// a map. The expressions most rules are made of, a field of the event
// (event.data.counterparty_id), a string compared with ==, decimal(...) of a
// field, + - * of decimals, are answered by shortcuts that read the event
// directly (shortcut.go); anything they are not sure of (a missing key, another
// type, a bad decimal) goes to the interpreter, so results and errors are CEL's
// (TestShortcutsAgreeWithCEL). BenchmarkEvent measures NewEvent plus three
// rules × (when, two dimensions, value, currency) on a loan.balance event.
// Programs and Env are safe for concurrent use; an Event is read-only once built.
package celenv
