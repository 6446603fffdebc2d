#!/usr/bin/env bash
# Installs berth's runtime dependencies on Debian 12 and builds it. Run as root from the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  runc crun conmon containernetworking-plugins iptables iproute2 busybox-static debootstrap zstd ca-certificates >/dev/null
npm ci --no-audit --no-fund
npm run build
