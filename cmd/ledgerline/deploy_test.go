package main_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"go.yaml.in/yaml/v3"

	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/platform/envelope"
	"github.com/ledgerline/ledgerline/platform/eventstore"
	submissionservice "github.com/ledgerline/ledgerline/services/submission/service"
)

// The deploy/ examples are checked against the code: the NATS configs form a
// cluster Ledgerline can use, the compose file and the systemd units run real
// roles with settings Ledgerline accepts.

var deployRoles = []string{"ingest", "rules", "reports", "submission"}

// TestDeployNATSConfigsFormACluster starts the three nats-server configs of
// deploy/nats (moved to loopback ports and a temporary store, everything else
// as written: accounts, users, JetStream limits, payload) and has Ledgerline
// create its stream with replicas 3 as the ledgerline user, publish an event and
// read it back through a durable consumer like the rules'.
func TestDeployNATSConfigsFormACluster(t *testing.T) {
	t.Setenv("NATS_LEDGERLINE_PASSWORD", "test-password")
	t.Setenv("NATS_SYS_PASSWORD", "test-sys-password")
	files, err := filepath.Glob("../../deploy/nats/nats-*.conf")
	if err != nil || len(files) != 3 {
		t.Fatalf("deploy/nats: %v %v, want three configs", files, err)
	}
	type node struct {
		opts          *server.Options
		client, route int
	}
	var nodes []node
	names := map[string]bool{}
	for _, f := range files {
		o, err := server.ProcessConfigFile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		switch {
		case !o.JetStream || o.Cluster.Name != "ledgerline" || len(o.Routes) != 3:
			t.Fatalf("%s: jetstream %v, cluster %q, %d routes: want JetStream in cluster ledgerline with 3 routes", f, o.JetStream, o.Cluster.Name, len(o.Routes))
		case names[o.ServerName]:
			t.Fatalf("%s: server_name %q is used twice", f, o.ServerName)
		case o.MaxPayload < int32(config.Default().Ingest.MaxEventBytes):
			t.Fatalf("%s: max_payload %d is below ingest.max_event_bytes", f, o.MaxPayload)
		}
		names[o.ServerName] = true
		nodes = append(nodes, node{opts: o, client: freePortNum(t), route: freePortNum(t)})
	}
	for i, n := range nodes {
		o := n.opts
		o.Host, o.Port, o.HTTPPort = "127.0.0.1", n.client, 0
		o.Cluster.Host, o.Cluster.Port = "127.0.0.1", n.route
		o.Routes = nil
		for j, other := range nodes {
			if j != i {
				o.Routes = append(o.Routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", other.route)})
			}
		}
		o.StoreDir = t.TempDir()
		o.NoSigs = true
		srv, err := server.NewServer(o)
		if err != nil {
			t.Fatalf("%s: %v", o.ServerName, err)
		}
		srv.Start()
		t.Cleanup(srv.Shutdown)
		if !srv.ReadyForConnections(30 * time.Second) {
			t.Fatalf("%s did not start", o.ServerName)
		}
	}
	var urls []string
	for _, n := range nodes {
		urls = append(urls, fmt.Sprintf("nats://ledgerline:test-password@127.0.0.1:%d", n.client))
	}
	cfg := config.Default()
	cfg.NATSURL = strings.Join(urls, ",")
	cfg.Stream.Replicas = 3
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := eventstore.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("Ledgerline on the deploy/nats cluster: %v", err)
	}
	defer store.Close()
	info, err := store.Stream.Info(ctx)
	if err != nil || info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream info: %+v %v, want 3 replicas", info, err)
	}
	ack, err := store.JS.Publish(ctx, envelope.StreamSubject("loan.balance", "LN-1"), []byte(`{"id":"deploy-1"}`), jetstream.WithMsgID("deploy-1"))
	if err != nil {
		t.Fatal(err)
	}
	cons, err := store.JS.CreateConsumer(ctx, cfg.Stream.Name, jetstream.ConsumerConfig{Durable: "rules_deploy_v1_p0of1",
		FilterSubjects: []string{envelope.StreamSubjects}, AckPolicy: jetstream.AckAllPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if md, _ := m.Metadata(); md.Sequence.Stream != ack.Sequence || string(m.Data()) != `{"id":"deploy-1"}` {
			t.Fatalf("read back seq %d %s, want seq %d", md.Sequence.Stream, m.Data(), ack.Sequence)
		}
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("the event was not delivered: %v", batch.Error())
}

func freePortNum(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestDeployCompose parses deploy/compose/docker-compose.yml (no docker here:
// `docker compose config` cannot run) and checks what Ledgerline relies on:
// every role runs `serve --role`, the NATS nodes mount the deploy/nats configs,
// the settings are ones Ledgerline accepts, and its config file's channels
// can be built.
func TestDeployCompose(t *testing.T) {
	b, err := os.ReadFile("../../deploy/compose/docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			Build       *struct{ Context, Dockerfile string }
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("docker-compose.yml is not valid YAML: %v", err)
	}
	for _, role := range deployRoles {
		s, ok := compose.Services[role]
		if !ok {
			t.Fatalf("no %s service", role)
		}
		if !slices.Equal(s.Command, []string{"serve", "--role", role}) {
			t.Fatalf("%s runs %v, want serve --role %s", role, s.Command, role)
		}
		if s.Environment["LEDGERLINE_STREAM_REPLICAS"] != "3" || !strings.Contains(s.Environment["LEDGERLINE_NATS_URL"], "@nats-3:4222") {
			t.Fatalf("%s: environment %v, want the three NATS nodes and replicas 3", role, s.Environment)
		}
		if s.Build == nil || s.Build.Context != "../.." {
			t.Fatalf("%s: build %+v, want the repository root as context", role, s.Build)
		}
		if _, err := os.Stat(filepath.Join("../..", s.Build.Dockerfile)); err != nil {
			t.Fatal(err)
		}
		// The settings, with the variables compose would fill in, are valid.
		for k, v := range s.Environment {
			t.Setenv(k, os.Expand(v, func(string) string { return "x" }))
		}
		t.Setenv("LEDGERLINE_CONFIG", "../../deploy/compose/ledgerline.yaml")
		cfg, err := config.Load(nil)
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		if _, _, err := submissionservice.Channels(context.Background(), cfg.Submission, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil ||
			cfg.Submission.Channels[cfg.Submission.DefaultChannel].URL != "http://regulator-sim:8090" {
			t.Fatalf("compose's ledgerline.yaml: %v %+v", err, cfg.Submission)
		}
	}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("nats-%d", i)
		s := compose.Services[name]
		conf := fmt.Sprintf("../nats/%s.conf:/etc/nats/nats.conf:ro", name)
		if !slices.Contains(s.Volumes, conf) || !slices.Equal(s.Command, []string{"-c", "/etc/nats/nats.conf"}) {
			t.Fatalf("%s: volumes %v, command %v: want %s", name, s.Volumes, s.Command, conf)
		}
		if _, ok := compose.Volumes[name]; !ok {
			t.Fatalf("no volume %s for the JetStream store", name)
		}
	}
	if _, ok := compose.Services["postgres"]; !ok {
		t.Fatal("no postgres service")
	}
}

// TestDeploySystemd checks the units of deploy/systemd: the template unit runs
// `ledgerline serve --role %i` with the env files shipped beside it, one per
// role, whose settings Ledgerline accepts.
func TestDeploySystemd(t *testing.T) {
	unit := readUnit(t, "../../deploy/systemd/ledgerline@.service")
	if got := unit["ExecStart"]; !slices.Equal(got, []string{"/usr/local/bin/ledgerline serve --role %i"}) {
		t.Fatalf("ledgerline@.service ExecStart %v", got)
	}
	if got := unit["EnvironmentFile"]; !slices.Equal(got, []string{"/etc/ledgerline/ledgerline.env", "-/etc/ledgerline/%i.env"}) {
		t.Fatalf("ledgerline@.service EnvironmentFile %v", got)
	}
	nats := readUnit(t, "../../deploy/systemd/nats-server.service")
	if got := nats["ExecStart"]; len(got) != 1 || !strings.HasSuffix(got[0], "nats-server -c /etc/nats/nats.conf") {
		t.Fatalf("nats-server.service ExecStart %v", got)
	}
	for _, role := range deployRoles {
		vars := readEnvFile(t, "../../deploy/systemd/ledgerline.env")
		maps := readEnvFile(t, "../../deploy/systemd/"+role+".env")
		for k, v := range maps {
			vars[k] = v
		}
		for k, v := range vars {
			if !strings.HasPrefix(k, "LEDGERLINE_") {
				t.Fatalf("%s.env: %s is not a Ledgerline setting", role, k)
			}
			t.Setenv(k, v)
		}
		t.Setenv("LEDGERLINE_CONFIG", "../../deploy/systemd/ledgerline.yaml")
		cfg, err := config.Load(nil)
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		if cfg.Stream.Replicas != 3 || !strings.HasPrefix(cfg.HTTPAddr, "0.0.0.0:") {
			t.Fatalf("%s: replicas %d, http_addr %s", role, cfg.Stream.Replicas, cfg.HTTPAddr)
		}
		if _, _, err := submissionservice.Channels(context.Background(), cfg.Submission, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			t.Fatalf("systemd's ledgerline.yaml: %v", err)
		}
	}
}

// readUnit reads a systemd unit's key=value lines (every section), in order.
func readUnit(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not key=value", path, line)
		}
		out[k] = append(out[k], v)
	}
	return out
}

func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, vs := range readUnit(t, path) {
		out[k] = vs[len(vs)-1]
	}
	return out
}
