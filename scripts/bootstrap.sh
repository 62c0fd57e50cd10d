#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian/Ubuntu machine: system packages that are
# missing, npm dependencies when the lock file changed, and the TypeScript build
# when a source is newer than dist/. Quick when everything is already there.
#   bash scripts/bootstrap.sh          what running tcpmitm needs
#   bash scripts/bootstrap.sh --test   plus what the test suite and bench use
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

say() { printf 'bootstrap: %s\n' "$*" >&2; }

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if (( major < 20 )); then
  say "Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))."
  exit 1
fi

# Runtime: libpcap for capture/injection, ethtool for offloads, iproute2 for
# namespaces, iptables for intercept mode's NFQUEUE rules (the xtables NFQUEUE
# target: some kernels lack nftables' own queue expression); g++/make/python3
# build the native addons (cap, raw-socket, tcpmitm's own).
pkgs=(libpcap-dev ethtool iproute2 iptables g++ make python3 procps)
# Tests: tcpdump/tshark read frames back, iperf3, tmux, curl, socat and nc
# drive the lab and UI; junitparser reads --junit files as a CI system would;
# headless chromium renders `tcpmitm ladder`'s SVG/HTML to PNG (test/lab/ladder.test.ts).
# zsh runs `tcpmitm completion zsh` (test/unit/cli/completion.test.ts).
(( want_test )) && pkgs+=(tcpdump tshark iperf3 tmux curl socat netcat-openbsd python3-junitparser chromium zsh)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if (( ${#missing[@]} )); then
  if [[ $(id -u) -ne 0 ]]; then
    say "missing system packages: ${missing[*]}"
    say "run: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci only when node_modules is missing or older than the lock file.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# tcpmitm's packet addon (native/afpacket): npm ci builds it; rebuild it when its C source changed since.
addon=native/afpacket/build/Release/afpacket.node
if [[ ! -f $addon ]] || [[ -n $(find native/afpacket -maxdepth 1 \( -name '*.c' -o -name '*.h' -o -name '*.gyp' \) -newer "$addon" -print -quit) ]]; then
  say "building the packet addon (node-gyp)"
  npm rebuild tcpmitm-afpacket --loglevel=error >/dev/null
fi

# Build only when a source or the config is newer than the last build.
stamp=dist/.build-stamp
if [[ ! -f $stamp ]] || [[ -n $(find src types tsconfig.json package.json -newer "$stamp" -print -quit 2>/dev/null) ]]; then
  say "building (tsc)"
  # Build beside dist/ and swap, so a run using dist/ never sees it half-built
  # and files of deleted sources do not linger.
  rm -rf dist.next
  node_modules/.bin/tsc -p tsconfig.json --outDir dist.next
  touch dist.next/.build-stamp
  rm -rf dist.old
  [[ -d dist ]] && mv dist dist.old
  mv dist.next dist
  rm -rf dist.old
fi
