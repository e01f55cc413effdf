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
//
// The doc tag of each field is its entry in the configuration reference
// (Reference, `ledgerline config reference`, docs/configuration.md); a secret tag
// marks a value that Effective masks ("key": all of it, "url": the password).
type Config struct {
	// HTTPAddr is where the API listens (http_addr, default 127.0.0.1:8080).
	HTTPAddr string `mapstructure:"http_addr" doc:"Address the HTTP API listens on (host:port; port 0 picks a free one)."`
	// HTTPMaxConnections bounds the client connections the API serves at once
	// (http_max_connections, default 1024).
	HTTPMaxConnections int `mapstructure:"http_max_connections" doc:"Most client connections the HTTP API serves at once; more wait in the kernel's accept queue until one closes. Each open connection costs the process some 30 KiB, so this bounds its memory under a flood of clients, which admission control (ingest.max_in_flight_*) cannot do for connections it has not yet answered."`
	// DataDir holds the embedded JetStream store and the private PostgreSQL cluster
	// (data_dir, default ./var).
	DataDir string `mapstructure:"data_dir" doc:"Directory of the embedded JetStream store (nats/) and of the private PostgreSQL (postgres/, postgres.password, postgres.log)."`
	// DatabaseURL is a PostgreSQL connection string (database_url). Empty means: start
	// a private PostgreSQL from the local installation in DataDir/postgres.
	DatabaseURL string `mapstructure:"database_url" doc:"PostgreSQL connection string (postgres://user:password@host:5432/db or pgx's key=value form); the database must exist, Ledgerline creates its tables. Empty: start a private PostgreSQL from the local installation in data_dir." secret:"url"`
	// NATSURL is the NATS server to use (nats_url). Empty means: start an embedded
	// nats-server with JetStream, storing under DataDir/nats.
	NATSURL string `mapstructure:"nats_url" doc:"NATS server or cluster to use (comma-separated URLs). Empty: start an embedded nats-server with JetStream, storing under data_dir/nats." secret:"url"`
	// NATSListen is where an embedded nats-server accepts clients (nats_listen,
	// default 127.0.0.1:-1, a free port). Ledgerline itself connects in-process.
	NATSListen string `mapstructure:"nats_listen" doc:"Where the embedded nats-server accepts other clients (the nats CLI, tests); port -1 is a free port, logged at start. Ledgerline itself connects in-process."`
	// APIKey is the key CLI commands send to the API (api_key).
	APIKey string `mapstructure:"api_key" doc:"The API key CLI commands send (Authorization: Bearer)." secret:"key"`
	// Server is the base URL CLI commands talk to (server); empty means http://HTTPAddr.
	Server string `mapstructure:"server" doc:"The API base URL CLI commands call. Empty: http://<http_addr>."`

	Log     LogConfig     `mapstructure:"log" doc:"Structured logging (log/slog, on stderr)."`
	Stream  StreamConfig  `mapstructure:"stream" doc:"The JetStream stream that holds every event: the system of record."`
	Ingest  IngestConfig  `mapstructure:"ingest" doc:"What the ingest service (POST /v1/events) accepts."`
	Rules   RulesConfig   `mapstructure:"rules" doc:"The rule consumers that derive figures from the stream."`
	Reports ReportsConfig `mapstructure:"reports" doc:"Filings and the scheduler."`
	// Submission configures the submitter and the regulator channels.
	Submission SubmissionConfig `mapstructure:"submission" doc:"The submission workers and the regulator channels. Every value is read at start: restart after a change."`
	Postgres   PostgresConfig   `mapstructure:"postgres" doc:"The PostgreSQL connection pool, and the private server started when database_url is empty."`
}

// LogConfig configures structured logging.
type LogConfig struct {
	// Level is debug, info, warn or error (log.level, default info).
	Level string `mapstructure:"level" doc:"debug, info, warn or error."`
	// Format is text or json (log.format, default text).
	Format string `mapstructure:"format" doc:"text, or json for a log collector."`
}

// StreamConfig configures the JetStream event store.
type StreamConfig struct {
	// Name of the stream holding every event (stream.name, default EVENTS).
	Name string `mapstructure:"name" doc:"The JetStream stream holding every event."`
	// Replicas is the stream's replica count; 3 on a 3-node cluster (stream.replicas, default 1).
	Replicas int `mapstructure:"replicas" doc:"The stream's replicas, 1 to 5; 3 on a 3-node cluster."`
	// DuplicateWindow is JetStream's in-memory duplicate window for event ids
	// (stream.duplicate_window, default 2m). Older duplicates are caught by the
	// event index in PostgreSQL, which the ingest service keeps within this window.
	DuplicateWindow time.Duration `mapstructure:"duplicate_window" doc:"JetStream's in-memory duplicate window for event ids; older duplicates are caught by the event index in PostgreSQL, which the ingest service keeps within this window."`
	// SyncAlways makes the embedded server fsync every write before acknowledging
	// (stream.sync_always, default false: acknowledged writes survive a process
	// crash; with true they also survive a power loss, at a throughput cost).
	SyncAlways bool `mapstructure:"sync_always" doc:"The embedded server fsyncs every write before acknowledging it. false: acknowledged events survive a process crash; true: also a power loss, at a throughput cost."`
}

// IngestConfig bounds what the ingest service accepts.
type IngestConfig struct {
	// MaxBodyBytes caps one POST /v1/events body (ingest.max_body_bytes, default 16 MiB).
	MaxBodyBytes int64 `mapstructure:"max_body_bytes" doc:"Largest POST /v1/events (and resubmission) body, in bytes; larger is answered 413 body_too_large."`
	// MaxEvents caps the events in one request (ingest.max_events, default 10000).
	MaxEvents int `mapstructure:"max_events" doc:"Most events in one request; more is answered 413 too_many_events."`
	// MaxEventBytes caps one event's JSON (ingest.max_event_bytes, default 256 KiB).
	MaxEventBytes int `mapstructure:"max_event_bytes" doc:"Largest single event, in bytes; a larger one is rejected (event_too_large)."`
	// PublishTimeout bounds the wait for JetStream acknowledgements of one request
	// (ingest.publish_timeout, default 10s).
	PublishTimeout time.Duration `mapstructure:"publish_timeout" doc:"How long one request waits for JetStream's acknowledgements before answering 503."`
	// IndexInterval is how often the event index catches up with the stream
	// (ingest.index_interval, default 30s); it must stay below DuplicateWindow.
	IndexInterval time.Duration `mapstructure:"index_interval" doc:"How often the event index catches up with the stream; must be shorter than stream.duplicate_window."`
	// MaxInFlightBytes bounds the request bodies POST /v1/events handles at once,
	// by Content-Length (ingest.max_in_flight_bytes, default 16 MiB): admission
	// control, so a burst is shed instead of growing memory without bound.
	MaxInFlightBytes int64 `mapstructure:"max_in_flight_bytes" doc:"Admission control: the request bodies POST /v1/events works on at once, in bytes by Content-Length (one without it counts as ingest.max_body_bytes, each at least 4 KiB). A request over the budget waits up to ingest.max_queue_wait for room, then is shed with 429 overloaded and Retry-After, before its body is read; at most as many bytes again may wait, beyond that a request is shed at once."`
	// MaxInFlightEvents bounds the events of those requests, once split
	// (ingest.max_in_flight_events, default 8192).
	MaxInFlightEvents int `mapstructure:"max_in_flight_events" doc:"Admission control: the events POST /v1/events works on at once (validating, publishing, indexing), counted once a body is split; a request over it waits within the same ingest.max_queue_wait, then is shed with 429 overloaded. It bounds the events being parsed and published, and so the memory they take."`
	// MaxQueueWait is how long a request waits for room within those bounds
	// before it is shed (ingest.max_queue_wait, default 1s).
	MaxQueueWait time.Duration `mapstructure:"max_queue_wait" doc:"How long a POST /v1/events request waits, in all, for room within ingest.max_in_flight_bytes and ingest.max_in_flight_events before it is answered 429 overloaded with Retry-After; 0 sheds at once."`
}

// RulesConfig tunes the rule consumers.
type RulesConfig struct {
	// Partitions is the number of partition consumers per rule set version: the
	// unit of parallelism across processes (rules.partitions, default 1). Each
	// worker already evaluates in parallel and pipelines its commits; more than one
	// partition costs JetStream a many-subject filter per consumer, which served
	// events ~4× slower in our measurements. Changing it makes the rules
	// service rebuild its projections at the next start.
	Partitions int `mapstructure:"partitions" doc:"Partition consumers per rule set version, 1 to 256: the unit of sharing between processes. Each worker already evaluates in parallel; more than one partition costs JetStream a many-subject filter per consumer (measured ~4x slower). A change makes the rules service rebuild every projection from the stream at its next start."`
	// Batch is the most events evaluated and committed in one transaction
	// (rules.batch, default 2000).
	Batch int `mapstructure:"batch" doc:"Most events a rule worker evaluates and commits in one transaction."`
}

// ReportsConfig configures the reports service.
type ReportsConfig struct {
	// RulesTimeout bounds how long a filing waits for the rules to process the
	// stream up to the filing's watermark before answering 504 rules_behind
	// (reports.rules_timeout, default 2m).
	RulesTimeout time.Duration `mapstructure:"rules_timeout" doc:"How long a filing (and a scheduled run, a replay or a restatement) waits for the rules to process the stream up to its watermark before answering 504 rules_behind; 0 or less means 2m."`
	// SchedulerTick is how often the scheduler looks for due filings; 0 turns
	// this process's scheduler off (reports.scheduler_tick, default 30s). Any
	// number of processes may schedule: each run is claimed in PostgreSQL once.
	SchedulerTick time.Duration `mapstructure:"scheduler_tick" doc:"How often this process's scheduler looks for due filings; 0 turns this process's scheduler off. Any number of processes may schedule: each run is claimed in PostgreSQL once."`
}

// SubmissionConfig configures the submission service.
type SubmissionConfig struct {
	// Workers is how many submissions this process works at once
	// (submission.workers, default 8).
	Workers int `mapstructure:"workers" doc:"Submissions this process works at once; 0 or less means 8 (a process cannot turn its workers off)."`
	// PollInterval is how often a delivered submission's regulator status is
	// asked (submission.poll_interval, default 2s).
	PollInterval time.Duration `mapstructure:"poll_interval" doc:"How often a delivered submission's status is asked of the regulator until it is accepted or rejected; every poll is an attempt row. 0 or less means 2s."`
	// MaxAttempts bounds the uploads and lookups of one submission before it
	// fails (submission.max_attempts, default 10); backoff doubles from 500ms up
	// to 5m, with jitter.
	MaxAttempts int `mapstructure:"max_attempts" doc:"Attempts (uploads and lookups) of one submission before it fails; backoff doubles from 500ms up to 5m, with jitter. 0 or less means 10."`
	// Lease is how long a worker holds a submission before a worker of any
	// process may take it over (submission.lease, default 2m): after a crash,
	// the submission waits this long. It must outlast one upload.
	Lease time.Duration `mapstructure:"lease" doc:"How long a worker holds a submission it works; a submitter that dies mid-way leaves it to the others after this long (they first ask the regulator by its idempotency key). Must outlast one upload (the channel's timeout). 0 or less means 2m."`
	// DefaultChannel is used for templates that name none
	// (submission.default_channel, default regulator-sim).
	DefaultChannel string `mapstructure:"default_channel" doc:"The channel of templates that name none."`
	// Channels are the regulator endpoints by name (submission.channels, in the
	// config file). With none configured, ledgerline serve starts the bundled
	// regulator simulator and defines the channel regulator-sim pointing at it.
	Channels map[string]ChannelConfig `mapstructure:"channels" doc:"The regulator channels by name, in the config file only (submission: {channels: {NAME: {...}}}). None: ledgerline serve starts the bundled regulator simulator and defines the channel regulator-sim pointing at it."`
}

// ChannelConfig is one regulator endpoint.
type ChannelConfig struct {
	// Type is http, sftp or directory.
	Type string `mapstructure:"type" doc:"http (an upload API), sftp or directory."`
	// URL is the regulator's upload API (http).
	URL string `mapstructure:"url" doc:"The regulator's upload API (http)."`
	// Token is sent as Authorization: Bearer (http).
	Token string `mapstructure:"token" doc:"Sent as Authorization: Bearer (http)." secret:"key"`
	// CAFile, CertFile and KeyFile set up mutual TLS (http): the regulator's CA
	// and this bank's client certificate and key.
	CAFile   string `mapstructure:"ca_file" doc:"PEM file of the regulator's CA, for mutual TLS (http)."`
	CertFile string `mapstructure:"cert_file" doc:"PEM file of this bank's client certificate, for mutual TLS (http)."`
	KeyFile  string `mapstructure:"key_file" doc:"PEM file of the client certificate's key (http); the SSH private key (sftp)."`
	// Addr, User, Password, HostKey and Dir reach an SFTP server (sftp); KeyFile
	// is then the SSH private key. HostKey (authorized_keys format) is required:
	// the server's key is always checked.
	Addr     string `mapstructure:"addr" doc:"The SFTP server's host:port (sftp)."`
	User     string `mapstructure:"user" doc:"The SFTP user (sftp)."`
	Password string `mapstructure:"password" doc:"The SFTP password, if no key_file (sftp)." secret:"key"`
	HostKey  string `mapstructure:"host_key" doc:"The SFTP server's public key in authorized_keys format (sftp, required: the server's key is always checked)."`
	// Dir is the target directory (sftp, directory).
	Dir string `mapstructure:"dir" doc:"The target directory (sftp, directory)."`
	// Timeout bounds one request (default 30s).
	Timeout time.Duration `mapstructure:"timeout" doc:"Bounds one request (http) or the connection set-up (sftp); 0 means 30s." default:"30s"`
}

// PostgresConfig configures the private PostgreSQL used when DatabaseURL is empty.
type PostgresConfig struct {
	// BinDir holds initdb and postgres (postgres.bin_dir); empty means search PATH
	// and /usr/lib/postgresql/*/bin, newest version first.
	BinDir string `mapstructure:"bin_dir" doc:"Where initdb and postgres are, for the private server. Empty: the newest /usr/lib/postgresql/*/bin, else the directory of initdb on PATH."`
	// MaxConns is the connection pool size (postgres.max_conns, default 16).
	MaxConns int32 `mapstructure:"max_conns" doc:"The PostgreSQL connection pool size."`
}

// Default is the configuration with nothing set.
func Default() Config {
	return Config{
		HTTPAddr:           "127.0.0.1:8080",
		HTTPMaxConnections: 1024,
		DataDir:            "./var",
		NATSListen:         "127.0.0.1:-1",
		Log:                LogConfig{Level: "info", Format: "text"},
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
			// Far above what 4 senders of 500-event batches need (bench: ~1 MiB),
			// and a bound on memory: a body costs a few times its size while handled.
			MaxInFlightBytes:  16 << 20,
			MaxInFlightEvents: 8192,
			MaxQueueWait:      time.Second,
		},
		Rules:      RulesConfig{Partitions: 1, Batch: 2000},
		Reports:    ReportsConfig{RulesTimeout: 2 * time.Minute, SchedulerTick: 30 * time.Second},
		Submission: SubmissionConfig{Workers: 8, PollInterval: 2 * time.Second, MaxAttempts: 10, Lease: 2 * time.Minute, DefaultChannel: "regulator-sim"},
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
		{"http_max_connections", d.HTTPMaxConnections, "client connections the HTTP API serves at once"},
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
		{"ingest.max_in_flight_bytes", d.Ingest.MaxInFlightBytes, "request bodies handled at once before shedding (429)"},
		{"ingest.max_in_flight_events", d.Ingest.MaxInFlightEvents, "events handled at once before shedding (429)"},
		{"ingest.max_queue_wait", d.Ingest.MaxQueueWait, "wait for room within the in-flight limits before shedding"},
		{"rules.partitions", d.Rules.Partitions, "partition consumers per rule set version"},
		{"rules.batch", d.Rules.Batch, "most events per rule consumer transaction"},
		{"reports.rules_timeout", d.Reports.RulesTimeout, "how long a filing waits for the rules to reach its watermark"},
		{"reports.scheduler_tick", d.Reports.SchedulerTick, "how often the scheduler looks for due filings (0: off)"},
		{"submission.workers", d.Submission.Workers, "submissions worked at once in this process"},
		{"submission.poll_interval", d.Submission.PollInterval, "how often a delivered submission's regulator status is asked"},
		{"submission.max_attempts", d.Submission.MaxAttempts, "uploads and lookups of one submission before it fails"},
		{"submission.lease", d.Submission.Lease, "how long a worker holds a submission before another may take it over"},
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
	if c.HTTPMaxConnections < 1 {
		errs = append(errs, fmt.Errorf("http_max_connections is %d; it must be at least 1", c.HTTPMaxConnections))
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
	if c.Ingest.MaxBodyBytes <= 0 || c.Ingest.MaxEvents <= 0 || c.Ingest.MaxEventBytes <= 0 ||
		c.Ingest.MaxInFlightBytes <= 0 || c.Ingest.MaxInFlightEvents <= 0 {
		errs = append(errs, errors.New("ingest limits must be positive"))
	}
	if c.Ingest.MaxQueueWait < 0 {
		errs = append(errs, fmt.Errorf("ingest.max_queue_wait is %s, want 0 or more", c.Ingest.MaxQueueWait))
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
