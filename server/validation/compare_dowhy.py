#!/usr/bin/env python3
"""Compare `migru-server causal` with DoWhy 0.14 on the same CSVs, same method.

Validation only, never part of the product. Writes `dowhy_results.json` beside this script and
prints Markdown tables for RESULTS.md. See README.md in this folder for how to rerun.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
import logging  # noqa: E402

logging.disable(logging.WARNING)
from dowhy import CausalModel  # noqa: E402

DOWHY_METHOD = {
    "stratification": "backdoor.propensity_score_stratification",
    "regression": "backdoor.linear_regression",
    "ipw": "backdoor.propensity_score_weighting",
    "aipw": "backdoor.doubly_robust",
}
# DoWhy configured to estimate what our estimator estimates (where its options allow it).
DOWHY_MATCHED = {
    "ipw": {"weighting_scheme": "ips_stabilized_weight", "min_ps_score": 1e-9, "max_ps_score": 1 - 1e-9},
    "aipw": {"min_ps_score": 1e-9, "max_ps_score": 1 - 1e-9},
}


def generate(binary, out, rows, seed, causes, nonlinear=False, binary_outcome=False):
    cmd = [binary, "causal-generate", "--out", out, "--rows", str(rows), "--seed", str(seed),
           "--common-causes", str(causes)]
    if nonlinear:
        cmd.append("--nonlinear")
    if binary_outcome:
        cmd.append("--binary-outcome")
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)["true_ate"]


def ours(binary, csv, method, causes, refute=True):
    cmd = [binary, "causal", "--csv", csv, "--treatment", "t", "--outcome", "y",
           "--common-causes", ",".join(causes), "--method", method, "--json"]
    if not refute:
        cmd.append("--no-refute")
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - start
    return json.loads(out), wall


def model_for(df, causes):
    # A fresh copy for every estimate: DoWhy caches a propensity column in the frame it is given.
    return CausalModel(data=df.copy(), treatment="t", outcome="y", common_causes=list(causes))


def dowhy_estimate(df, causes, method, params=None):
    model = model_for(df, causes)
    estimand = model.identify_effect(proceed_when_unidentifiable=True)
    est = model.estimate_effect(estimand, method_name=DOWHY_METHOD[method], target_units="ate",
                                method_params=params or {})
    return model, estimand, est


def dowhy_refute(model, estimand, est, sims):
    out = []
    for name, kw in [("placebo_treatment_refuter", {"placebo_type": "permute"}),
                     ("random_common_cause", {}),
                     ("data_subset_refuter", {"subset_fraction": 0.8})]:
        ref = model.refute_estimate(estimand, est, method_name=name, num_simulations=sims, random_seed=1, **kw)
        out.append(float(ref.new_effect))
    return out


def accuracy(binary, rows, seeds, tmp):
    records = []
    shapes = [("linear", False, False), ("nonlinear", True, False), ("binary_outcome", False, True)]
    causes = ["w0", "w1"]
    for shape, nonlinear, bin_out in shapes:
        for seed in seeds:
            csv = os.path.join(tmp, f"{shape}_{seed}.csv")
            truth = generate(binary, csv, rows, seed, len(causes), nonlinear, bin_out)
            df = pd.read_csv(csv)
            df["t"] = df["t"].astype(bool)
            for method in DOWHY_METHOD:
                mine, _ = ours(binary, csv, method, causes, refute=False)
                _, _, d = dowhy_estimate(df, causes, method)
                rec = {"dataset": shape, "seed": seed, "method": method, "truth": truth,
                       "ours": mine["estimate"], "ci_low": mine["ci_low"], "ci_high": mine["ci_high"],
                       "dowhy_default": float(d.value)}
                if method in DOWHY_MATCHED:
                    _, _, m = dowhy_estimate(df, causes, method, DOWHY_MATCHED[method])
                    rec["dowhy_matched"] = float(m.value)
                records.append(rec)
                print(json.dumps(rec), file=sys.stderr)
    return records


def timing(binary, tmp, rows, sims):
    causes = [f"w{j}" for j in range(5)]
    csv = os.path.join(tmp, "perf.csv")
    truth = generate(binary, csv, rows, 42, len(causes))
    df = pd.read_csv(csv)
    df["t"] = df["t"].astype(bool)
    out = []
    for method in DOWHY_METHOD:
        mine, wall = ours(binary, csv, method, causes)
        start = time.perf_counter()
        model, estimand, est = dowhy_estimate(df, causes, method)
        refuted = dowhy_refute(model, estimand, est, sims)
        dowhy_s = time.perf_counter() - start
        rec = {"method": method, "rows": rows, "truth": truth, "ours": mine["estimate"],
               "ours_analysis_ms": mine["elapsed_ms"], "ours_cli_wall_s": wall,
               "ours_refutations": [r["new_estimate"] for r in mine["refutations"]],
               "dowhy": float(est.value), "dowhy_refutations": refuted, "dowhy_s": dowhy_s,
               "dowhy_refuter_simulations": sims,
               "ratio_dowhy_over_ours": dowhy_s / (mine["elapsed_ms"] / 1e3)}
        out.append(rec)
        print(json.dumps(rec), file=sys.stderr)
    return out


def pct(a, b):
    return 100.0 * abs(a - b) / max(abs(b), 1e-12)


def markdown(acc, perf):
    lines = ["| dataset | method | seeds | mean truth | mean ours | mean DoWhy default | max abs diff vs DoWhy default (% of DoWhy) | mean DoWhy matched | max diff vs matched (%) |",
             "|---|---|---|---|---|---|---|---|---|"]
    df = pd.DataFrame(acc)
    for (shape, method), g in df.groupby(["dataset", "method"], sort=False):
        matched = g["dowhy_matched"].mean() if "dowhy_matched" in g and g["dowhy_matched"].notna().all() else None
        mdiff = max(pct(a, b) for a, b in zip(g["ours"], g["dowhy_matched"])) if matched is not None else None
        lines.append(
            f"| {shape} | {method} | {len(g)} | {g['truth'].mean():.4f} | {g['ours'].mean():.4f} | "
            f"{g['dowhy_default'].mean():.4f} | {max(pct(a, b) for a, b in zip(g['ours'], g['dowhy_default'])):.2f} | "
            + (f"{matched:.4f} | {mdiff:.3f} |" if matched is not None else "– | – |"))
    lines += ["", "| method | rows | ours: estimate + 3 refutations (ms) | ours: CLI wall incl. CSV (s) | DoWhy: estimate + 3 refuters (s) | ratio DoWhy / ours |",
              "|---|---|---|---|---|---|"]
    for r in perf:
        lines.append(f"| {r['method']} | {r['rows']} | {r['ours_analysis_ms']:.0f} | {r['ours_cli_wall_s']:.2f} | "
                     f"{r['dowhy_s']:.2f} | {r['ratio_dowhy_over_ours']:.0f}× |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", help="path to the migru-server binary (release)")
    ap.add_argument("--time-csv", help="only time DoWhy (estimate + 3 refuters) on this CSV (t, y, w0..w4); "
                    "used by `cargo bench --bench causal` as its peer")
    ap.add_argument("--methods", default="stratification,regression,ipw,aipw")
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--perf-rows", type=int, default=100_000)
    ap.add_argument("--refuter-simulations", type=int, default=1,
                    help="DoWhy simulations per refuter (ours runs one; DoWhy's default is 100)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "dowhy_results.json"))
    args = ap.parse_args()
    if args.time_csv:
        df = pd.read_csv(args.time_csv)
        df["t"] = df["t"].astype(bool)
        causes = [c for c in df.columns if c.startswith("w")]
        for method in args.methods.split(","):
            start = time.perf_counter()
            model, estimand, est = dowhy_estimate(df.copy(), causes, method)
            dowhy_refute(model, estimand, est, args.refuter_simulations)
            print(json.dumps({"method": method, "dowhy_s": time.perf_counter() - start}), flush=True)
        return
    if not args.bin:
        ap.error("--bin is required unless --time-csv is given")
    with tempfile.TemporaryDirectory() as tmp:
        acc = accuracy(args.bin, args.rows, range(args.seeds), tmp)
        perf = timing(args.bin, tmp, args.perf_rows, args.refuter_simulations)
    import dowhy
    result = {"dowhy_version": dowhy.__version__, "numpy_version": np.__version__,
              "rows": args.rows, "accuracy": acc, "performance": perf}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(markdown(acc, perf))


if __name__ == "__main__":
    main()
