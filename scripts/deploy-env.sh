#!/usr/bin/env bash
# Deploy-time tools in their own pinned venv (.venv-deploy; aws-sam-cli pins boto3, so it does not
# share moto's venv): cfn-lint, the SAM CLI and translator for offline template checks, and zig +
# cargo-zigbuild to build `bootstrap` against provided.al2023's glibc 2.34. Prints the venv's bin.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv-deploy"
pins=(aws-sam-cli==1.170.0 aws-sam-translator==1.115.0 cfn-lint==1.58.0 ziglang==0.17.0 cargo-zigbuild==0.24.0)
[ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2
installed=$("$venv/bin/pip" freeze --disable-pip-version-check 2>/dev/null)
for pin in "${pins[@]}"; do
    if ! grep -qix "$pin" <<<"$installed"; then
        "$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}" >&2
        break
    fi
done
echo "$venv/bin"
