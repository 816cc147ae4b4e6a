#!/usr/bin/env bash
# The Ray executor on a real cluster (docs/cluster.md): start a head node on 127.0.0.1 with two CPUs, run the tests
# marked ray_cluster against it (a small matrix through Ray with one worker killed mid-run, its records against a
# local run's, the same for a sweep, a resumed run, a raising seed, Ctrl-C), then stop the cluster. Needs the ray extra
# installed.
set -euo pipefail
cd "$(dirname "$0")/.."
# Ray >= 2.5x turns token authentication on for a cluster started where ~/.ray/auth_token exists (a local ray.init()
# writes one) but not for drivers given an address: say it once for the cluster and its drivers alike.
export RAY_AUTH_MODE=disabled
PORT=$(python -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
TMP=$(mktemp -d /tmp/ray-ci.XXXXXX)
stop() {
  ray stop --force >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap stop EXIT
start=$(date +%s)
ray start --head --node-ip-address 127.0.0.1 --port "$PORT" --num-cpus 2 --include-dashboard false \
  --disable-usage-stats --temp-dir "$TMP" >"$TMP/start.log" 2>&1 || { cat "$TMP/start.log"; exit 1; }
INTERPLAY_TEST_RAY_ADDRESS="127.0.0.1:$PORT" python -m pytest -q -m ray_cluster tests/test_executors.py
echo "ray cluster checks: $(($(date +%s) - start)) s"
