module github.com/ledgerline/ledgerline/services/rules

go 1.26

replace github.com/ledgerline/ledgerline => ../..

replace github.com/ledgerline/ledgerline/platform => ../../platform
