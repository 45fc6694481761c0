#!/usr/bin/env bash
# Compares enidp-perf with dpdk-testpmd on the same pcap, same machine, same EAL setup:
#   1. testpmd --forward-mode=io      (receive + transmit untouched: the PMD/mbuf floor)
#   2. testpmd --forward-mode=5tswap  (also reads and rewrites L2-L4 headers)
#   3. enidp-perf with the given scenario (the real pipeline)
# and prints each one's forwarded Mpps (median of the steady seconds) and enidp's ratio to
# each testpmd mode. Port 0 replays the pcap (net_pcap, infinite_rx), port 1 is a net_null
# sink; the figure is what leaves port 1.
#
# --rounds N repeats 5tswap and enidp-perf N times, alternating which goes first, and reports
# the median of the N per-round ratios: on a shared host whose speed drifts over tens of
# seconds, a ratio of two runs taken back to back is steadier than one of runs minutes apart.
#
# Usage: perf/compare_testpmd.sh --pcap FILE [--scenario FILE] [--duration S] [--json FILE]
#                                [--rounds N] [--skip-enidp] [--keep-logs DIR]
# Env:   ENIDP_PERF (default <repo>/build/perf/enidp-perf), TESTPMD (default dpdk-testpmd),
#        LCORES (default 0,1: main lcore + one forwarding/worker lcore),
#        CHRT_PRIO (unset: normal scheduling; N: every run under SCHED_FIFO priority N, so that
#        other work on a shared machine cannot take the forwarding core; needs root).
set -euo pipefail

if [ -n "${CHRT_PRIO:-}" ] && [ -z "${COMPARE_TESTPMD_RT:-}" ]; then
    [[ "$CHRT_PRIO" =~ ^[1-9][0-9]?$ ]] || { echo "compare_testpmd: CHRT_PRIO must be 1-99, not '$CHRT_PRIO'" >&2; exit 2; }
    COMPARE_TESTPMD_RT=1 exec chrt -f "$CHRT_PRIO" "$0" "$@"
fi

usage() {  # $1 = exit status
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit "$1"
}
die() {
    echo "compare_testpmd: $*" >&2
    exit 2
}

PCAP="" SCENARIO="" DURATION=10 JSON_OUT="" SKIP_ENIDP=0 KEEP_LOGS="" ROUNDS=1
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
        --rounds) ROUNDS="${2:?--rounds needs a count}"; shift 2 ;;
        --skip-enidp) SKIP_ENIDP=1; shift ;;
        --keep-logs) KEEP_LOGS="${2:?--keep-logs needs a directory}"; shift 2 ;;
        -h|--help) usage 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

[ -n "$PCAP" ] || die "--pcap FILE is required (make one with: enidp-perf gen --out FILE ...)"
[ -r "$PCAP" ] || die "cannot read pcap '$PCAP'"
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "--duration must be a positive integer, not '$DURATION'"
[[ "$ROUNDS" =~ ^[1-9][0-9]?$ ]] || die "--rounds must be 1-99, not '$ROUNDS'"
command -v "$TESTPMD" >/dev/null || die "'$TESTPMD' not found (apt-get install dpdk)"
command -v python3 >/dev/null || die "python3 is needed to read the pcap and write JSON"
PCAP="$(realpath "$PCAP")"
# The path goes into a --vdev devargs string, where ',' separates arguments.
[[ "$PCAP" =~ ^[^,[:space:]]+$ ]] || die "the pcap path must not contain ',' or whitespace: '$PCAP'"

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
        if mkdir -p "$KEEP_LOGS"; then cp "$WORK"/*.log "$WORK"/*.samples "$WORK"/*.json "$KEEP_LOGS"/ 2>/dev/null || true; fi
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

# testpmd's first stats block is a zero baseline and its second spans start-up, so let it
# print DURATION + 2 blocks, keep the last DURATION, then stop it with SIGINT (it exits
# cleanly on that; non-interactive with --stats-period it would print stats forever).
# Runs are called directly, not in $(...), so CHILD stays visible to the cleanup trap.
run_testpmd() {  # $1 = forward mode, $2 = round; writes $WORK/testpmd-$1-r$2.samples (pps, one a line)
    local mode="$1" log="$WORK/testpmd-$1-r$2.log" samples="$WORK/testpmd-$1-r$2.samples"
    local deadline=$(( SECONDS + DURATION + 60 ))
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
    port1_tx_pps "$log" | tail -n +3 | head -n "$DURATION" >"$samples"
    if [ ! -s "$samples" ]; then
        echo "compare_testpmd: testpmd $mode printed no steady samples; last lines of its log:" >&2
        tail -20 "$log" >&2
        return 1
    fi
}

run_enidp() {  # $1 = round; writes $WORK/enidp-r$1.json
    local log="$WORK/enidp-r$1.log" json="$WORK/enidp-r$1.json" rc=0
    # shellcheck disable=SC2046
    timeout -s INT -k 20 $(( DURATION + 60 )) "$ENIDP_PERF" $(eal_args enidp) -- \
        --scenario "$SCENARIO" --duration "$DURATION" --summary-json "$json" \
        </dev/null >"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ] || [ ! -s "$json" ]; then
        echo "compare_testpmd: enidp-perf failed (exit $rc, summary JSON $( [ -s "$json" ] && echo written || echo missing)); last lines of its log:" >&2
        tail -20 "$log" >&2
        return 1
    fi
}

echo "compare_testpmd: $PCAP ($PKTS packets), ${DURATION}s per run, lcores $LCORES, $MBUFS mbufs, ${MEM_MB} MB"
echo "compare_testpmd: running testpmd io ..."
run_testpmd io 1 || die "testpmd io failed"
swap_round() {
    echo "compare_testpmd: running testpmd 5tswap$( [ "$ROUNDS" -gt 1 ] && echo " (round $1 of $ROUNDS)") ..."
    run_testpmd 5tswap "$1" || die "testpmd 5tswap failed"
}
enidp_round() {
    [ "$RUN_ENIDP" = 1 ] || return 0
    echo "compare_testpmd: running enidp-perf$( [ "$ROUNDS" -gt 1 ] && echo " (round $1 of $ROUNDS)") ..."
    run_enidp "$1" || die "enidp-perf failed"
}
for round in $(seq 1 "$ROUNDS"); do
    # Odd rounds: testpmd first; even rounds: enidp-perf first (a drift in either direction
    # then favours each side equally often).
    if (( round % 2 == 1 )); then swap_round "$round"; enidp_round "$round"
    else enidp_round "$round"; swap_round "$round"; fi
done

python3 - "$WORK" "$RUN_ENIDP" "$ENIDP_NOTE" "$PCAP" "$PKTS" "$DURATION" "$SCENARIO" "$JSON_OUT" "$ROUNDS" <<'EOF'
import json, statistics, sys
work, run_enidp, note, pcap, pkts, duration, scenario, json_out, rounds = sys.argv[1:]
rounds = int(rounds)

def steady(samples_pps):
    """Median Mpps and the spread (max-min)/median, which flags CPU contention."""
    v = [x / 1e6 for x in samples_pps]
    med = statistics.median(v)
    return med, (max(v) - min(v)) / med if med else 0.0, v

def load_samples(mode, r):
    with open(f"{work}/testpmd-{mode}-r{r}.samples") as f:
        return [float(x) for x in f.read().split()]

summary = {"pcap": pcap, "pcap_packets": int(pkts), "duration_s": int(duration), "rounds": rounds}
rows = []  # (name, median Mpps, spread, note)
med, spread, v = steady(load_samples("io", 1))
summary["testpmd_io_mpps"] = round(med, 3)
summary["testpmd_io_samples_mpps"] = [round(x, 3) for x in v]
rows.append(("testpmd io", med, spread, ""))
# Per round: testpmd 5tswap's median and, when it ran, enidp-perf's.
per_round = []
for r in range(1, rounds + 1):
    med, spread, v = steady(load_samples("5tswap", r))
    entry = {"testpmd_5tswap_mpps": round(med, 3), "testpmd_5tswap_samples_mpps": [round(x, 3) for x in v],
             "spread_5tswap": spread}
    if run_enidp == "1":
        with open(f"{work}/enidp-r{r}.json") as f:
            e = json.load(f)
        mpps = float(e["mpps"])
        # enidp-perf drops its own first two seconds for the median; do the same for the spread.
        samples = e.get("mpps_samples", [])
        samples = samples[2:] if len(samples) > 4 else samples
        entry.update({"enidp_mpps": round(mpps, 3), "enidp_cycles_per_packet": e.get("cycles_per_packet"),
                      "enidp_drops": e.get("drops", {}),
                      "spread_enidp": (max(samples) - min(samples)) / mpps if samples and mpps else 0.0,
                      "ratio_to_5tswap": round(mpps / med, 3) if med else None})
    per_round.append(entry)
swap = statistics.median(x["testpmd_5tswap_mpps"] for x in per_round)
summary["testpmd_5tswap_mpps"] = round(swap, 3)
summary["testpmd_5tswap_samples_mpps"] = per_round[0]["testpmd_5tswap_samples_mpps"]
rows.append(("testpmd 5tswap", swap, max(x["spread_5tswap"] for x in per_round),
             "" if rounds == 1 else "median of %d rounds" % rounds))
if run_enidp == "1":
    mpps = statistics.median(x["enidp_mpps"] for x in per_round)
    io = summary["testpmd_io_mpps"]
    # With rounds, the ratio is the median of the per-round ratios (each round's two runs
    # were taken back to back), not the ratio of the medians.
    ratio = statistics.median(x["ratio_to_5tswap"] or 0 for x in per_round)
    cycles = [x["enidp_cycles_per_packet"] for x in per_round if x["enidp_cycles_per_packet"]]
    summary.update({
        "scenario": scenario,
        "enidp_mpps": round(mpps, 3),
        "enidp_cycles_per_packet": statistics.median(cycles) if cycles else None,
        "enidp_drops": per_round[-1]["enidp_drops"],
        "ratio_to_io": round(mpps / io, 3) if io else None,
        "ratio_to_5tswap": round(ratio, 3),
    })
    rows.append(("enidp-perf", mpps, max(x["spread_enidp"] for x in per_round), "%.2f x io, %.2f x 5tswap%s" % (
        summary["ratio_to_io"] or 0, summary["ratio_to_5tswap"] or 0,
        "" if rounds == 1 else " (median of the round ratios)")))
else:
    summary["enidp_note"] = note
if rounds > 1:
    summary["per_round"] = [{k: v for k, v in x.items() if not k.startswith("spread")} for x in per_round]

print()
print("  %-16s %9s  %s" % ("", "Mpps", "(median of steady seconds)"))
noisy = []
for name, mpps, spread, extra in rows:
    print("  %-16s %9.3f  %s" % (name, mpps, extra))
    if spread > 0.15:
        noisy.append("%s (%.0f%%)" % (name, spread * 100))
if run_enidp == "1":
    cpp = summary.get("enidp_cycles_per_packet")
    if cpp:
        print("  %-16s %9s  %.1f cycles/packet per worker" % ("", "", cpp))
    drops = {k: v for k, v in summary["enidp_drops"].items() if v}
    if drops:
        print("  enidp-perf drops: " + ", ".join(f"{k}={v}" for k, v in sorted(drops.items())))
else:
    print("  %-16s %9s  %s" % ("enidp-perf", "-", note))
if rounds > 1 and run_enidp == "1":
    print("  rounds (5tswap Mpps, enidp Mpps, ratio): " + "; ".join(
        "%.2f %.2f %.2f" % (x["testpmd_5tswap_mpps"], x["enidp_mpps"], x["ratio_to_5tswap"] or 0) for x in per_round))
    rs = [x["ratio_to_5tswap"] or 0 for x in per_round]
    print("  %-16s %9s  round ratios %.2f-%.2f" % ("", "", min(rs), max(rs)))
if noisy:
    print("  warning: per-second samples spread widely for " + ", ".join(noisy) +
          "; is something else using the CPUs? Re-run on an idle machine.")
    summary["noisy"] = noisy
if json_out:
    with open(json_out, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print("  summary written to " + json_out)
EOF
