#!/usr/bin/env bash
# The Scalable Webhook under load with a SIGKILL of `plugboard dev` mid-stream, at a size the
# test command does not run (EVENTS, default 5000): prints acknowledged, stored, counted and
# duplicates, and fails if an acknowledged event was lost or an event counted twice.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/build-guests.sh >/dev/null
EVENTS=${EVENTS:-5000} cargo test --release --locked -p plugboard --test dev_queues \
    acknowledged_webhooks_survive_a_sigkill -- --nocapture 2>&1 | grep -E 'webhook under SIGKILL|test result|panicked'
