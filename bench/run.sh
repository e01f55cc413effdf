#!/usr/bin/env bash
# make bench: every measure of Ledgerline next to its limit, in one run on this
# machine. The limits are measured in the same run: raw JetStream async publish and
# fetch, raw PostgreSQL COPY, raw SQL aggregation, raw uploads. Prints a table of
# every measure against its limit or target and writes it to the top of
# bench/results.md, the sections' details below it, the end-to-end samples to
# bench/throughput.csv and their plot to bench/throughput.png.
#
# Sections, in order (about 12 minutes in all with the defaults):
#   ingest     POST /v1/events vs raw JetStream async publish (services/ingest)
#   rules      stream → committed contributions vs raw fetch and raw COPY, replay
#              (services/rules)
#   e2e        POST /v1/events → every contribution committed, the ingest and rules
#              binaries in processes of their own, vs raw publish (cmd/ledgerline)
#   reports    a 5,000-cell filing over 1,000,000 contributions, lineage pages,
#              a restatement after 1,000 late corrections
#              (services/reports)
#   submission 1,000 filings to the regulator simulator (services/submission)
#
# Quick runs while developing (the defaults are the real run's):
#   BENCH_EVENTS=200000        ingest: events per run
#   BENCH_COUNT=5              ingest: runs (the table shows the median)
#   BENCH_RULES_EVENTS=1000000 rules: events (the replay target is for 1,000,000)
#   BENCH_RULES_COUNT=3        rules: runs (median)
#   BENCH_E2E_EVENTS=1000000   end to end: events (the target is for 1,000,000)
#   BENCH_E2E_COUNT=3          end to end: runs (the table shows the median run)
#   BENCH_FILINGS=3            reports: filings per run
#   BENCH_SKIP="reports submission"  sections to leave out (shown as skipped)
# e.g. BENCH_EVENTS=50000 BENCH_COUNT=1 BENCH_RULES_EVENTS=100000 BENCH_RULES_COUNT=1 \
#      BENCH_E2E_EVENTS=100000 BENCH_E2E_COUNT=1 BENCH_SKIP="reports submission" make bench
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
EVENTS=${BENCH_EVENTS:-200000}
COUNT=${BENCH_COUNT:-5}
REVENTS=${BENCH_RULES_EVENTS:-1000000}
RCOUNT=${BENCH_RULES_COUNT:-3}
EEVENTS=${BENCH_E2E_EVENTS:-1000000}
ECOUNT=${BENCH_E2E_COUNT:-3}
FILINGS=${BENCH_FILINGS:-3}
SKIP=" ${BENCH_SKIP:-} "
began=$(date +%s)
cores=$(nproc)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
details=$(mktemp)
trap 'rm -f "$details"' EXIT

# skipped SECTION: whether BENCH_SKIP names it.
skipped() { [[ "$SKIP" == *" $1 "* ]]; }
# values NAME < lines: the values of one reported metric, one per run.
values() { awk -v m="$1" '{for (i = 1; i < NF; i++) if ($(i+1) == m) print $i}'; }
median() { sort -g | awk '{v[NR] = $1} END {if (NR) print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
# bench DIR PATTERN ARGS...: runs one benchmark in DIR, its output on stderr as it
# goes; fails when a run failed (go test still says ok when a later run passed).
bench() {
  local dir=$1 pattern=$2 out
  shift 2
  echo "== go test -run '^\$' -bench $pattern $* . (in $dir)" >&2
  out=$(cd "$dir" && go test -run '^$' -bench "$pattern" "$@" . | tee >(cat >&2))
  if grep -q -- '--- FAIL' <<<"$out"; then
    echo "bench: a run of $pattern failed (see above); bench/results.md is left as it was" >&2
    return 1
  fi
  echo "$out"
}
# Table cells. num V: V rounded with thousands separators; ratio A B: A/B.
num() {
  [[ -n "$1" ]] || { echo "—"; return; }
  awk -v v="$1" 'BEGIN {s = sprintf("%.0f", v); while (s ~ /[0-9]{4}/) sub(/[0-9]{3}($|,)/, ",&", s); print s}'
}
# ratio A B [WHAT]: A/B followed by WHAT, or — when either is missing.
ratio() { [[ -n "$1" && -n "$2" ]] && awk -v a="$1" -v b="$2" -v w="${3:-}" 'BEGIN {printf "%.2f%s", a / b, w ? " " w : ""}' || echo "—"; }
# max_of A B: the larger of two numbers.
max_of() { awk -v a="$1" -v b="$2" 'BEGIN {print (a > b) ? a : b}'; }
# allow CPU: the events/s the machine's cores allow at CPU µs per event, or nothing.
allow() { [[ -n "$1" ]] && awk -v c="$1" -v n="$cores" 'BEGIN {print n * 1e6 / c}' || true; }
# val V UNIT: V and its unit, or — when missing.
val() { [[ -n "$1" && "$1" != "—" ]] && echo "$1 $2" || echo "—"; }
# met RATIO OP LIMIT...: "yes" when every RATIO OP LIMIT pair holds (OP >= or <=).
met() {
  local ok=yes
  while (($# >= 3)); do
    [[ -z "$1" || "$1" == "—" ]] && { echo "—"; return; }
    awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {exit !((op == ">=") ? a >= b : a <= b)}' || ok=no
    shift 3
  done
  echo $ok
}

# --- ingest ---------------------------------------------------------------
ingest="" raw="" iratio="" rawcpu=""
if ! skipped ingest; then
  out=$(bench services/ingest IngestVsRawJetStream -benchtime "${EVENTS}x" -count "$COUNT")
  lines=$(grep '^BenchmarkIngestVsRawJetStream' <<<"$out")
  m() { values "$1" <<<"$lines" | median; }
  ingest=$(m ingest_events/s) raw=$(m raw_js_events/s) iratio=$(m ratio) rawcpu=$(m raw_cpu_µs/event)
  {
    echo "## Ingest: POST /v1/events, batches of 500, 4 concurrent senders"
    echo
    echo "Command, in \`services/ingest\`: \`go test -run '^\$' -bench IngestVsRawJetStream -benchtime ${EVENTS}x -count ${COUNT} .\`"
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
    echo "| ingest throughput | $(num "$ingest") events/s | ≥ 60,000 |"
    echo "| raw JetStream async publish | $(num "$raw") events/s | (the limit) |"
    echo "| ratio ingest / raw | $iratio | ≥ 0.5 |"
    echo "| CPU per event: ingest process (service, JetStream server, HTTP clients) | $(m ingest_cpu_µs/event) µs | |"
    echo "| CPU per event: PostgreSQL | $(m ingest_pg_cpu_µs/event) µs | |"
    echo "| CPU per event: raw publish (client and JetStream server) | $(m raw_cpu_µs/event) µs | |"
    echo
    echo "Ratio of each run: $(values ratio <<<"$lines" | tr '\n' ' ')"
    echo
    echo '```'
    echo "$out"
    echo '```'
    echo
  } >>"$details"
fi

# --- rules ----------------------------------------------------------------
rules="" fetch="" copy="" replay="" wrss="" fetchcpu="" copycpu=""
if ! skipped rules; then
  out=$(bench services/rules RulesVsRaw -benchtime "${REVENTS}x" -count "$RCOUNT" -timeout 30m)
  lines=$(grep '^BenchmarkRulesVsRaw' <<<"$out")
  m() { values "$1" <<<"$lines" | median; }
  rules=$(m rules_events/s) fetch=$(m raw_fetch_events/s) copy=$(m raw_copy_events/s) replay=$(m replay_s)
  fetchcpu=$(m raw_fetch_cpu_µs/event) copycpu=$(m raw_copy_cpu_µs/event)
  wrss=$(values worker_peak_rss_MB <<<"$lines" | sort -g | tail -1)
  {
    echo "## Rules: stream to committed contributions"
    echo
    echo "Command, in \`services/rules\`: \`go test -run '^\$' -bench RulesVsRaw -benchtime ${REVENTS}x -count ${RCOUNT} -timeout 30m .\`"
    echo
    echo "${REVENTS} loan.balance events are in the stream; a rule set with 3 figures matching every"
    echo "event (3 contribution rows per event) is onboarded into a rule worker process and the time"
    echo "until every row is committed is measured; then the projections are dropped and rebuilt"
    echo "(replay). The limits in the same run: raw JetStream fetch of the events (pull consumer,"
    echo "batches of 2000) and raw PostgreSQL COPY of the same 3 rows per event into a table shaped"
    echo "like contributions."
    echo
    echo "Medians of ${RCOUNT} runs; rules events/s of each run: $(values rules_events/s <<<"$lines" | tr '\n' ' ')"
    echo
    echo "| measure | value | target |"
    echo "| --- | --- | --- |"
    echo "| rules throughput | $(num "$rules") events/s | ≥ 60,000 |"
    echo "| raw JetStream fetch | $(num "$fetch") events/s | (limit) |"
    echo "| raw COPY of the same rows | $(num "$copy") events/s | (limit) |"
    echo "| ratio to the lower limit | $(m ratio_to_limit) | |"
    echo "| CPU per event: raw fetch (JetStream server and client) | ${fetchcpu} µs | |"
    echo "| CPU per event: raw COPY (client and PostgreSQL) | ${copycpu} µs | |"
    echo "| replay (rebuild) of ${REVENTS} events | ${replay} s | ≤ 30 s for 1,000,000 |"
    echo "| peak RSS of the rule worker process (live run and replay) | $(m worker_peak_rss_MB) MB | ≤ 300 MB |"
    echo "| peak RSS of the benchmark process (JetStream server, raw baselines) | $(m bench_peak_rss_MB) MB | |"
    echo
    echo "The rule worker is the rules binary (\`services/rules/cmd/rules\`) in a process of its own,"
    echo "on the same PostgreSQL and JetStream as the baselines; its RSS is its kernel high-water"
    echo "mark (VmHWM) after the live run and the replay."
    echo
    echo '```'
    echo "$out"
    echo '```'
    echo
  } >>"$details"
fi

# --- end to end -----------------------------------------------------------
# Ingest and rules each keep both cores busy when measured alone; end to end,
# every event costs the CPU of both stages, so the most two stages sharing the
# machine can reach is 1 / (1/ingest + 1/rules).
ceiling=$([[ -n "$ingest" && -n "$rules" ]] && awk -v a="$ingest" -v b="$rules" 'BEGIN {print 1 / (1/a + 1/b)}' || true)
# Every event end to end needs at least a publish, a fetch and the COPY of its
# rows: their CPU per event, measured raw.
floorcpu=$([[ -n "$rawcpu" && -n "$fetchcpu" && -n "$copycpu" ]] && awk -v a="$rawcpu" -v b="$fetchcpu" -v c="$copycpu" 'BEGIN {printf "%.1f", a + b + c}' || true)
ecpuall=""
e2e="" eraw="" eratio="" irss="" ewrss="" ecpu=""
if ! skipped e2e; then
  # Each run is a process start to finish of its own, with its own samples; the
  # table shows the run whose ratio is the median, whole (its rate, raw publish,
  # CPU and samples belong together).
  csv=$root/bench/throughput.csv
  out="" lines=""
  for ((run = 1; run <= ECOUNT; run++)); do
    o=$(BENCH_SAMPLES=$csv.$run bench cmd/ledgerline EndToEnd -benchtime "${EEVENTS}x" -count 1 -timeout 30m)
    out+="$o"$'\n'
    lines+="$(grep '^BenchmarkEndToEnd' <<<"$o")"$'\n'
  done
  eratios=$(values ratio <<<"$lines" | tr '\n' ' ')
  pick=$(values ratio <<<"$lines" | awk '{print $1, NR}' | sort -g | awk '{r[NR] = $2} END {print r[int((NR+1)/2)]}')
  line=$(sed -n "${pick}p" <<<"$lines")
  mv "$csv.$pick" "$csv"
  rm -f "$csv".[0-9]*
  m() { values "$1" <<<"$line"; }
  e2e=$(m e2e_events/s) eraw=$(m raw_js_events/s) eratio=$(m ratio) irss=$(m ingest_peak_rss_MB) ewrss=$(m worker_peak_rss_MB)
  echo "== go run ./benchplot (in cmd/ledgerline)" >&2
  (cd cmd/ledgerline && go run ./benchplot -in "$csv" -out "$root/bench/throughput.png")
  cpu() { awk -v a="$(m ingest_cpu_µs/event)" -v b="$(m worker_cpu_µs/event)" -v c="$(m bench_cpu_µs/event)" -v d="$(m pg_cpu_µs/event)" "BEGIN {printf \"%.1f\", $1}"; }
  ecpuall=$(cpu 'a+b+c+d')
  ecpu="End to end, CPU per event: ingest process $(cpu a) µs, rule worker $(cpu b) µs, benchmark process (JetStream server, HTTP senders) $(cpu c) µs, PostgreSQL $(cpu d) µs; $(cpu 'a+b+c+d') µs in all, which the $cores cores allow at most $(num "$(allow "$ecpuall")") events/s."
  {
    echo "## End to end: POST /v1/events to every contribution committed"
    echo
    echo "Command, in \`cmd/ledgerline\`, ${ECOUNT} times: \`BENCH_SAMPLES=bench/throughput.csv go test -run '^\$' -bench EndToEnd -benchtime ${EEVENTS}x -count 1 -timeout 30m .\`"
    echo
    echo "The table is the run whose ratio to raw publish is the median of the ${ECOUNT} (run ${pick}). Ratio of each run: ${eratios}"
    echo
    echo "${EEVENTS} distinct loan.balance events are POSTed to the ingest service, the ingest binary"
    echo "(\`services/ingest/cmd/ingest\`) in a process of its own, in batches of 500 from 4 concurrent"
    echo "senders, while the rule worker, the rules binary in another process, consumes them live"
    echo "with 3 rules matching each event (3 contribution rows per event). The time runs from the"
    echo "first POST until the rule consumer's committed position in PostgreSQL covers the last"
    echo "event. The limit in the same run, on the same JetStream server: raw async publish of the"
    echo "same payloads, half before and half after. The benchmark process holds the JetStream"
    echo "server, the HTTP senders and the raw publisher; PostgreSQL is the private test cluster."
    echo "Every 250 ms it samples the events accepted and the events covered by committed"
    echo "contributions: [throughput.csv](throughput.csv), plotted in [throughput.png](throughput.png)."
    echo
    echo "| measure | value | target |"
    echo "| --- | --- | --- |"
    echo "| end to end, first POST to last contribution committed | $(num "$e2e") events/s | ≥ 40,000 |"
    echo "| raw JetStream async publish, same run | $(num "$eraw") events/s | (the limit) |"
    echo "| ratio end to end / raw | $eratio | ≥ 0.4 |"
    echo "| raw publish: the half before the run | $(num "$(m raw_js_before_events/s)") events/s | |"
    echo "| raw publish: the half after the run | $(num "$(m raw_js_after_events/s)") events/s | |"
    echo "| ratio end to end / the faster half | $(ratio "$e2e" "$(max_of "$(m raw_js_before_events/s)" "$(m raw_js_after_events/s)")") | |"
    echo "| at most, from the stages measured alone: 1 / (1/ingest + 1/rules) | $(val "$(num "$ceiling")" events/s) | |"
    echo "| ratio end to end / that | $(ratio "$e2e" "$ceiling") | |"
    echo "| ingest throughput meanwhile (until the last POST was answered) | $(num "$(m ingest_events/s)") events/s | |"
    echo "| drain: last POST answered to last contribution committed | $(m drain_s) s | |"
    echo "| requests shed by ingest (429/503, sent again after Retry-After) | $(m shed_requests) | |"
    echo "| peak RSS of the ingest process | ${irss} MB | |"
    echo "| peak RSS of the rule worker process | ${ewrss} MB | ≤ 300 MB |"
    echo "| peak RSS of the benchmark process (JetStream server, senders, 2 × ${EEVENTS} payloads) | $(m bench_peak_rss_MB) MB | |"
    echo "| CPU per event: ingest process | $(m ingest_cpu_µs/event) µs | |"
    echo "| CPU per event: rule worker process | $(m worker_cpu_µs/event) µs | |"
    echo "| CPU per event: benchmark process (JetStream server, HTTP senders) | $(m bench_cpu_µs/event) µs | |"
    echo "| CPU per event: PostgreSQL | $(m pg_cpu_µs/event) µs | |"
    echo "| CPU per event, all processes | $(cpu 'a+b+c+d') µs | |"
    echo "| events/s the $cores cores allow at that CPU per event | $(num "$(allow "$ecpuall")") | |"
    echo
    echo '```'
    echo "$out"
    echo '```'
    echo
  } >>"$details"
fi

# --- reports --------------------------------------------------------------
filing="" p50="" p99="" freplay="" rrss="" restate=""
if ! skipped reports; then
  out=$(bench services/reports LargeFiling -benchtime "${FILINGS}x" -count 1 -timeout 30m)
  line=$(grep '^BenchmarkLargeFiling' <<<"$out")
  m() { values "$1" <<<"$line"; }
  filing=$(m filing_s) p50=$(m first_page_p50_ms) p99=$(m first_page_p99_ms) freplay=$(m replay_5000_cells_s) rrss=$(m bench_peak_rss_MB) restate=$(m restate_2000_changes_s)
  {
    echo "## Reports: a large filing end to end"
    echo
    echo "Command, in \`services/reports\`: \`go test -run '^\$' -bench LargeFiling -benchtime ${FILINGS}x -count 1 -timeout 30m .\`"
    echo
    echo "1,000,000 loan.balance events (200,000 loans, 10,000 counterparties) go through the rules"
    echo "into 1,000,000 contributions of one stock figure; a template with 5,000 cells (one per"
    echo "counterparty filter) and a 10,000-row table (grouped by counterparty, ordered by value) is"
    echo "filed ${FILINGS} times (2026-10, 2026-11, 2026-12 in turn): the figure query, the cells, tables and"
    echo "validations, rendering xlsx (streamed), csv and json, and storing the filing, its 15,000"
    echo "amounts, its files and its lineage (the 200,000 contributions behind the figure) in"
    echo "PostgreSQL. The shares are the figure query (without storing the lineage) and the"
    echo "rendering of the same report, each timed alone on the same data, over the time of one"
    echo "filing. The raw baseline is the same stock aggregation written by hand in SQL, without the"
    echo "watermark, supersession and period conditions. Lineage on the same data: the first page"
    echo "(up to 100, with each event's envelope read back from JetStream) of 200 cells' and 20 table"
    echo "rows' contributions, read from the filing's stored lineage through the service (no HTTP),"
    echo "and a replay of the first filing. Then 1,000 late corrections (each supersedes a loan's"
    echo "latest October balance, in 1,000 counterparties) and a restatement of the October filing:"
    echo "the amended filing, and its 2,000 changed amounts (1,000 cells, 1,000 table rows), each with"
    echo "the late events behind it."
    echo
    echo "| measure | value | target |"
    echo "| --- | --- | --- |"
    echo "| one filing, end to end | ${filing} s | ≤ 3 s |"
    echo "| share in PostgreSQL (the figure query) | $(m postgres_share) | |"
    echo "| share in rendering (xlsx, csv, json) | $(m render_share) | |"
    echo "| raw PostgreSQL aggregate of the same rows | $(m raw_pg_aggregate_s) s | (limit) |"
    echo "| figure query / raw aggregate | $(m query_vs_raw) | |"
    echo "| lineage: first page of a cell's contributions, p50 | ${p50} ms | |"
    echo "| lineage: first page of a cell's contributions, p99 | ${p99} ms | ≤ 20 ms |"
    echo "| replay of the 5,000-cell filing (re-derive, re-render, compare SHA-256) | ${freplay} s | ≤ 5 s |"
    echo "| restatement after 1,000 late corrections: 2,000 changed amounts with their events | ${restate} s | |"
    echo
    echo '```'
    echo "$out"
    echo '```'
    echo
  } >>"$details"
fi

# --- submission -----------------------------------------------------------
delivered="" uploads="" srss=""
if ! skipped submission; then
  # The simulator logs every receipt on stdout: the details keep the rest.
  out=$(bench services/submission Submit1000 -benchtime 1x -count 1 -timeout 30m 2>/dev/null | grep -v '^[0-9/]* [0-9:]* INFO ')
  line=$(grep '^BenchmarkSubmit1000' <<<"$out")
  m() { values "$1" <<<"$line"; }
  delivered=$(m delivered_submissions/s) uploads=$(m raw_uploads/s) srss=$(m bench_peak_rss_MB)
  {
    echo "## Submission: 1,000 filings at once to the regulator simulator"
    echo
    echo "Command, in \`services/submission\`: \`go test -run '^\$' -bench Submit1000 -benchtime 1x -count 1 -timeout 30m .\`"
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
    echo "| submissions delivered (receipt recorded) | $(num "$delivered")/s |"
    echo "| submissions accepted by the regulator | $(num "$(m accepted_submissions/s)")/s |"
    echo "| raw uploads to the simulator | $(num "$uploads")/s (limit) |"
    echo "| ratio delivered / raw | $(m ratio_delivered_to_raw) |"
    echo "| delivered exactly once (one stored upload and one upload attempt per key) | $(m delivered_exactly_once) of 1000 |"
    echo
    echo "Output (the simulator's log lines left out):"
    echo
    echo '```'
    echo "$out"
    echo '```'
    echo
  } >>"$details"
fi

# --- the table ------------------------------------------------------------
# row MEASURE VALUE LIMIT RATIO MET
row() { echo "| $1 | $2 | $3 | $4 | $5 |"; }
rss=$(printf '%s\n' "$wrss" "$ewrss" | grep . | sort -g | tail -1 || true)
rules_limit=$(printf '%s\n' "$fetch" "$copy" | grep . | sort -g | head -1 || true)
table=$(
  echo "| measure | value | limit or target | ratio | met |"
  echo "| --- | --- | --- | --- | --- |"
  row "raw JetStream async publish (ingest runs, median)" "$(val "$(num "$raw")" events/s)" "limit" "" ""
  row "raw JetStream async publish (end-to-end run)" "$(val "$(num "$eraw")" events/s)" "limit" "" ""
  row "raw JetStream fetch" "$(val "$(num "$fetch")" events/s)" "limit" "" ""
  row "raw PostgreSQL COPY of the contribution rows" "$(val "$(num "$copy")" events/s)" "limit" "" ""
  row "ingest, POST /v1/events ($(num "$EVENTS") events, median of ${COUNT})" "$(val "$(num "$ingest")" events/s)" \
    "raw publish; target ≥ 60,000 and ≥ 0.5" "$(ratio "$ingest" "$raw" "of raw")" "$(met "$ingest" '>=' 60000 "$iratio" '>=' 0.5)"
  row "rules, stream to committed contributions ($(num "$REVENTS") events, median of ${RCOUNT})" "$(val "$(num "$rules")" events/s)" \
    "the lower of raw fetch and raw COPY; target ≥ 60,000" "$(ratio "$rules" "$rules_limit" "of the lower")" "$(met "$rules" '>=' 60000)"
  row "**end to end**, first POST to last contribution committed ($(num "$EEVENTS") events, the median of $ECOUNT runs)" "**$(val "$(num "$e2e")" events/s)**" \
    "raw publish, same run; target ≥ 40,000 and ≥ 0.4" "$(ratio "$e2e" "$eraw" "of raw")" "$(met "$e2e" '>=' 40000 "$eratio" '>=' 0.4)"
  row "end to end at most, from the stages measured alone: 1 / (1/ingest + 1/rules)" "$(val "$(num "$ceiling")" events/s)" \
    "raw publish: of the ingest runs; of the end-to-end run" "$(ratio "$ceiling" "$raw"); $(ratio "$ceiling" "$eraw")" ""
  # What the cores allow at a CPU cost per event, against raw publish of the
  # end-to-end run (the ratio's limit) and of the ingest runs.
  row "CPU per event, the raw operations every event needs: publish ${rawcpu:-—} + fetch ${fetchcpu:-—} + COPY of its 3 rows ${copycpu:-—} µs; the $cores cores allow at most $(val "$(num "$(allow "$floorcpu")")" events/s) at that" \
    "$(val "$floorcpu" µs)" "raw publish: of the end-to-end run; of the ingest runs" "$(ratio "$(allow "$floorcpu")" "$eraw"); $(ratio "$(allow "$floorcpu")" "$raw" "(the most any path could reach)")" ""
  row "CPU per event, end to end (all processes; beyond those raw operations: $(val "$([[ -n "$ecpuall" && -n "$floorcpu" ]] && awk -v a="$ecpuall" -v b="$floorcpu" 'BEGIN {printf "%.1f", a - b}' || true)" µs)); the $cores cores allow at most $(val "$(num "$(allow "$ecpuall")")" events/s) at that" \
    "$(val "$ecpuall" µs)" "raw publish: of the end-to-end run; of the ingest runs" "$(ratio "$(allow "$ecpuall")" "$eraw"); $(ratio "$(allow "$ecpuall")" "$raw" "(the most Ledgerline could reach)")" ""
  row "replay (rebuild) of $(num "$REVENTS") events" "$(val "$replay" s)" "≤ 30 s" "$(ratio "$replay" 30 "of target")" "$(met "$replay" '<=' 30)"
  row "one filing: 5,000 cells and a 10,000-row table over 1,000,000 contributions" "$(val "$filing" s)" "≤ 3 s" "$(ratio "$filing" 3 "of target")" "$(met "$filing" '<=' 3)"
  row "replay of that filing" "$(val "$freplay" s)" "≤ 5 s" "$(ratio "$freplay" 5 "of target")" "$(met "$freplay" '<=' 5)"
  row "restatement of that filing after 1,000 late corrections (2,000 changed amounts, each with its late events)" "$(val "$restate" s)" "" "" ""
  row "lineage: first page of a cell's contributions, p50" "$(val "$p50" ms)" "" "" ""
  row "lineage: first page of a cell's contributions, p99" "$(val "$p99" ms)" "≤ 20 ms" "$(ratio "$p99" 20 "of target")" "$(met "$p99" '<=' 20)"
  row "submissions delivered, 1,000 at once" "$(val "$(num "$delivered")" submissions/s)" "raw uploads: $(val "$(num "$uploads")" uploads/s)" "$(ratio "$delivered" "$uploads" "of raw")" ""
  row "peak RSS: ingest process (end-to-end run)" "$(val "$irss" MB)" "" "" ""
  row "peak RSS: rule worker process (highest of the rules and end-to-end runs)" "$(val "$rss" MB)" "≤ 300 MB" "$(ratio "$rss" 300 "of target")" "$(met "$rss" '<=' 300)"
  row "peak RSS: reports, at most (the large-filing process: JetStream server, rules and reports in one, 1,000,000 contributions)" "$(val "$rrss" MB)" "" "" ""
  row "peak RSS: submission, at most (the 1,000-submission process: JetStream server, rules, reports, submission and the regulator simulator in one)" "$(val "$srss" MB)" "" "" ""
  if [[ -n "${BENCH_SKIP:-}" ]]; then echo && echo "Sections left out (BENCH_SKIP): ${BENCH_SKIP}."; fi
)
took=$(($(date +%s) - began))
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# What this script writes itself (the plot is drawn before this point) is no change.
dirty=$(git status --porcelain -- . ':!bench/results.md' ':!bench/throughput.csv' ':!bench/throughput.png' ':!bench/history.tsv' 2>/dev/null || true)
overrides=""
for v in $(compgen -e | grep '^BENCH_' | sort); do overrides+="$v=${!v@Q} "; done
# A full run (no overrides, every section) adds its row to bench/history.tsv, so
# that runs on other machines and at other commits can be read side by side.
history=bench/history.tsv
if [[ -z "$overrides" && -n "$e2e" && -n "$ingest" && -n "$rules" && -n "$filing" ]]; then
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u '+%Y-%m-%d %H:%M')" "$commit${dirty:++}" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" "$raw" "$ingest" "$rules" "$eraw" "$e2e" "$eratio" "$replay" "$filing" >>"$history"
fi
[[ -n "$dirty" ]] && commit="$commit with uncommitted changes"
# runs: the history as a table, newest last.
runs() {
  echo "| when (UTC) | commit | CPU | raw publish (ingest runs) | ingest | rules | at most, 1 / (1/ingest + 1/rules) | raw publish (end-to-end run) | end to end | end to end / raw | replay of 1M | one filing |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  sed 1d "$history" | while IFS=$'\t' read -r when c cpu rawi ing rul rawe e er rep fil; do
    echo "| $when | $c | $cpu | $(num "$rawi") | $(num "$ing") | $(num "$rul") | $(num "$(awk -v a="$ing" -v b="$rul" 'BEGIN {print 1 / (1/a + 1/b)}')") | $(num "$rawe") | $(num "$e") | $(ratio "$e" "$rawe") | $rep s | $fil s |"
  done
}
{
  echo "# Benchmark results"
  echo
  echo "Command: \`${overrides}make bench\` (\`bench/run.sh\`), $(date -u '+%Y-%m-%d %H:%M UTC'), commit ${commit}, $((took / 60)) min $((took % 60)) s."
  echo
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3); load average ${load_start} at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
  echo "Everything runs on it at once: PostgreSQL (a private test cluster), the JetStream server"
  echo "(embedded in the benchmark process, file store), the services and the load generators."
  echo "Each limit is measured in the same run as the measure it bounds; a ratio is the measure"
  echo "over its limit (throughput) or over its target (times)."
  echo
  echo "$table"
  echo
  if ! skipped e2e; then
    echo "$ecpu"
    echo
    echo "Throughput over time of the end-to-end run (samples in [throughput.csv](throughput.csv)):"
    echo
    echo "![throughput over time of the end-to-end run](throughput.png)"
    echo
  fi
  if [[ -s "$history" ]]; then
    echo "## Every full run, on every machine ([history.tsv](history.tsv))"
    echo
    echo "The machines differ (raw publish is the measure of one), so compare ratios across"
    echo "machines, rates only on one. + after a commit: run with uncommitted changes."
    echo
    runs
    echo
  fi
  cat "$details"
} >bench/results.md
echo
echo "$table"
echo
echo "wrote bench/results.md, bench/throughput.csv and bench/throughput.png in $((took / 60)) min $((took % 60)) s"
