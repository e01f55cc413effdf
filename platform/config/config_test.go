package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// TestPrecedence: flags > LEDGERLINE_* environment > config file > defaults.
func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ledgerline.yaml")
	if err := os.WriteFile(file, []byte("http_addr: 127.0.0.1:7000\ndata_dir: /from/file\nnats_url: nats://file:4222\n"+
		"stream:\n  replicas: 3\n  duplicate_window: 5m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LEDGERLINE_CONFIG", file)
	t.Setenv("LEDGERLINE_DATA_DIR", "/from/env")
	t.Setenv("LEDGERLINE_NATS_URL", "nats://env:4222")
	t.Setenv("LEDGERLINE_INGEST_MAX_EVENTS", "77")
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse([]string{"--nats-url", "nats://flag:4222"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(fs)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"flag beats env and file", c.NATSURL, "nats://flag:4222"},
		{"env beats file", c.DataDir, "/from/env"},
		{"file beats default", c.HTTPAddr, "127.0.0.1:7000"},
		{"nested file key", c.Stream.Replicas, 3},
		{"duration from file", c.Stream.DuplicateWindow, 5 * time.Minute},
		{"nested env key", c.Ingest.MaxEvents, 77},
		{"default", c.Ingest.MaxEventBytes, Default().Ingest.MaxEventBytes},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestValidateNamesTheSetting(t *testing.T) {
	c := Default()
	c.Stream.Replicas = 7
	c.Ingest.IndexInterval = 10 * time.Minute
	err := c.Validate()
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, want := range []string{"stream.replicas", "ingest.index_interval"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
