package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md from the Config struct")

// TestReferenceIsCurrent fails while docs/configuration.md is not what
// `ledgerline config reference` prints.
func TestReferenceIsCurrent(t *testing.T) {
	var b bytes.Buffer
	if err := WriteReference(&b); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join("..", "..", "docs", "configuration.md")
	if *update {
		if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v: generate it with `go run ./cmd/ledgerline config reference > docs/configuration.md` from the repository root", err)
	}
	if !bytes.Equal(got, b.Bytes()) {
		t.Fatalf("docs/configuration.md differs from the Config struct's reference: regenerate it with\n"+
			"  go run ./cmd/ledgerline config reference > docs/configuration.md   (from the repository root)\n"+
			"or `cd platform && go test ./config -run TestReferenceIsCurrent -update`; first difference at line %d", firstDiff(got, b.Bytes()))
	}
}

func firstDiff(a, b []byte) int {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range al {
		if i >= len(bl) || al[i] != bl[i] {
			return i + 1
		}
	}
	return len(al) + 1
}

// TestReferenceCoversEveryKey: every key the loader knows is in the reference with
// its flag and environment variable, every setting has a description, and the
// defaults are Default's.
func TestReferenceCoversEveryKey(t *testing.T) {
	byKey := map[string]Setting{}
	for _, sec := range Reference() {
		if sec.Key != "" && sec.Doc == "" {
			t.Errorf("section %s has no doc tag", sec.Key)
		}
		for _, s := range sec.Settings {
			if s.Doc == "" {
				t.Errorf("%s has no doc tag: add one to its field in config.go", s.Key)
			}
			if sec.Key != "" && !strings.HasPrefix(s.Key, sec.Key+".") {
				t.Errorf("%s is listed in section %s", s.Key, sec.Key)
			}
			byKey[s.Key] = s
		}
	}
	for _, k := range keys(Default()) {
		s, ok := byKey[k.key]
		if !ok {
			t.Errorf("key %s has a flag but is not in the reference", k.key)
			continue
		}
		if s.Env != EnvName(k.key) || s.Flag != "--"+FlagName(k.key) {
			t.Errorf("%s: env %q flag %q", k.key, s.Env, s.Flag)
		}
	}
	for key, s := range byKey {
		if s.Env == "" && !strings.HasPrefix(key, "submission.channels") {
			t.Errorf("%s is in the struct but has no flag and no environment variable: add it to keys()", key)
		}
	}
	checks := map[string][2]string{
		"ingest.max_events":                   {"integer", "10000"},
		"stream.duplicate_window":             {"duration", "2m"},
		"stream.sync_always":                  {"boolean", "false"},
		"submission.poll_interval":            {"duration", "2s"},
		"database_url":                        {"string", ""},
		"submission.channels":                 {"map", ""},
		"submission.channels.<name>.timeout":  {"duration", "30s"},
		"submission.channels.<name>.host_key": {"string", ""},
	}
	for key, want := range checks {
		if s := byKey[key]; s.Type != want[0] || s.Default != want[1] {
			t.Errorf("%s: type %q default %q, want %q %q", key, s.Type, s.Default, want[0], want[1])
		}
	}
	var b bytes.Buffer
	if err := WriteReference(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| `ingest.max_events` | `LEDGERLINE_INGEST_MAX_EVENTS` | integer | `10000` |",
		"| `ingest.max_body_bytes` | `LEDGERLINE_INGEST_MAX_BODY_BYTES` | integer | `16777216` (16 MiB) |",
		"## `submission.channels.<name>`", "| `submission.channels.<name>.url` | none (config file only) | string | empty |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("reference lacks %q", want)
		}
	}
}

// TestEffectiveMasksSecrets: the configuration in effect shows every value, the
// secrets masked.
func TestEffectiveMasksSecrets(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ledgerline.yaml")
	if err := os.WriteFile(file, []byte("submission:\n  channels:\n    nca: {type: http, url: https://nca.example.eu, token: tok-123}\n"+
		"    drop: {type: sftp, addr: sftp.example.eu:22, user: bank, password: pw-456, host_key: ssh-ed25519 AAAA}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LEDGERLINE_CONFIG", file)
	t.Setenv("LEDGERLINE_API_KEY", "ll_secretkey")
	t.Setenv("LEDGERLINE_DATABASE_URL", "postgres://ledgerline:db-pw@db:5432/ledgerline")
	t.Setenv("LEDGERLINE_NATS_URL", "nats://u:nats-pw@n1:4222,nats://u:nats-pw@n2:4222")
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse([]string{"--ingest-max-events", "77"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(fs)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var all strings.Builder
	for _, v := range c.Effective() {
		got[v.Key] = v.Value
		all.WriteString(v.Key + " " + v.Value + "\n")
	}
	for _, secret := range []string{"ll_secretkey", "db-pw", "nats-pw", "tok-123", "pw-456"} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("the secret %q is shown:\n%s", secret, all.String())
		}
	}
	want := map[string]string{
		"ingest.max_events":                 "77",
		"stream.duplicate_window":           "2m",
		"api_key":                           "xxxxx",
		"database_url":                      "postgres://ledgerline:xxxxx@db:5432/ledgerline",
		"nats_url":                          "nats://u:xxxxx@n1:4222,nats://u:xxxxx@n2:4222",
		"submission.channels.nca.url":       "https://nca.example.eu",
		"submission.channels.nca.token":     "xxxxx",
		"submission.channels.drop.password": "xxxxx",
		"submission.channels.drop.host_key": "ssh-ed25519 AAAA",
		"server":                            "",
	}
	for k, w := range want {
		if v, ok := got[k]; !ok || v != w {
			t.Errorf("%s = %q (present %v), want %q", k, v, ok, w)
		}
	}
	if _, ok := got["submission.channels.nca.addr"]; ok {
		t.Error("an empty channel field is shown")
	}
	if m := mask(reflectField(t, "DatabaseURL"), "host=db user=ledgerline password=s3cret dbname=x"); m != "host=db user=ledgerline password=xxxxx dbname=x" {
		t.Errorf("key=value connection string masked as %q", m)
	}
}

func reflectField(t *testing.T, name string) reflect.StructField {
	t.Helper()
	f, ok := reflect.TypeOf(Config{}).FieldByName(name)
	if !ok {
		t.Fatalf("no field %s", name)
	}
	return f
}
