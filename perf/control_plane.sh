#!/usr/bin/env bash
# Control-plane figures through the real daemon (issue 5): starts enidp on a net_null ENI (its
# one worker polls a port that never stops receiving, so it is busy the whole time and its loop
# gaps are meaningful), runs enidp-control-bench against its gRPC socket, stops it.
#
#   perf/control_plane.sh [--build DIR] [--min-sync-ms N] [--maglev-size N] [--heap-prefault-mb N] [--fill-budget-ms N] [--keep-log FILE] [--no-prefault-wait] [-- BENCH ARGS...]
#   perf/control_plane.sh -- --services 10000 --endpoints 10 --samples 200 --sustain-seconds 5 --clients 2
#
# As root (EAL). Prints the bench's lines and the daemon's last publication log lines.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build"
min_sync=5
maglev=16381
heap=512  # the daemon's default (control.heap_prefault_mb)
budget=100
keep_log=
prefault_wait=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --build) build=$(cd "$2" && pwd); shift 2 ;;
        --min-sync-ms) min_sync=$2; shift 2 ;;
        --maglev-size) maglev=$2; shift 2 ;;
        --heap-prefault-mb) heap=$2; shift 2 ;;
        --fill-budget-ms) budget=$2; shift 2 ;;
        --keep-log) keep_log=$2; shift 2 ;;
        --no-prefault-wait) prefault_wait=0; shift ;;
        --) shift; break ;;
        *) echo "usage: $0 [--build DIR] [--min-sync-ms N] [--maglev-size N] [--heap-prefault-mb N] [--fill-budget-ms N] [--keep-log FILE] [--no-prefault-wait] [-- BENCH ARGS]" >&2; exit 2 ;;
    esac
done
work=$(mktemp -d /tmp/enidp-cp-XXXXXX)
cat > "$work/enidp.yaml" <<YAML
node_name: bench-node
eal:
  lcores: "0,1"
  no_huge: true
  memory_mb: 1024
  file_prefix: enidp-cp-$$
  log_level: "*:error"
workers: 1
mempool: {mbufs: 8191, cache: 0}
idle_backoff: {enabled: false}
gateway_mac: "02:00:00:00:00:01"
api: {socket: $work/enidp.sock}
lb: {maglev_table_size: $maglev, min_sync_period_ms: $min_sync, maglev_fill_budget_ms: $budget}
control: {heap_prefault_mb: $heap}
enis:
  - name: eni-a
    device: "net_null0"
    mac: "02:00:00:00:0a:0a"
    ip: 10.0.0.10/24
    gateway: 10.0.0.1
    gateway_mac: "02:00:00:00:fe:01"
pods:  # traced from (its memif port needs no peer)
  - namespace: bench
    name: client
    eni: eni-a
    mac: "02:00:00:00:00:10"
    port: {kind: memif, socket: $work/client.sock}
YAML
"$build/control/daemon/enidp" --config "$work/enidp.yaml" > "$work/enidp.out" 2> "$work/enidp.log" &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [[ -S "$work/enidp.sock" ]] && break; sleep 0.1; done
[[ -S "$work/enidp.sock" ]] || { cat "$work/enidp.log" >&2; exit 1; }
# The prefault runs in the background after start: let it finish first (--no-prefault-wait:
# the bulk apply races it, as a first list right after a restart would).
if [[ $heap != 0 && $prefault_wait == 1 ]]; then
    for _ in $(seq 600); do grep -q "control heap:" "$work/enidp.log" && break; sleep 0.1; done
    grep "control heap:" "$work/enidp.log" | sed 's/^/  /'
fi
echo "daemon: $build/control/daemon/enidp, lb.maglev_table_size $maglev, lb.min_sync_period_ms $min_sync, control.heap_prefault_mb $heap, lb.maglev_fill_budget_ms $budget, load $(cut -d' ' -f1-3 /proc/loadavg)"
# The client runs on the control lcore's CPU (the daemon's control and gRPC threads are there
# too), so that only the worker runs on the worker's CPU and its loop gaps are the daemon's.
taskset -c 0 "$build/perf/bench/control/enidp-control-bench" --socket "$work/enidp.sock" --from bench/client "$@"
echo "daemon log (last publications):"
[[ -n $keep_log ]] && cp "$work/enidp.log" "$keep_log"
grep "services: table" "$work/enidp.log" | tail -3 | sed 's/^/  /'
