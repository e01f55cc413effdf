// Package config is Ledgerline's one configuration struct and its loader.
//
// Values come, highest precedence first, from command-line flags, LEDGERLINE_*
// environment variables, a YAML config file, and the defaults in Default. A nested
// key such as stream.replicas is the flag --stream-replicas, the variable
// LEDGERLINE_STREAM_REPLICAS and the file key stream: {replicas: 3}.
package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Config is every setting a Ledgerline binary reads. Each field's comment names its
// file key; the flag is the key with "." and "_" turned into "-", and the environment
// variable is LEDGERLINE_ followed by the key upper-cased with "." turned into "_".
type Config struct {
	// HTTPAddr is where the API listens (http_addr, default 127.0.0.1:8080).
	HTTPAddr string `mapstructure:"http_addr"`
	// DataDir holds the embedded JetStream store and the private PostgreSQL cluster
	// (data_dir, default ./var).
	DataDir string `mapstructure:"data_dir"`
	// DatabaseURL is a PostgreSQL connection string (database_url). Empty means: start
	// a private PostgreSQL from the local installation in DataDir/postgres.
	DatabaseURL string `mapstructure:"database_url"`
	// NATSURL is the NATS server to use (nats_url). Empty means: start an embedded
	// nats-server with JetStream, storing under DataDir/nats.
	NATSURL string `mapstructure:"nats_url"`
	// NATSListen is where an embedded nats-server accepts clients (nats_listen,
	// default 127.0.0.1:-1, a free port). Ledgerline itself connects in-process.
	NATSListen string `mapstructure:"nats_listen"`
	// APIKey is the key CLI commands send to the API (api_key).
	APIKey string `mapstructure:"api_key"`
	// Server is the base URL CLI commands talk to (server); empty means http://HTTPAddr.
	Server string `mapstructure:"server"`

	Log     LogConfig     `mapstructure:"log"`
	Stream  StreamConfig  `mapstructure:"stream"`
	Ingest  IngestConfig  `mapstructure:"ingest"`
	Rules   RulesConfig   `mapstructure:"rules"`
	Reports ReportsConfig `mapstructure:"reports"`
	// Submission configures the submitter and the regulator channels.
	Submission SubmissionConfig `mapstructure:"submission"`
	Postgres   PostgresConfig   `mapstructure:"postgres"`
}

// LogConfig configures structured logging.
type LogConfig struct {
	// Level is debug, info, warn or error (log.level, default info).
	Level string `mapstructure:"level"`
	// Format is text or json (log.format, default text).
	Format string `mapstructure:"format"`
}

// StreamConfig configures the JetStream event store.
type StreamConfig struct {
	// Name of the stream holding every event (stream.name, default EVENTS).
	Name string `mapstructure:"name"`
	// Replicas is the stream's replica count; 3 on a 3-node cluster (stream.replicas, default 1).
	Replicas int `mapstructure:"replicas"`
	// DuplicateWindow is JetStream's in-memory duplicate window for event ids
	// (stream.duplicate_window, default 2m). Older duplicates are caught by the
	// event index in PostgreSQL, which the ingest service keeps within this window.
	DuplicateWindow time.Duration `mapstructure:"duplicate_window"`
	// SyncAlways makes the embedded server fsync every write before acknowledging
	// (stream.sync_always, default false: acknowledged writes survive a process
	// crash; with true they also survive a power loss, at a throughput cost).
	SyncAlways bool `mapstructure:"sync_always"`
}

// IngestConfig bounds what the ingest service accepts.
type IngestConfig struct {
	// MaxBodyBytes caps one POST /v1/events body (ingest.max_body_bytes, default 16 MiB).
	MaxBodyBytes int64 `mapstructure:"max_body_bytes"`
	// MaxEvents caps the events in one request (ingest.max_events, default 10000).
	MaxEvents int `mapstructure:"max_events"`
	// MaxEventBytes caps one event's JSON (ingest.max_event_bytes, default 256 KiB).
	MaxEventBytes int `mapstructure:"max_event_bytes"`
	// PublishTimeout bounds the wait for JetStream acknowledgements of one request
	// (ingest.publish_timeout, default 10s).
	PublishTimeout time.Duration `mapstructure:"publish_timeout"`
	// IndexInterval is how often the event index catches up with the stream
	// (ingest.index_interval, default 30s); it must stay below DuplicateWindow.
	IndexInterval time.Duration `mapstructure:"index_interval"`
}

// RulesConfig tunes the rule consumers.
type RulesConfig struct {
	// Partitions is the number of partition consumers per rule set version: the
	// unit of parallelism across processes (rules.partitions, default 1). Each
	// worker already evaluates in parallel and pipelines its commits; more than one
	// partition costs JetStream a many-subject filter per consumer, which served
	// events ~4× slower in our measurements. Changing it makes the rules
	// service rebuild its projections at the next start.
	Partitions int `mapstructure:"partitions"`
	// Batch is the most events evaluated and committed in one transaction
	// (rules.batch, default 2000).
	Batch int `mapstructure:"batch"`
}

// ReportsConfig configures the reports service.
type ReportsConfig struct {
	// RulesTimeout bounds how long a filing waits for the rules to process the
	// stream up to the filing's watermark before answering 504 rules_behind
	// (reports.rules_timeout, default 2m).
	RulesTimeout time.Duration `mapstructure:"rules_timeout"`
	// SchedulerTick is how often the scheduler looks for due filings; 0 turns
	// this process's scheduler off (reports.scheduler_tick, default 30s). Any
	// number of processes may schedule: each run is claimed in PostgreSQL once.
	SchedulerTick time.Duration `mapstructure:"scheduler_tick"`
}

// SubmissionConfig configures the submission service.
type SubmissionConfig struct {
	// Workers is how many submissions this process works at once
	// (submission.workers, default 8).
	Workers int `mapstructure:"workers"`
	// PollInterval is how often a delivered submission's regulator status is
	// asked (submission.poll_interval, default 2s).
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// MaxAttempts bounds the uploads and lookups of one submission before it
	// fails (submission.max_attempts, default 10); backoff doubles from 500ms up
	// to 5m, with jitter.
	MaxAttempts int `mapstructure:"max_attempts"`
	// DefaultChannel is used for templates that name none
	// (submission.default_channel, default regulator-sim).
	DefaultChannel string `mapstructure:"default_channel"`
	// Channels are the regulator endpoints by name (submission.channels, in the
	// config file). With none configured, ledgerline serve starts the bundled
	// regulator simulator and defines the channel regulator-sim pointing at it.
	Channels map[string]ChannelConfig `mapstructure:"channels"`
}

// ChannelConfig is one regulator endpoint.
type ChannelConfig struct {
	// Type is http, sftp or directory.
	Type string `mapstructure:"type"`
	// URL is the regulator's upload API (http).
	URL string `mapstructure:"url"`
	// Token is sent as Authorization: Bearer (http).
	Token string `mapstructure:"token"`
	// CAFile, CertFile and KeyFile set up mutual TLS (http): the regulator's CA
	// and this bank's client certificate and key.
	CAFile   string `mapstructure:"ca_file"`
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
	// Addr, User, Password, HostKey and Dir reach an SFTP server (sftp); KeyFile
	// is then the SSH private key. HostKey (authorized_keys format) is required:
	// the server's key is always checked.
	Addr     string `mapstructure:"addr"`
	User     string `mapstructure:"user"`
	Password string `mapstructure:"password"`
	HostKey  string `mapstructure:"host_key"`
	// Dir is the target directory (sftp, directory).
	Dir string `mapstructure:"dir"`
	// Timeout bounds one request (default 30s).
	Timeout time.Duration `mapstructure:"timeout"`
}

// PostgresConfig configures the private PostgreSQL used when DatabaseURL is empty.
type PostgresConfig struct {
	// BinDir holds initdb and postgres (postgres.bin_dir); empty means search PATH
	// and /usr/lib/postgresql/*/bin, newest version first.
	BinDir string `mapstructure:"bin_dir"`
	// MaxConns is the connection pool size (postgres.max_conns, default 16).
	MaxConns int32 `mapstructure:"max_conns"`
}

// Default is the configuration with nothing set.
func Default() Config {
	return Config{
		HTTPAddr:   "127.0.0.1:8080",
		DataDir:    "./var",
		NATSListen: "127.0.0.1:-1",
		Log:        LogConfig{Level: "info", Format: "text"},
		Stream: StreamConfig{
			Name:            "EVENTS",
			Replicas:        1,
			DuplicateWindow: 2 * time.Minute,
		},
		Ingest: IngestConfig{
			MaxBodyBytes:   16 << 20,
			MaxEvents:      10000,
			MaxEventBytes:  256 << 10,
			PublishTimeout: 10 * time.Second,
			IndexInterval:  30 * time.Second,
		},
		Rules:      RulesConfig{Partitions: 1, Batch: 2000},
		Reports:    ReportsConfig{RulesTimeout: 2 * time.Minute, SchedulerTick: 30 * time.Second},
		Submission: SubmissionConfig{Workers: 8, PollInterval: 2 * time.Second, MaxAttempts: 10, DefaultChannel: "regulator-sim"},
		Postgres:   PostgresConfig{MaxConns: 16},
	}
}

// keys lists every key with its default, in the order flags are shown.
func keys(d Config) []struct {
	key   string
	value any
	usage string
} {
	return []struct {
		key   string
		value any
		usage string
	}{
		{"http_addr", d.HTTPAddr, "address the HTTP API listens on"},
		{"data_dir", d.DataDir, "directory for the embedded JetStream store and private PostgreSQL"},
		{"database_url", d.DatabaseURL, "PostgreSQL URL; empty starts a private server in the data dir"},
		{"nats_url", d.NATSURL, "NATS URL; empty starts an embedded nats-server with JetStream"},
		{"nats_listen", d.NATSListen, "client address of the embedded nats-server"},
		{"api_key", d.APIKey, "API key sent by CLI commands"},
		{"server", d.Server, "API base URL for CLI commands (default http://<http-addr>)"},
		{"log.level", d.Log.Level, "log level: debug, info, warn, error"},
		{"log.format", d.Log.Format, "log format: text or json"},
		{"stream.name", d.Stream.Name, "JetStream stream holding the events"},
		{"stream.replicas", d.Stream.Replicas, "stream replicas (3 on a 3-node cluster)"},
		{"stream.duplicate_window", d.Stream.DuplicateWindow, "JetStream duplicate window"},
		{"stream.sync_always", d.Stream.SyncAlways, "fsync every write of the embedded server"},
		{"ingest.max_body_bytes", d.Ingest.MaxBodyBytes, "largest accepted request body"},
		{"ingest.max_events", d.Ingest.MaxEvents, "most events in one request"},
		{"ingest.max_event_bytes", d.Ingest.MaxEventBytes, "largest accepted event"},
		{"ingest.publish_timeout", d.Ingest.PublishTimeout, "wait for JetStream acknowledgements"},
		{"ingest.index_interval", d.Ingest.IndexInterval, "event index catch-up interval"},
		{"rules.partitions", d.Rules.Partitions, "partition consumers per rule set version"},
		{"rules.batch", d.Rules.Batch, "most events per rule consumer transaction"},
		{"reports.rules_timeout", d.Reports.RulesTimeout, "how long a filing waits for the rules to reach its watermark"},
		{"reports.scheduler_tick", d.Reports.SchedulerTick, "how often the scheduler looks for due filings (0: off)"},
		{"submission.workers", d.Submission.Workers, "submissions worked at once in this process"},
		{"submission.poll_interval", d.Submission.PollInterval, "how often a delivered submission's regulator status is asked"},
		{"submission.max_attempts", d.Submission.MaxAttempts, "uploads and lookups of one submission before it fails"},
		{"submission.default_channel", d.Submission.DefaultChannel, "channel of templates that name none"},
		{"postgres.bin_dir", d.Postgres.BinDir, "directory of initdb/postgres for the private server"},
		{"postgres.max_conns", d.Postgres.MaxConns, "PostgreSQL pool size"},
	}
}

// FlagName is the command-line flag for a key: "stream.replicas" → "stream-replicas".
func FlagName(key string) string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(key)
}

// RegisterFlags adds a flag for every key plus --config to fs.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "config file (YAML); default $LEDGERLINE_CONFIG, else ./ledgerline.yaml if present")
	for _, k := range keys(Default()) {
		name := FlagName(k.key)
		switch v := k.value.(type) {
		case string:
			fs.String(name, v, k.usage)
		case int:
			fs.Int(name, v, k.usage)
		case int32:
			fs.Int32(name, v, k.usage)
		case int64:
			fs.Int64(name, v, k.usage)
		case bool:
			fs.Bool(name, v, k.usage)
		case time.Duration:
			fs.Duration(name, v, k.usage)
		}
	}
}

// Load builds the Config from fs (flags registered with RegisterFlags, may be nil),
// the environment and the config file.
func Load(fs *pflag.FlagSet) (Config, error) {
	v := viper.New()
	v.SetEnvPrefix("LEDGERLINE")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	for _, k := range keys(Default()) {
		v.SetDefault(k.key, k.value)
		if fs != nil {
			if f := fs.Lookup(FlagName(k.key)); f != nil {
				if err := v.BindPFlag(k.key, f); err != nil {
					return Config{}, fmt.Errorf("bind flag %s: %w", f.Name, err)
				}
			}
		}
	}

	file := os.Getenv("LEDGERLINE_CONFIG")
	if fs != nil {
		if f := fs.Lookup("config"); f != nil && f.Changed {
			file = f.Value.String()
		}
	}
	switch {
	case file != "":
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return Config{}, fmt.Errorf("read config file %s: %w", file, err)
		}
	default:
		v.SetConfigName("ledgerline")
		v.SetConfigType("yaml")
		v.AddConfigPath(".")
		if err := v.ReadInConfig(); err != nil {
			var notFound viper.ConfigFileNotFoundError
			if !errors.As(err, &notFound) {
				return Config{}, fmt.Errorf("read config file: %w", err)
			}
		}
	}

	var c Config
	if err := v.Unmarshal(&c); err != nil {
		return Config{}, fmt.Errorf("decode configuration: %w", err)
	}
	return c, c.Validate()
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.HTTPAddr == "" {
		errs = append(errs, errors.New("http_addr is empty"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir is empty"))
	}
	if c.Stream.Replicas < 1 || c.Stream.Replicas > 5 {
		errs = append(errs, fmt.Errorf("stream.replicas is %d, want 1 to 5", c.Stream.Replicas))
	}
	if c.Ingest.IndexInterval >= c.Stream.DuplicateWindow {
		errs = append(errs, fmt.Errorf("ingest.index_interval (%s) must be shorter than stream.duplicate_window (%s)",
			c.Ingest.IndexInterval, c.Stream.DuplicateWindow))
	}
	if c.Rules.Partitions < 1 || c.Rules.Partitions > 256 || c.Rules.Batch < 1 {
		errs = append(errs, fmt.Errorf("rules.partitions must be 1 to 256 and rules.batch positive (got %d, %d)", c.Rules.Partitions, c.Rules.Batch))
	}
	if c.Ingest.MaxBodyBytes <= 0 || c.Ingest.MaxEvents <= 0 || c.Ingest.MaxEventBytes <= 0 {
		errs = append(errs, errors.New("ingest limits must be positive"))
	}
	return errors.Join(errs...)
}

// ServerURL is the API base URL CLI commands use.
func (c Config) ServerURL() string {
	if c.Server != "" {
		return strings.TrimRight(c.Server, "/")
	}
	return "http://" + c.HTTPAddr
}
