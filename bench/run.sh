#!/usr/bin/env bash
# make bench: ingest through the real HTTP API vs raw JetStream async publish of the
# same payloads, and the rules from stream to committed contributions vs raw
# JetStream fetch and raw COPY, in the same run, on this machine. Writes bench/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${BENCH_EVENTS:-200000}
COUNT=${BENCH_COUNT:-5}
cmd="go test -run '^\$' -bench IngestVsRawJetStream -benchtime ${EVENTS}x -count ${COUNT} ."
echo "== $cmd (in services/ingest)"
out=$(cd services/ingest && go test -run '^$' -bench IngestVsRawJetStream -benchtime "${EVENTS}x" -count "$COUNT" . | tee /dev/stderr)
lines=$(grep '^BenchmarkIngestVsRawJetStream' <<<"$out")

# metric NAME: the values of one reported metric, one per run.
metric() { awk -v m="$1" '{for (i = 1; i < NF; i++) if ($(i+1) == m) print $i}' <<<"$lines"; }
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

ingest=$(metric ingest_events/s | median)
raw=$(metric raw_js_events/s | median)
ratio=$(metric ratio | median)
icpu=$(metric ingest_cpu_µs/event | median)
pgcpu=$(metric ingest_pg_cpu_µs/event | median)
rcpu=$(metric raw_cpu_µs/event | median)
runs=$(metric ratio | tr '\n' ' ')

{
  echo "# Benchmark results"
  echo
  echo "Produced by \`make bench\` ($(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown))."
  echo "Command, in \`services/ingest\`: \`$cmd\`"
  echo
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3)."
  echo "Everything runs on it at once: PostgreSQL (private test cluster), the embedded JetStream"
  echo "server (file store), the ingest service and the HTTP clients."
  echo
  echo "## Ingest: POST /v1/events, batches of 500, 4 concurrent senders"
  echo
  echo "Each run sends ${EVENTS} distinct loan.balance events (~400 bytes) through the real HTTP API:"
  echo "JSON Schema validation, the permanent duplicate check in PostgreSQL, JetStream publish"
  echo "with acknowledgement, the event index write. The limit it is measured against is raw"
  echo "JetStream async publish of the same payloads (same subjects, message ids, file storage)"
  echo "to a stream on the same server, in the same run: half before the ingest phase and half"
  echo "after it, so drift in the machine's speed weighs on both sides. Medians of ${COUNT} runs:"
  echo
  echo "| measure | value | target |"
  echo "| --- | --- | --- |"
  echo "| ingest throughput | $(printf '%.0f' "$ingest") events/s | ≥ 60,000 |"
  echo "| raw JetStream async publish | $(printf '%.0f' "$raw") events/s | (the limit) |"
  echo "| ratio ingest / raw | $ratio | ≥ 0.5 |"
  echo "| CPU per event: ingest process (service, JetStream server, HTTP clients) | ${icpu} µs | |"
  echo "| CPU per event: PostgreSQL | ${pgcpu} µs | |"
  echo "| CPU per event: raw publish (client and JetStream server) | ${rcpu} µs | |"
  echo
  echo "Ratio of each run: ${runs}"
  echo
  echo "## Raw output"
  echo
  echo '```'
  echo "$out"
  echo '```'
} > bench/results.md
# Rules: stream → committed contributions, 3 rules matching each event, against raw
# JetStream fetch and raw COPY of the same rows; replay of the same events.
REVENTS=${BENCH_RULES_EVENTS:-1000000}
RCOUNT=${BENCH_RULES_COUNT:-3}
rcmd="go test -run '^\$' -bench RulesVsRaw -benchtime ${REVENTS}x -count ${RCOUNT} -timeout 30m ."
echo "== $rcmd (in services/rules)"
rout=$(cd services/rules && go test -run '^$' -bench RulesVsRaw -benchtime "${REVENTS}x" -count "$RCOUNT" -timeout 30m . | tee /dev/stderr)
rline=$(grep '^BenchmarkRulesVsRaw' <<<"$rout")
# rmetric NAME: the median over the runs (this shared machine's speed drifts between runs).
rmetric() { awk -v m="$1" '{for (i = 1; i < NF; i++) if ($(i+1) == m) print $i}' <<<"$rline" | median; }
rruns=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "rules_events/s") printf "%s ", $i}' <<<"$rline")
{
  echo
  echo "## Rules: stream to committed contributions"
  echo
  echo "Command, in \`services/rules\`: \`$rcmd\`"
  echo
  echo "${REVENTS} loan.balance events are in the stream; a rule set with 3 figures matching every"
  echo "event (3 contribution rows per event) is onboarded into a rule worker process and the time"
  echo "until every row is committed is measured; then the projections are dropped and rebuilt"
  echo "(replay). The limits"
  echo "in the same run: raw JetStream fetch of the events (pull consumer, batches of 2000) and"
  echo "raw PostgreSQL COPY of the same 3 rows per event into a table shaped like contributions."
  echo
  echo "Medians of ${RCOUNT} runs; rules events/s of each run: ${rruns}"
  echo
  echo "| measure | value | target |"
  echo "| --- | --- | --- |"
  echo "| rules throughput | $(printf '%.0f' "$(rmetric rules_events/s)") events/s | ≥ 60,000 |"
  echo "| raw JetStream fetch | $(printf '%.0f' "$(rmetric raw_fetch_events/s)") events/s | (limit) |"
  echo "| raw COPY of the same rows | $(printf '%.0f' "$(rmetric raw_copy_events/s)") events/s | (limit) |"
  echo "| ratio to the lower limit | $(rmetric ratio_to_limit) | |"
  echo "| replay (rebuild) of ${REVENTS} events | $(rmetric replay_s) s | ≤ 30 s for 1,000,000 |"
  echo "| peak RSS of the rule worker process (live run and replay) | $(rmetric worker_peak_rss_MB) MB | ≤ 300 MB |"
  echo "| peak RSS of the benchmark process (JetStream server, raw baselines) | $(rmetric bench_peak_rss_MB) MB | |"
  echo
  echo "The rule worker is the rules binary (\`services/rules/cmd/rules\`) in a process of its own,"
  echo "on the same PostgreSQL and JetStream as the baselines; its RSS is its kernel high-water"
  echo "mark (VmHWM) after the live run and the replay."
  echo
  echo '```'
  echo "$rout"
  echo '```'
} >> bench/results.md
echo "ingest $(printf "%.0f" "$ingest") events/s, raw $(printf "%.0f" "$raw") events/s, ratio $ratio"
# Reports: a filing with 5,000 cells and a 10,000-row table over 1,000,000
# contributions, end to end (query + render + store).
fcmd="go test -run '^\$' -bench LargeFiling -benchtime 3x -count 1 -timeout 30m ."
echo "== $fcmd (in services/reports)"
fout=$(cd services/reports && go test -run '^$' -bench LargeFiling -benchtime 3x -count 1 -timeout 30m . | tee /dev/stderr)
fline=$(grep '^BenchmarkLargeFiling' <<<"$fout")
fmetric() { awk -v m="$1" '{for (i = 1; i < NF; i++) if ($(i+1) == m) print $i}' <<<"$fline"; }
{
  echo
  echo "## Reports: a large filing end to end"
  echo
  echo "Command, in \`services/reports\`: \`$fcmd\`"
  echo
  echo "1,000,000 loan.balance events (200,000 loans, 10,000 counterparties) go through the rules"
  echo "into 1,000,000 contributions of one stock figure; a template with 5,000 cells (one per"
  echo "counterparty filter) and a 10,000-row table (grouped by counterparty, ordered by value) is"
  echo "filed three times (2026-10, 2026-Q4, 2026): the figure query, the cells, tables and"
  echo "validations, rendering xlsx (streamed), csv and json, and storing the filing, its 15,000"
  echo "amounts, its files and its lineage (the 200,000 contributions behind the figure) in"
  echo "PostgreSQL. The shares are the figure query (without storing the lineage) and the"
  echo "rendering of the same report, each timed alone on the same data, over the time of one"
  echo "filing. The raw"
  echo "baseline is the same stock aggregation written by hand in SQL, without the watermark,"
  echo "supersession and period conditions. Lineage on the same data: the first page (up to 100,"
  echo "with each event's envelope read back from JetStream) of 200 cells' and 20 table rows'"
  echo "contributions, read from the filing's stored lineage through the service (no HTTP), and a"
  echo "replay of the first filing."
  echo
  echo "| measure | value | target |"
  echo "| --- | --- | --- |"
  echo "| one filing, end to end | $(fmetric filing_s) s | ≤ 3 s |"
  echo "| share in PostgreSQL (the figure query) | $(fmetric postgres_share) | |"
  echo "| share in rendering (xlsx, csv, json) | $(fmetric render_share) | |"
  echo "| raw PostgreSQL aggregate of the same rows | $(fmetric raw_pg_aggregate_s) s | (limit) |"
  echo "| figure query / raw aggregate | $(fmetric query_vs_raw) | |"
  echo "| lineage: first page of a cell's contributions, p50 | $(fmetric first_page_p50_ms) ms | |"
  echo "| lineage: first page of a cell's contributions, p99 | $(fmetric first_page_p99_ms) ms | ≤ 20 ms |"
  echo "| replay of the 5,000-cell filing (re-derive, re-render, compare SHA-256) | $(fmetric replay_5000_cells_s) s | ≤ 5 s |"
  echo
  echo '```'
  echo "$fout"
  echo '```'
} >> bench/results.md
# Submission: 1,000 filings submitted at once to the regulator simulator.
scmd="go test -run '^\$' -bench Submit1000 -benchtime 1x -count 1 -timeout 30m ."
echo "== $scmd (in services/submission)"
sout=$(cd services/submission && go test -run '^$' -bench Submit1000 -benchtime 1x -count 1 -timeout 30m . 2>/dev/null | tee /dev/stderr)
sline=$(grep '^BenchmarkSubmit1000' <<<"$sout")
smetric() { awk -v m="$1" '{for (i = 1; i < NF; i++) if ($(i+1) == m) print $i}' <<<"$sline"; }
{
  echo
  echo "## Submission: 1,000 filings at once to the regulator simulator"
  echo
  echo "Command, in \`services/submission\`: \`$scmd\`"
  echo
  echo "1,000 filings (one per month of a template) are submitted with 1,000 concurrent"
  echo "\`POST /v1/filings/{id}/submissions\`; 16 submitter workers lease them from PostgreSQL,"
  echo "upload each filing's xlsx, csv and json with its idempotency key to the simulator (in the"
  echo "same process, deciding 100 ms after receipt) and poll until accepted. The baseline in the"
  echo "same run: the same 1,000 uploads sent straight with the http channel, concurrently, with"
  echo "no PostgreSQL and no state machine."
  echo
  echo "| measure | value |"
  echo "| --- | --- |"
  echo "| submissions delivered (receipt recorded) | $(printf '%.0f' "$(smetric delivered_submissions/s)")/s |"
  echo "| submissions accepted by the regulator | $(printf '%.0f' "$(smetric accepted_submissions/s)")/s |"
  echo "| raw uploads to the simulator | $(printf '%.0f' "$(smetric raw_uploads/s)")/s (limit) |"
  echo "| ratio delivered / raw | $(smetric ratio_delivered_to_raw) |"
  echo "| delivered exactly once (one stored upload and one upload attempt per key) | $(smetric delivered_exactly_once) of 1000 |"
  echo
  echo '```'
  echo "$sout"
  echo '```'
} >> bench/results.md
echo "wrote bench/results.md"
