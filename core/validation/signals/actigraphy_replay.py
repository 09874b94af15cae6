"""A real multi-day actigraphy recording as Migru JSON Lines, for the replayed forecast backtest.

Source: pyActigraphy's bundled example recording `example_03.AWD` (Actiwatch, 60 s epochs of
activity counts, 14.9 days, anonymised: the file's dates are in 1918). The recording has counts
only: no heart rate, RR, EDA or raw acceleration.

Which recording: the one with the least non-wear (runs of zero counts of 12 h or more) among the
package's multi-day examples. example_04 (21.7 days) was tried first and has 98 h, 24 h and 15 h
off the wrist in its first 16 days (only 8 nights were worn); example_01/02 have 16.5 h, example_05
two 12 h runs starting in the evening; example_03 has one 12.4 h daytime run. It is used whole.

Migru's import format has no "counts" record, only raw `accel` (hz, x, y, z in g), so each epoch
becomes one `accel` record carrying a short burst whose count under Migru's own count method
(`core/src/signals/activity.rs`, replicated below) equals the recorded count: n samples at 8 Hz of
z = 1 g + A·sin(2π·1 Hz·t) with A found by bisection, n the smallest of 4, 8, 16, … that keeps
A ≤ 7 g, inside a ±8 g sensor range (zero counts: one sample at rest). The
burst is a carrier for the count, not a reconstruction of the wrist's movement. Each record starts
a new filter run (the aggregator restarts the filter after a break of more than 1 s), as here.

Dates are shifted by a whole number of weeks into 2026 (weekdays are kept as the file has them;
since the dates are anonymised, the true weekdays are unknown) and written with offset +00:00
(clock times as recorded). At most DAYS days are kept, to stay near 2 MB.

    /work/venv-signals/bin/python core/validation/signals/actigraphy_replay.py

writes core/tests/fixtures/forecast/actigraphy_example_03.jsonl and prints the count error.

    /work/venv-signals/bin/python core/validation/signals/actigraphy_replay.py --all /tmp/awd

writes every bundled example (example_01 to 05, whole) to /tmp/awd for the ignored test
`every_bundled_recording_replayed` in core/tests/forecast_replay.rs (not committed: ~12 MB).
"""

import math
import os
import sys
from datetime import timedelta

import numpy as np
import pyActigraphy

DAYS = 15
HZ = 8.0
N = 4
DEAD_BAND_G = 0.068
COUNT_STEP_G = 0.01664
SCALE = 10.0 / HZ / COUNT_STEP_G
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "forecast", "actigraphy_example_03.jsonl")


def biquad(fc, high):
    """RBJ second-order Butterworth, as `Biquad::butterworth`: (b, a1, a2)."""
    w0 = 2 * math.pi * fc / HZ
    sin, cos = math.sin(w0), math.cos(w0)
    alpha = sin / (2 * math.sqrt(0.5))
    a0 = 1 + alpha
    b = [(1 + cos) / 2, -(1 + cos), (1 + cos) / 2] if high else [(1 - cos) / 2, 1 - cos, (1 - cos) / 2]
    return [v / a0 for v in b], -2 * cos / a0, (1 - alpha) / a0


HIGH, LOW = biquad(0.25, True), biquad(2.5, False)


def run(section, xs):
    (b0, b1, b2), a1, a2 = section
    s0 = s1 = 0.0
    out = []
    for v in xs:
        y = b0 * v + s0
        s0 = b1 * v - a1 * y + s1
        s1 = b2 * v - a2 * y
        out.append(y)
    return out


def count(z):
    vm = [abs(v) - 1.0 for v in z]  # x = y = 0
    band = run(LOW, run(HIGH, vm))
    return sum(abs(v) for v in band if abs(v) > DEAD_BAND_G) * SCALE


MAX_AMPLITUDE_G = 7.0


def burst(amplitude, n):
    return [round(1.0 + amplitude * math.sin(2 * math.pi * k / HZ), 3) for k in range(n)]


def encode(target):
    if target <= 0:
        return [1.0]
    n = N
    while True:
        lo, hi = 0.0, 0.5
        while count(burst(hi, n)) < target:
            hi *= 2
        for _ in range(40):
            mid = (lo + hi) / 2
            if count(burst(mid, n)) < target:
                lo = mid
            else:
                hi = mid
        if hi <= MAX_AMPLITUDE_G:
            return burst(hi, n)
        n *= 2


def fmt(v):
    return ("%.3f" % v).rstrip("0").rstrip(".")


def main():
    data_dir = os.path.join(os.path.dirname(pyActigraphy.__file__), "tests", "data")
    if len(sys.argv) == 3 and sys.argv[1] == "--all":
        os.makedirs(sys.argv[2], exist_ok=True)
        for n in range(1, 6):
            name = "example_%02d" % n
            convert(os.path.join(data_dir, name + ".AWD"), os.path.join(sys.argv[2], name + ".jsonl"), days=None)
    else:
        convert(os.path.join(data_dir, "example_03.AWD"), OUT, days=DAYS)


def convert(path, out_path, days):
    raw = pyActigraphy.io.read_raw_awd(path)
    data = raw.data.astype(float)
    start = data.index[0]
    if days is not None:
        data = data[data.index < start + timedelta(days=days)]
    weeks = (2026 - start.year) * 52 + 8
    shift = timedelta(weeks=weeks)
    errors = []
    lines = []
    for ts, c in data.items():
        z = encode(c)
        errors.append(count(z) - c)
        t = (ts + shift).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        zeros = ",".join("0" for _ in z)
        lines.append('{"ts":"%s","kind":"accel","hz":8,"x":[%s],"y":[%s],"z":[%s]}' % (t, zeros, zeros, ",".join(fmt(v) for v in z)))
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    errors = np.abs(np.array(errors))
    first = (start + shift).strftime("%Y-%m-%d %H:%M %a")
    print(f"{os.path.basename(path)}: {len(lines)} epochs from {first} ({len(lines) / 1440:.2f} days), "
          f"{os.path.getsize(out_path) / 1e6:.2f} MB; count error |encoded - recorded|: "
          f"median {np.median(errors):.3f}, max {errors.max():.3f}, recorded total {data.sum():.0f}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
