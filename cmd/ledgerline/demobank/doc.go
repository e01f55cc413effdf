// Package demobank generates the events of Demo Bank AG, the fictional EU bank of
// `ledgerline demo generate` and `make demo`, for one quarter or month: counterparty
// master data (mdm), loans (core-banking), securities (treasury), deposits, general
// ledger postings of the entity DEMOBANK-AG (gl), payments (payments-hub) and USD,
// GBP and CHF rates against EUR (market-data), in the formats of schemas/. The bank
// reports in EUR in Europe/Berlin.
//
// The data tells a story the sample reports must show, whatever the seed: Tier 1
// (from the ledger) is about 13% of the total exposure; one group of connected
// clients is above 25% of Tier 1, the large exposure limit, through a loan with an
// undrawn commitment, term loans and a bond; two or three are between 10% and 25%;
// every other group stays below 10%; the liquidity buffer covers the LCR outflows
// about one and a half times. Summary holds these expected figures.
//
// It also holds the awkward cases the platform must handle, each a few times:
// corrections, a payment sent twice and its void, older snapshots sent after
// newer ones, events of the period sent after the next period's, events half an
// hour after a period boundary in Berlin (the day before in UTC), and invalid
// events for the quarantine. Dataset.Late are sent after the filings: a
// correction of a loan of the top group and an audit adjustment, which a
// restatement picks up.
//
// Generation is deterministic: the same Options give the same bytes (math/rand/v2
// with a PCG seeded from Options.Seed; no map iteration, no clock). The model keeps
// money in integer cents and rates in ten-thousandths, so every amount in an event
// is an exact decimal string with fixed cents; floats only draw random factors.
// Write streams a data set of a million events in a few seconds.
//
// The subpackage expect computes the expected figures independently from the
// events, as tests (and the demo) check the filings against it.
package demobank
