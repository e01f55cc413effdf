module github.com/ledgerline/ledgerline/services/reports

go 1.26

replace github.com/ledgerline/ledgerline => ../..

replace github.com/ledgerline/ledgerline/platform => ../../platform
