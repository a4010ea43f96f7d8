#!/usr/bin/env bash
# Fail if BINARY needs a glibc newer than MAX (default 2.34, what provided.al2023 has): such a
# binary dies on Lambda with "GLIBC_2.xx not found". Prints the newest version it needs.
set -euo pipefail
binary=$1
max=${2:-2.34}
versions=$(objdump -T "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV)
newest=$(tail -n1 <<<"$versions")
too_new=$(awk -v max="$max" '{ split($0, v, "."); split(max, m, "."); if (v[1] > m[1] || (v[1] == m[1] && v[2]+0 > m[2]+0)) print }' <<<"$versions")
if [ -n "$too_new" ]; then
    echo "$binary needs glibc $(tr '\n' ' ' <<<"$too_new")- newer than $max" >&2
    exit 1
fi
echo "$binary: newest glibc symbol version ${newest:-none} (<= $max)"
