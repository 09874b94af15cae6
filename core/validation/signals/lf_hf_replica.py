"""Why our LF/HF differs from NeuroKit2's, step by step, on the committed HRV fixtures.

NeuroKit2 0.2.13 `hrv_frequency` defaults: RR at their beat times interpolated at 100 Hz with
`signal_interpolate(method="quadratic")` (scipy `interp1d(kind="quadratic")`), no detrending;
`signal_psd(method="welch")` with `min_frequency = 2 fs / (N / 2)`, so `nperseg = N / 2` and
`nfft = 2 nperseg`, Hann, 50 % overlap, `detrend=False`, density scaling, the PSD divided by its
maximum (so NeuroKit2's HRV_LF/HRV_HF are not ms²; only the ratio compares); band power =
`np.trapezoid` over the bins in [lo, hi).

Run: /work/venv-signals/bin/python core/validation/signals/lf_hf_replica.py
"""

import json
import os

import numpy as np
import scipy.interpolate
import scipy.signal

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "signals")


def lf_hf(rr, fs, interpolant, detrend, pow2):
    t = np.cumsum(rr) / 1000.0
    x = np.arange(t[0], t[-1] + 1 / fs, 1 / fs)
    if interpolant == "natural-cubic":
        y = scipy.interpolate.CubicSpline(t, rr, bc_type="natural")(x)
    else:
        y = scipy.interpolate.interp1d(t, rr, kind=interpolant, fill_value="extrapolate")(x)
    if detrend:
        y = scipy.signal.detrend(y)
    n = len(y)
    nper = n // 2
    nfft = 2 * nper
    if pow2:
        nfft = 1 << int(np.ceil(np.log2(nfft)))
    f, p = scipy.signal.welch(y, fs=fs, scaling="density", detrend=False, nfft=nfft, nperseg=nper, window="hann")
    keep = f >= 2 * fs / (n / 2)
    f, p = f[keep], p[keep]

    def band(lo, hi):
        w = (f >= lo) & (f < hi)
        return np.trapezoid(p[w], f[w])

    return band(0.04, 0.15) / band(0.15, 0.40)


for name in ["heartpy_data2", "heartpy_data3"]:
    fx = json.load(open(os.path.join(FIX, f"hrv_{name}.json")))
    rr = np.asarray(fx["rr_ms"])
    print(f"{name}: NeuroKit2 LF/HF {fx['neurokit2']['lf_hf']:.4f}")
    print(f"  replica (quadratic, 100 Hz):            {lf_hf(rr, 100, 'quadratic', False, False):.4f}")
    print(f"  ours (natural cubic, 4 Hz, detrend, 2^k): {lf_hf(rr, 4, 'natural-cubic', True, True):.4f}")
