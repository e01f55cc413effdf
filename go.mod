module github.com/ledgerline/ledgerline

go 1.26
