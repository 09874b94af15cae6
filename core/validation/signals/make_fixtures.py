"""Builds the peer-validation fixtures in core/tests/fixtures/signals/.

- HRV: HeartPy 1.2.7's three example PPG recordings -> HeartPy peak detection -> RR intervals (ms,
  uncorrected) -> NeuroKit2 0.2.13 `hrv_time` and `hrv_frequency` (defaults). Written to
  hrv_<name>.json with the RR series and NeuroKit2's values.
- Actigraphy: pyActigraphy 1.2.2's example .AWD recordings (first 3 or 7 days, 1-min epochs) -> counts
  per 60 s epoch and pyActigraphy's `CK(settings="mean", rescoring=False)` and `Sadeh()` labels.
  Written to actigraphy_<name>.counts.txt (one count a line, the CLI's format) and
  actigraphy_<name>.labels.json ("0"/"1" strings, 1 = sleep).

Rerun: see README.md in this folder. Deterministic: no randomness.
"""

import json
import os
import sys

import heartpy as hp
import neurokit2 as nk
import numpy as np
import pyActigraphy
from pyActigraphy.io.awd import read_raw_awd

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "signals")
AWD_DIR = os.path.join(os.path.dirname(pyActigraphy.__file__), "tests", "data")
# (file, period): two full weeks and three shorter spans keep the fixtures under 200 KB.
AWD_FILES = [("example_01.AWD", "7 days"), ("example_02.AWD", "7 days"), ("example_03.AWD", "3 days"),
             ("example_04.AWD", "3 days"), ("example_05.AWD", "3 days")]


def heartpy_recordings():
    """(name, signal, sample_rate) for HeartPy's bundled recordings."""
    data, _ = hp.load_exampledata(0)
    yield "heartpy_data", data, 100.0
    data, timer = hp.load_exampledata(1)
    yield "heartpy_data2", data, hp.get_samplerate_mstimer(timer)
    data, timer = hp.load_exampledata(2)
    yield "heartpy_data3", data, hp.get_samplerate_datetime(timer, timeformat="%Y-%m-%d %H:%M:%S.%f")


def hrv_fixture(name, signal, sample_rate):
    wd, _ = hp.process(signal, sample_rate)
    peaks = np.asarray(wd["peaklist"], dtype=int)
    rr_ms = np.diff(peaks) / sample_rate * 1000.0
    t = nk.hrv_time(peaks, sampling_rate=sample_rate)
    f = nk.hrv_frequency(peaks, sampling_rate=sample_rate)

    def value(df, key):
        v = float(df[key].iloc[0])
        return v if np.isfinite(v) else None  # JSON has no NaN: "not computed" is null

    fixture = {
        "source": f"HeartPy 1.2.7 example recording {name}, HeartPy peaks, NeuroKit2 {nk.__version__}",
        "sample_rate_hz": float(sample_rate),
        "rr_ms": [float(v) for v in rr_ms],
        "neurokit2": {
            "mean_rr_ms": value(t, "HRV_MeanNN"),
            "sdnn_ms": value(t, "HRV_SDNN"),
            "rmssd_ms": value(t, "HRV_RMSSD"),
            "pnn50_pct": value(t, "HRV_pNN50"),
            "lf_ms2": value(f, "HRV_LF"),
            "hf_ms2": value(f, "HRV_HF"),
            "lf_hf": value(f, "HRV_LFHF"),
        },
    }
    with open(os.path.join(OUT, f"hrv_{name}.json"), "w") as fh:
        json.dump(fixture, fh, indent=1)
    print(f"{name}: {len(rr_ms)} RR, duration {rr_ms.sum() / 1000:.0f} s")


def actigraphy_fixture(fname, period):
    raw = read_raw_awd(os.path.join(AWD_DIR, fname), period=period)
    counts = raw.data.resample("60s").sum()
    if counts.isna().any():
        sys.exit(f"{fname}: NaN counts")
    ck = raw.CK(settings="mean", threshold=1.0, rescoring=False)
    sadeh = raw.Sadeh()
    if len(ck) != len(counts) or len(sadeh) != len(counts):
        sys.exit(f"{fname}: label and count lengths differ")
    name = os.path.splitext(fname)[0]
    with open(os.path.join(OUT, f"actigraphy_{name}.counts.txt"), "w") as fh:
        fh.write("".join(f"{int(c)}\n" for c in counts.values))
    labels = {
        "source": f"pyActigraphy {pyActigraphy.__version__} {fname}, first {period}, 60 s epochs",
        "cole_kripke": "".join(str(int(v)) for v in ck.values),
        "sadeh": "".join(str(int(v)) for v in sadeh.values),
    }
    with open(os.path.join(OUT, f"actigraphy_{name}.labels.json"), "w") as fh:
        json.dump(labels, fh, indent=1)
    print(f"{fname}: {len(counts)} epochs, CK sleep {ck.mean():.1%}, Sadeh sleep {sadeh.mean():.1%}")


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, signal, rate in heartpy_recordings():
        hrv_fixture(name, signal, rate)
    for fname, period in AWD_FILES:
        actigraphy_fixture(fname, period)


if __name__ == "__main__":
    main()
