# The sample bank as the guides assume it: keys for each role, October 2026's
# events, the own-funds and credit-risk rule sets, the corep-own-funds template
# onboarded by alice and approved by bob, and its 2026-Q4 filing, run by ops and
# signed off by bob: corep-own-funds-2026-Q4-v1, submittable.
#
# Source it from the checkout with a server running and LEDGERLINE_SERVER set:
#   . docs/examples/sample-bank.sh
# It leaves the keys in SRC, AUTHOR, ALICE, BOB and OPS.
SRC=$(ledgerline keys create --role source --name core-banking)
AUTHOR=$(ledgerline keys create --role rule-author --name finance)
ALICE=$(ledgerline keys create --role compliance --name alice)
BOB=$(ledgerline keys create --role compliance --name bob)
OPS=$(ledgerline keys create --role operator --name ops)
LEDGERLINE_API_KEY=$SRC ledgerline events push schemas/examples/bank-2026-10.ndjson
LEDGERLINE_API_KEY=$AUTHOR ledgerline rules onboard rules/own-funds.yaml --wait
LEDGERLINE_API_KEY=$AUTHOR ledgerline rules onboard rules/credit-risk.yaml --wait
LEDGERLINE_API_KEY=$ALICE ledgerline templates onboard reports/corep-own-funds
LEDGERLINE_API_KEY=$BOB ledgerline templates approve corep-own-funds 1
LEDGERLINE_API_KEY=$OPS ledgerline filings create corep-own-funds 2026-Q4
LEDGERLINE_API_KEY=$BOB ledgerline filings sign-off corep-own-funds-2026-Q4-v1
