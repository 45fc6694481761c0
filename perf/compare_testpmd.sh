#!/usr/bin/env bash
# Compares enidp-perf with dpdk-testpmd on the same pcap, same machine, same EAL setup:
#   1. testpmd --forward-mode=io      (receive + transmit untouched: the PMD/mbuf floor)
#   2. testpmd --forward-mode=5tswap  (also reads and rewrites L2-L4 headers)
#   3. enidp-perf with the given scenario (the real pipeline)
# and prints each one's forwarded Mpps (median of the steady seconds) and enidp's ratio to
# each testpmd mode. Port 0 replays the pcap (net_pcap, infinite_rx), port 1 is a net_null
# sink; the figure is what leaves port 1.
#
# Usage: perf/compare_testpmd.sh --pcap FILE [--scenario FILE] [--duration S] [--json FILE]
#                                [--skip-enidp] [--keep-logs DIR]
# Env:   ENIDP_PERF (default <repo>/build/perf/enidp-perf), TESTPMD (default dpdk-testpmd),
#        LCORES (default 0,1: main lcore + one forwarding/worker lcore).
set -euo pipefail

usage() {  # $1 = exit status
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit "$1"
}
die() {
    echo "compare_testpmd: $*" >&2
    exit 2
}

PCAP="" SCENARIO="" DURATION=10 JSON_OUT="" SKIP_ENIDP=0 KEEP_LOGS=""
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENIDP_PERF="${ENIDP_PERF:-$REPO/build/perf/enidp-perf}"
TESTPMD="${TESTPMD:-dpdk-testpmd}"
LCORES="${LCORES:-0,1}"
while [ $# -gt 0 ]; do
    case "$1" in
        --pcap) PCAP="${2:?--pcap needs a file}"; shift 2 ;;
        --scenario) SCENARIO="${2:?--scenario needs a file}"; shift 2 ;;
        --duration) DURATION="${2:?--duration needs seconds}"; shift 2 ;;
        --json) JSON_OUT="${2:?--json needs a file}"; shift 2 ;;
        --skip-enidp) SKIP_ENIDP=1; shift ;;
        --keep-logs) KEEP_LOGS="${2:?--keep-logs needs a directory}"; shift 2 ;;
        -h|--help) usage 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

[ -n "$PCAP" ] || die "--pcap FILE is required (make one with: enidp-perf gen --out FILE ...)"
[ -r "$PCAP" ] || die "cannot read pcap '$PCAP'"
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "--duration must be a positive integer, not '$DURATION'"
command -v "$TESTPMD" >/dev/null || die "'$TESTPMD' not found (apt-get install dpdk)"
command -v python3 >/dev/null || die "python3 is needed to read the pcap and write JSON"
PCAP="$(realpath "$PCAP")"

RUN_ENIDP=0
ENIDP_NOTE=""
if [ "$SKIP_ENIDP" = 1 ]; then
    ENIDP_NOTE="skipped (--skip-enidp)"
elif [ ! -x "$ENIDP_PERF" ]; then
    ENIDP_NOTE="enidp-perf not found at '$ENIDP_PERF' (build it, or set ENIDP_PERF)"
elif [ -z "$SCENARIO" ]; then
    die "enidp-perf needs --scenario FILE (or pass --skip-enidp)"
else
    [ -r "$SCENARIO" ] || die "cannot read scenario '$SCENARIO'"
    RUN_ENIDP=1
fi

# net_pcap with infinite_rx copies the whole capture into mbufs at start-up and recycles
# them, so the pool must hold every packet plus the rings and per-lcore caches; testpmd's
# default pool does not fit in --no-huge memory, so size both explicitly.
PKTS="$(python3 - "$PCAP" <<'EOF'
import struct, sys
with open(sys.argv[1], "rb") as f:
    hdr = f.read(24)
    if len(hdr) < 24:
        sys.exit("not a pcap file (too short)")
    magic = struct.unpack("<I", hdr[:4])[0]
    if magic in (0xa1b2c3d4, 0xa1b23c4d):
        end = "<"
    elif magic in (0xd4c3b2a1, 0x4d3cb2a1):
        end = ">"
    else:
        sys.exit("not a classic pcap file (pcapng is not supported by net_pcap)")
    n = 0
    while True:
        rec = f.read(16)
        if len(rec) < 16:
            break
        caplen = struct.unpack(end + "I", rec[8:12])[0]
        f.seek(caplen, 1)
        n += 1
print(n)
EOF
)" || die "cannot read '$PCAP' as a pcap"
[ "$PKTS" -gt 0 ] || die "'$PCAP' holds no packets"
MBUFS=$(( PKTS + 8192 > 16384 ? PKTS + 8192 : 16384 ))
# ~2.4 KiB per 2176-byte-data mbuf with headers, plus room for rings and EAL itself.
MEM_MB=$(( MBUFS * 5 / 2 / 1024 + 512 ))
[ "$MEM_MB" -ge 1024 ] || MEM_MB=1024

WORK="$(mktemp -d /tmp/compare_testpmd.XXXXXX)"
PREFIX="enidp-cmp-$$"
CHILD=""
cleanup() {
    if [ -n "$CHILD" ] && kill -0 "$CHILD" 2>/dev/null; then
        kill -INT "$CHILD" 2>/dev/null || true
        sleep 2
        kill -KILL "$CHILD" 2>/dev/null || true
    fi
    if [ -n "$KEEP_LOGS" ]; then
        if mkdir -p "$KEEP_LOGS"; then cp "$WORK"/*.log "$WORK"/*.json "$KEEP_LOGS"/ 2>/dev/null || true; fi
    fi
    rm -rf "$WORK"
    # EAL leaves its runtime directory (sockets, config) behind; remove only ours.
    for base in /var/run/dpdk "${XDG_RUNTIME_DIR:-/nonexistent}/dpdk"; do
        rm -rf "$base/$PREFIX-"* 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

eal_args() {  # $1 = file-prefix suffix
    echo "-l $LCORES --no-huge -m $MEM_MB --no-pci --file-prefix $PREFIX-$1" \
        "--vdev net_pcap0,rx_pcap=$PCAP,infinite_rx=1 --vdev net_null0,no-rx=1"
}

# Port 1's Tx-pps from testpmd's --stats-period blocks, one value per line.
port1_tx_pps() {
    awk '/NIC statistics for port/ { port = $(NF-1) } /Tx-pps:/ && port == "1" { print $2 }' "$1"
}

# Median of the values on stdin after dropping the first $1 (start-up), in Mpps.
steady_median_mpps() {
    python3 -c '
import statistics, sys
v = [float(x) for x in sys.stdin.read().split()][int(sys.argv[1]):]
print("%.3f" % (statistics.median(v) / 1e6) if v else "")' "$1"
}

# testpmd's first stats block is a zero baseline and its second spans start-up, so let it
# print DURATION + 2 blocks, then stop it with SIGINT (it exits cleanly on that; without
# an interactive prompt it would otherwise print stats forever).
# Runs are called directly, not in $(...), so CHILD is visible to the cleanup trap.
run_testpmd() {  # $1 = forward mode; sets RESULT to the median Mpps
    local mode="$1" log="$WORK/testpmd-$1.log" deadline=$(( SECONDS + DURATION + 60 ))
    : >"$log"
    # shellcheck disable=SC2046  # eal_args is deliberately word-split
    "$TESTPMD" $(eal_args "$mode") -- -a --stats-period 1 --forward-mode="$mode" --nb-cores=1 \
        --total-num-mbufs "$MBUFS" --no-mlockall --burst=32 --txd=1024 --rxd=1024 \
        </dev/null >"$log" 2>&1 &
    CHILD=$!
    while kill -0 "$CHILD" 2>/dev/null; do
        [ "$(port1_tx_pps "$log" | wc -l)" -ge $(( DURATION + 2 )) ] && break
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "compare_testpmd: testpmd $mode did not report in time; last lines of its log:" >&2
            tail -20 "$log" >&2
            return 1
        fi
        sleep 0.5
    done
    kill -INT "$CHILD" 2>/dev/null || true
    wait "$CHILD" 2>/dev/null || true
    CHILD=""
    local mpps
    mpps="$(port1_tx_pps "$log" | steady_median_mpps 2)"
    if [ -z "$mpps" ]; then
        echo "compare_testpmd: testpmd $mode gave no steady samples; last lines of its log:" >&2
        tail -20 "$log" >&2
        return 1
    fi
    echo "compare_testpmd:   testpmd $mode Tx-pps samples: $(port1_tx_pps "$log" | tail -n +3 | tr '\n' ' ')"
    RESULT="$mpps"
}

run_enidp() {  # sets RESULT to the summary JSON path
    local out="$WORK/enidp.json" log="$WORK/enidp.log"
    # shellcheck disable=SC2046
    timeout -s INT -k 20 $(( DURATION + 60 )) "$ENIDP_PERF" $(eal_args enidp) -- \
        --scenario "$SCENARIO" --duration "$DURATION" --summary-json "$out" </dev/null >"$log" 2>&1 || {
        echo "compare_testpmd: enidp-perf failed (exit $?); last lines of its log:" >&2
        tail -20 "$log" >&2
        return 1
    }
    [ -s "$out" ] || { echo "compare_testpmd: enidp-perf wrote no summary JSON" >&2; return 1; }
    RESULT="$out"
}

echo "compare_testpmd: $PCAP ($PKTS packets), ${DURATION}s per run, lcores $LCORES, $MBUFS mbufs, ${MEM_MB} MB"
echo "compare_testpmd: running testpmd io ..."
RESULT=""
run_testpmd io || die "testpmd io failed"
IO="$RESULT"
echo "compare_testpmd: running testpmd 5tswap ..."
run_testpmd 5tswap || die "testpmd 5tswap failed"
SWAP="$RESULT"
ENIDP_JSON=""
if [ "$RUN_ENIDP" = 1 ]; then
    echo "compare_testpmd: running enidp-perf ..."
    run_enidp || die "enidp-perf failed"
    ENIDP_JSON="$RESULT"
fi

python3 - "$IO" "$SWAP" "$ENIDP_JSON" "$ENIDP_NOTE" "$PCAP" "$PKTS" "$DURATION" "$SCENARIO" "$JSON_OUT" <<'EOF'
import json, sys
io, swap, enidp_json, note, pcap, pkts, duration, scenario, json_out = sys.argv[1:]
io, swap = float(io), float(swap)
summary = {
    "pcap": pcap, "pcap_packets": int(pkts), "duration_s": int(duration),
    "testpmd_io_mpps": io, "testpmd_5tswap_mpps": swap,
}
rows = [("testpmd io", io, ""), ("testpmd 5tswap", swap, "")]
if enidp_json:
    with open(enidp_json) as f:
        e = json.load(f)
    mpps = float(e["mpps"])
    summary.update({
        "scenario": scenario, "enidp_mpps": mpps,
        "enidp_cycles_per_packet": e.get("cycles_per_packet"),
        "enidp_drops": e.get("drops", {}),
        "ratio_to_io": mpps / io if io else None,
        "ratio_to_5tswap": mpps / swap if swap else None,
    })
    rows.append(("enidp-perf", mpps, "%.2f x io, %.2f x 5tswap" % (
        summary["ratio_to_io"] or 0, summary["ratio_to_5tswap"] or 0)))
else:
    summary["enidp_note"] = note
print()
for name, mpps, extra in rows:
    print("  %-16s %8.3f Mpps  %s" % (name, mpps, extra))
if not enidp_json:
    print("  %-16s %s" % ("enidp-perf", note))
if enidp_json and summary.get("enidp_cycles_per_packet"):
    print("  enidp-perf: %.1f cycles/packet per worker" % summary["enidp_cycles_per_packet"])
if json_out:
    with open(json_out, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print("  summary written to " + json_out)
EOF
