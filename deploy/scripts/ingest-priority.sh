#!/usr/bin/env bash
# Run a command (the ingestion worker) at the lowest CPU priority, so it
# takes only the CPU time the local engine and the API leave idle.
#
# llama.cpp's threads wait on each other at every step: a core taken by an
# equal-priority process slows every chat stream several times over
# (bench/REPORT.md "Engine beside ingestion"). `nice` alone is not enough
# where the kernel groups processes by session (autogroup: nice then only
# orders processes of one session), so the command gets a session of its
# own whose group is niced too, plus nice 19 and SCHED_IDLE inside it.
# INGEST_PRIORITY=normal runs the command unchanged.
set -euo pipefail
if [ "${INGEST_PRIORITY:-idle}" = "normal" ]; then exec "$@"; fi
# A session of our own (unless we lead one already: setsid would fork then).
if [ "${_GAJI_LOW_PRIORITY:-}" != 1 ] && command -v setsid >/dev/null 2>&1 \
  && [ "$(ps -o sid= -p $$ | tr -d ' ')" != "$$" ]; then
  _GAJI_LOW_PRIORITY=1 exec setsid "$0" "$@"
fi
# Our own session's group: raising its nice needs no privilege.
[ -w /proc/self/autogroup ] && echo 19 > /proc/self/autogroup 2>/dev/null || true
if command -v chrt >/dev/null 2>&1 && chrt --idle 0 true 2>/dev/null; then
  exec nice -n 19 chrt --idle 0 "$@"
fi
exec nice -n 19 "$@"
