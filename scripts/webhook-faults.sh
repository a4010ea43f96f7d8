#!/usr/bin/env bash
# The Scalable Webhook under load with a SIGKILL of `plugboard dev` mid-stream, without and with
# 10% of deliveries failing on purpose (`plugboard dev --inject-failures`), at a size the test
# command does not run (EVENTS, default 5000): prints acknowledged, stored, counted,
# dead-lettered and duplicates, and fails if an acknowledged event was lost or counted twice.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/build-guests.sh >/dev/null
EVENTS=${EVENTS:-5000} cargo test --release --locked -p plugboard --test dev_queues \
    webhook_load:: -- --nocapture --test-threads 1 2>&1 | grep -E '^webhook |test result|panicked'
