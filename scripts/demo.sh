#!/usr/bin/env bash
# Sets everything up and runs the demo: enidp on virtual devices, two ENIs as taps in a
# "vpc" network namespace, a vhost-user pod and a memif pod (each a dpdk-testpmd in
# icmpecho mode); pings each pod from the VPC and prints enidp's counters. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
exec python3 scripts/enidp_topology.py "${BUILD_DIR:-build}"
