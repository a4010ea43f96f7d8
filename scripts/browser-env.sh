#!/usr/bin/env bash
# What the dashboard's browser test needs: Debian's Chromium (apt, when /usr/bin/chromium is
# missing; needs root or sudo) and playwright-core from tests/browser/package-lock.json (it
# drives that Chromium; it downloads no browser of its own).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if ! [ -x /usr/bin/chromium ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >&2
fi
cd "$root/tests/browser"
# Again whenever the installed playwright-core is not the locked one.
locked=$(node -p 'require("./package-lock.json").packages["node_modules/playwright-core"].version')
installed=$(node -p 'try { require("./node_modules/playwright-core/package.json").version } catch { "" }')
if [ "$installed" != "$locked" ]; then
    npm ci --no-audit --no-fund --silent --ignore-scripts >&2
fi
