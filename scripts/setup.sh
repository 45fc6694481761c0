#!/usr/bin/env bash
# Installs every Debian 12 package enidp needs to build, test and run its demo.
# Idempotent: packages already present are skipped by apt; safe to run again.
set -euo pipefail

PKGS=(
  # build
  build-essential pkg-config meson ninja-build clang-format clang-tidy
  # dataplane
  dpdk dpdk-dev libdpdk-dev libpcap-dev libnuma-dev libbsd-dev libhyperscan-dev
  # control plane
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libyaml-cpp-dev nlohmann-json3-dev libcurl4-openssl-dev libcli11-dev prometheus-cpp-dev libcpp-httplib-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # demo / e2e tools
  iproute2 iputils-ping tcpdump procps python3 python3-yaml openssl
)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: must run as root (installs packages)" >&2
  exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup.sh: all packages present"
