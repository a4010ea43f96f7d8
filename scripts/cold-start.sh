#!/usr/bin/env bash
# Cold start of the Lambda bootstrap, process start to first response, against cargo-lambda's
# Runtime API emulator: the guest from `.wasm` (compiled), from `.wasm` with this host's compile
# cache warm, and from a pinned `.cwasm` (with EMF metrics, and with them off). Prints the median of RUNS (default 7) per variant.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/build-guests.sh >/dev/null
scripts/test-env.sh >/dev/null
# The test command's own build, so nothing is recompiled after it (the release profile with
# default features: figures for this host, not the size-optimised `dist` build that ships).
cargo test --release --locked --workspace --no-run >/dev/null 2>&1 || cargo test --release --locked --workspace --no-run
target=${CARGO_TARGET_DIR:-$root/target}
exec .venv/bin/python3 - "$target/release/plugboard" "${RUNS:-7}" <<'PY'
import hashlib, os, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.request

binary, runs = sys.argv[1], int(sys.argv[2])
guest = "guests/dist/chaos.wasm"
work = tempfile.mkdtemp()
cwasm = os.path.join(work, "chaos.cwasm")
subprocess.run([binary, "precompile", guest, "-o", cwasm], check=True, capture_output=True)
pin = hashlib.sha256(open(cwasm, "rb").read()).hexdigest()

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

port = free_port()
emulator = subprocess.Popen([".venv/bin/cargo-lambda", "lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            break
        except OSError:
            time.sleep(0.05)

    def first_response(env):
        base = {"PATH": os.environ["PATH"], "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{port}/.rt",
                "AWS_LAMBDA_FUNCTION_NAME": "_", "AWS_LAMBDA_FUNCTION_VERSION": "1", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
                "AWS_REGION": "us-east-1", "PLUGBOARD_ROLE": "internal-api"}
        start = time.perf_counter()
        proc = subprocess.Popen([binary], env={**base, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/2015-03-31/functions/_/invocations",
                                             data=b'{"ops":[]}', method="POST")
            urllib.request.urlopen(request, timeout=30).read()
            return (time.perf_counter() - start) * 1000
        finally:
            proc.kill()
            proc.wait()

    variants = {}
    for name in [".wasm, compiled", ".wasm, cache warm", ".cwasm, pinned", ".cwasm, metrics off"]:
        variants[name] = []
    for _ in range(runs):
        tmp = tempfile.mkdtemp(dir=work)
        variants[".wasm, compiled"].append(first_response({"PLUGBOARD_GUEST": guest, "TMPDIR": tmp}))
        variants[".wasm, cache warm"].append(first_response({"PLUGBOARD_GUEST": guest, "TMPDIR": tmp}))
        pinned = {"PLUGBOARD_GUEST": cwasm, "PLUGBOARD_GUEST_SHA256": pin, "TMPDIR": tmp}
        variants[".cwasm, pinned"].append(first_response(pinned))
        variants[".cwasm, metrics off"].append(first_response({**pinned, "PLUGBOARD_METRICS": "off"}))
    print(f"\ncold start, process start to first response (chaos guest, median of {runs})")
    for name, times in variants.items():
        print(f"  {name:<20} {statistics.median(times):7.1f} ms")
finally:
    emulator.kill()
    shutil.rmtree(work)
PY
