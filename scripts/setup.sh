#!/usr/bin/env bash
# Installs everything the mesh, its demo and its tests need on a fresh Debian 12 machine with
# Node 20: the system packages (runc, bpftrace, nats-server, umoci, skopeo, debootstrap, strace,
# busybox-static, util-linux for setpriv), pnpm, and the workspace's npm dependencies.
# Idempotent: a second run installs nothing and takes a second or two. Needs root (runc,
# bpftrace and debootstrap need it anyway).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  say "must run as root: the sandbox (runc), the tracer (bpftrace) and the demo image build (debootstrap) need it"
  exit 1
fi

APT_PACKAGES=(runc bpftrace nats-server umoci skopeo debootstrap strace busybox-static util-linux iproute2 ca-certificates)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    runc bpftrace nats-server umoci skopeo debootstrap strace busybox-static util-linux iproute2 ca-certificates >/dev/null
fi

PNPM_VERSION=10.34.9
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  say "installing pnpm $PNPM_VERSION"
  npm install -g "pnpm@$PNPM_VERSION" --loglevel=error >/dev/null
fi

say "installing npm dependencies (frozen lockfile)"
pnpm install --frozen-lockfile --reporter=silent

# bpftrace reads tracepoints through tracefs, which is not always mounted.
if ! mountpoint -q /sys/kernel/tracing; then
  mount -t tracefs nodev /sys/kernel/tracing || say "warning: could not mount tracefs; tracing will fail closed"
fi
say "ready"
