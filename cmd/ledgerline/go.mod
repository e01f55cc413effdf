module github.com/ledgerline/ledgerline/cmd/ledgerline

go 1.26.0

require github.com/ledgerline/ledgerline v0.0.0

require github.com/ledgerline/ledgerline/platform v0.0.0

replace github.com/ledgerline/ledgerline => ../..

replace github.com/ledgerline/ledgerline/platform => ../../platform

require github.com/ledgerline/ledgerline/services/ingest v0.0.0

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/mitchellh/colorstring v0.0.0-20190213212951-d06e56a500db // indirect
	github.com/nats-io/nats.go v1.55.0 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/rivo/uniseg v0.4.7 // indirect
	github.com/schollz/progressbar/v3 v3.19.1 // indirect
	github.com/spf13/cobra v1.10.2 // indirect
	github.com/spf13/pflag v1.1.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/term v0.48.0 // indirect
)

replace github.com/ledgerline/ledgerline/services/ingest => ../../services/ingest
