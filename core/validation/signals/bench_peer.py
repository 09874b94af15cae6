"""Times the peer doing the steps of `core/benches/signals.rs` on a day of the same size and shape.

Steps (one core, each timed once after a warm-up on a short slice):
- counts: NumPy/SciPy (no peer library computes counts from raw acceleration): vector magnitude − 1 g,
  2nd-order Butterworth high-pass 0.25 Hz and low-pass 2.5 Hz (`sosfilt`), rectify, dead band,
  60 s sums;
- scoring: pyActigraphy 1.2.2's `_cole_kripke` (mean settings), `_sadeh` and Webster `rescore`;
  episodes: a NumPy run-length grouping (pyActigraphy has no equivalent of our episode step);
- HRV per 5-min window: NeuroKit2 `hrv_time` + `hrv_frequency` (no artefact cleaning: the peer does
  less work than ours here);
- EDA: NeuroKit2 `eda_process` at 4 Hz (cleaning, tonic/phasic split, SCR peaks).

Prints one JSON object: CPU seconds per step (`time.process_time`, BLAS/OpenMP limited to one
thread) and the total. Run by bench_compare.sh.
"""

import json
import os
import sys
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import neurokit2 as nk  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from pyActigraphy.sleep.scoring.utils import rescore  # noqa: E402
from pyActigraphy.sleep.scoring_base import _cole_kripke, _sadeh  # noqa: E402
from scipy import signal  # noqa: E402

warnings.filterwarnings("ignore")
ACC_HZ, EDA_HZ, DAY_S = 32, 4, 86_400
rng = np.random.default_rng(7)


def asleep(t):
    return (t >= 32_400) & (t < 68_400)


def day():
    t = np.arange(DAY_S * ACC_HZ) / ACC_HZ
    walking = ~asleep(t) & ((t // 600).astype(int) % 3 == 0)
    jitter = np.where(asleep(t), 0.005, 0.03)
    x = jitter * rng.uniform(-1, 1, t.size)
    y = jitter * rng.uniform(-1, 1, t.size)
    z = 1 + np.where(walking, 0.3 * np.sin(2 * np.pi * 1.6 * t), 0) + jitter * rng.uniform(-1, 1, t.size)
    te = np.arange(DAY_S * EDA_HZ) / EDA_HZ
    phase = (te % 45) / 45
    scr = np.where(asleep(te), 0, 0.15 * np.minimum(phase * 20, 1) * np.exp(-phase * 8))
    eda = 2 + 0.5 * np.sin(2 * np.pi * te / DAY_S) + scr + 0.002 * rng.uniform(-1, 1, te.size)
    rr, now = [], 0.0
    while now < DAY_S:
        v = (950 if asleep(now) else 700) + 40 * np.sin(2 * np.pi * 0.25 * now) + 15 * rng.uniform(-1, 1)
        rr.append(v)
        now += v / 1000
    return x, y, z, eda, np.array(rr)


def counts(x, y, z):
    vm = np.sqrt(x * x + y * y + z * z) - 1
    hp = signal.butter(2, 0.25, "highpass", fs=ACC_HZ, output="sos")
    lp = signal.butter(2, 2.5, "lowpass", fs=ACC_HZ, output="sos")
    band = np.abs(signal.sosfilt(lp, signal.sosfilt(hp, vm)))
    band[band <= 0.068] = 0
    per = 60 * ACC_HZ
    n = band.size // per
    return band[: n * per].reshape(n, per).sum(axis=1) * (10 / ACC_HZ) / 0.01664


def scoring(c):
    idx = pd.date_range("2026-03-02 12:00", periods=c.size, freq="60s")
    s = pd.Series(c, index=idx)
    ck = _cole_kripke(s / 30, 0.001, np.array([106, 54, 58, 76, 230, 74, 67, 0, 0], np.int32), 1.0)
    ck = ck * rescore(ck.values, sleep_score=1)
    sadeh = _sadeh(s, 7.601, np.array([-0.065, -1.08, -0.056, -0.703]), 0.0)
    v = ck.values.astype(int)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], v, [0]])))
    return len(edges) // 2, int(sadeh.sum())


def hrv_windows(rr):
    t = np.cumsum(rr)
    window = (t // 300_000).astype(int)
    n = 0
    for w in np.unique(window):
        seg = rr[window == w]
        peaks = np.concatenate([[0], np.cumsum(seg)]).round().astype(int)
        nk.hrv_time(peaks, sampling_rate=1000)
        nk.hrv_frequency(peaks, sampling_rate=1000)
        n += 1
    return n


def eda_step(eda):
    signals, info = nk.eda_process(eda, sampling_rate=EDA_HZ)
    return len(info["SCR_Peaks"])


def timed(f, *args):
    """CPU seconds of this process (not wall time: the build machine is shared and busy)."""
    start = time.process_time()
    f(*args)
    return time.process_time() - start


def main():
    x, y, z, eda, rr = day()
    # Warm-up on short slices (imports, JIT caches).
    counts(x[:7680], y[:7680], z[:7680])
    scoring(counts(x[:96000], y[:96000], z[:96000]))
    hrv_windows(rr[:800])
    eda_step(eda[:2400])
    c = counts(x, y, z)
    out = {
        "counts_s": timed(counts, x, y, z),
        "scoring_episodes_s": timed(scoring, c),
        "hrv_5min_s": timed(hrv_windows, rr),
        "eda_s": timed(eda_step, eda),
        "rr_beats": int(rr.size),
        "versions": {"neurokit2": nk.__version__, "numpy": np.__version__, "pandas": pd.__version__},
    }
    out["total_s"] = out["counts_s"] + out["scoring_episodes_s"] + out["hrv_5min_s"] + out["eda_s"]
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
