#!/bin/sh
# Demo workload for the VEXxy reachability demo image.
#
# It really uses tar, gzip, grep and coreutils (cat, sha256sum, wc, head, sleep) through dash
# and glibc, and deliberately never touches apt, login/passwd, gpgv, libsystemd0, perl-base or
# util-linux, so the expected verdicts in ../expected-verdicts.json follow from what runs here.
#
# Everything is absolute and streamed through pipes: the sandbox's root is read-only, and
# absolute paths keep the trace free of relative opens.
set -eu

echo "demo: archiving /app/data"
archive_sum=$(tar --numeric-owner -cf - /app/data 2>/dev/null | gzip -9 -c | sha256sum)
echo "demo: archive sha256 ${archive_sum%% *}"

echo "demo: listing the archive back"
members=$(tar --numeric-owner -cf - /app/data 2>/dev/null | gzip -c | gzip -dc | tar -tf - | wc -l)
echo "demo: ${members} archive members"

echo "demo: searching the inputs"
hits=$(cat /app/data/demo-input-1.txt /app/data/demo-input-2.txt | grep -c -E 'vex(xy)?' || true)
echo "demo: ${hits} matching lines"
head -n 1 /app/data/demo-input-1.txt

# Stay up briefly so a long-running-service style run (TIMEOUT_RUNNING) can also be exercised.
sleep "${DEMO_SLEEP_SECONDS:-1}"
echo "demo: done"
