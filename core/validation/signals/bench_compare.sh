#!/bin/sh
# Runs the signals criterion bench and the Python peer in one go and prints the medians and ratios.
# Usage: core/validation/signals/bench_compare.sh   (PYTHON defaults to /work/venv-signals/bin/python)
set -eu
cd "$(dirname "$0")/../../.."
PYTHON="${PYTHON:-/work/venv-signals/bin/python}"
TARGET="${CARGO_TARGET_DIR:-target}"
cargo bench -p migru-core --bench signals -- --noplot >&2
"$PYTHON" core/validation/signals/bench_peer.py > "$TARGET/signals_peer.json"
"$PYTHON" - "$TARGET" <<'PY'
import json, sys
target = sys.argv[1]
def median_ms(name):
    with open(f"{target}/criterion/signals/{name}/new/estimates.json") as fh:
        return json.load(fh)["median"]["point_estimate"] / 1e6
peer = json.load(open(f"{target}/signals_peer.json"))
wall, cpu = median_ms("day_pipeline"), median_ms("day_pipeline_cpu")
parts = {k: median_ms(f"day_{k}") for k in ["counts", "scoring_and_episodes", "hrv_5min", "eda"]}
print(f"ours, 24 h pipeline: median {wall:.1f} ms wall, {cpu:.1f} ms CPU (target < 150 ms)")
for k, v in parts.items():
    print(f"  {k}: {v:.2f} ms wall")
print(f"peer, same steps: {peer['total_s'] * 1000:.0f} ms CPU "
      f"(counts {peer['counts_s'] * 1000:.0f}, scoring {peer['scoring_episodes_s'] * 1000:.0f}, "
      f"HRV {peer['hrv_5min_s'] * 1000:.0f}, EDA {peer['eda_s'] * 1000:.0f})")
print(f"ratio peer / ours (CPU): {peer['total_s'] * 1000 / cpu:.0f}x")
PY
