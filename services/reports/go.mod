module github.com/ledgerline/ledgerline/services/reports

go 1.26

require github.com/ledgerline/ledgerline v0.0.0
require github.com/ledgerline/ledgerline/platform v0.0.0

replace github.com/ledgerline/ledgerline => ../..

replace github.com/ledgerline/ledgerline/platform => ../../platform
