#!/usr/bin/env python3
"""Compare Migru's ONNX Runtime engine with onnxruntime-genai on the same model.

Checks, for several chat prompts, that greedy decoding gives the same tokens (without and with a
LoRA adapter) and measures time to first token and per-token decode time for both, with the same
intra-op thread count, in one run. Migru's numbers come from `migru generate --json` (medians of
in-process repeats after a warm-up); genai's from the same number of in-process repeats here.

Usage (see README.md):
  compare_genai.py --migru target/release/migru --model DIR --adapter FILE --threads 1 --out results.json
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import onnxruntime_genai as og

PROMPTS = [
    "Hi Migru, my head hurts a bit after school.",
    "I played football and now I feel tired.",
    "I'm worried about my test tomorrow.",
    "The headache is gone now, the nap helped!",
    "What should we do this evening?",
]


def with_threads(model_dir, threads, work):
    """A copy of the model folder whose genai_config.json fixes the intra-op thread count."""
    dst = os.path.join(work, "model")
    shutil.copytree(model_dir, dst)
    path = os.path.join(dst, "genai_config.json")
    with open(path) as f:
        config = json.load(f)
    config["model"]["decoder"]["session_options"]["intra_op_num_threads"] = threads
    with open(path, "w") as f:
        json.dump(config, f, indent=2)
    return dst


def migru_generate(binary, model, prompt, max_new, adapter, repeat, warmup, threads):
    cmd = [binary, "--json", "generate", "--model", model, "--prompt", prompt, "--chat",
           "--max-new-tokens", str(max_new), "--repeat", str(repeat), "--warmup", str(warmup),
           "--threads", str(threads)]
    if adapter:
        cmd += ["--adapter", adapter]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def genai_generate(model, adapters, prompt_ids, max_new, adapter_name, repeat, warmup):
    tokens, first, per = None, [], []
    for run in range(warmup + repeat):
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=len(prompt_ids) + max_new, do_sample=False)
        start = time.perf_counter()
        gen = og.Generator(model, params)
        if adapter_name:
            gen.set_active_adapter(adapters, adapter_name)
        gen.append_tokens(prompt_ids)
        out, t_first = [], None
        while not gen.is_done():
            gen.generate_next_token()
            out.append(int(gen.get_next_tokens()[0]))
            if t_first is None:
                t_first = time.perf_counter()
        end = time.perf_counter()
        # genai appends the EOS token it stopped on; Migru does not emit it.
        if out and out[-1] in EOS:
            out = out[:-1]
        if run >= warmup:
            first.append((t_first - start) * 1000.0)
            per.append((end - t_first) * 1000.0 / max(len(out) - 1, 1))
        tokens = out
    return tokens, statistics.median(first), statistics.median(per)


EOS = set()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--migru", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--adapter")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--out")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="migru-genai-")
    model_dir = with_threads(args.model, args.threads, work)
    with open(os.path.join(model_dir, "genai_config.json")) as f:
        eos = json.load(f)["model"]["eos_token_id"]
    EOS.update(eos if isinstance(eos, list) else [eos])
    config = og.Config(model_dir)
    config.clear_providers()
    model = og.Model(config)
    adapters = None
    if args.adapter:
        adapters = og.Adapters(model)
        adapters.load(args.adapter, "child")

    rows = []
    for adapter in [None, args.adapter] if args.adapter else [None]:
        for prompt in PROMPTS:
            m = migru_generate(args.migru, model_dir, prompt, args.max_new_tokens, adapter,
                               args.repeat, args.warmup, args.threads)
            g_tokens, g_first, g_per = genai_generate(model, adapters, m["prompt_ids"], args.max_new_tokens,
                                                      "child" if adapter else None, args.repeat, args.warmup)
            rows.append({
                "prompt": prompt,
                "adapter": bool(adapter),
                "prompt_tokens": len(m["prompt_ids"]),
                "generated_tokens": len(m["tokens"]),
                "tokens_equal": m["tokens"] == g_tokens,
                "first_difference": next((i for i, (a, b) in enumerate(zip(m["tokens"], g_tokens)) if a != b),
                                         None if len(m["tokens"]) == len(g_tokens) else min(len(m["tokens"]), len(g_tokens))),
                "migru_ms_first_token": m["ms_first_token"],
                "genai_ms_first_token": g_first,
                "migru_ms_per_token": m["ms_per_token"],
                "genai_ms_per_token": g_per,
            })
            r = rows[-1]
            print(f"{'adapter' if adapter else 'base   '} equal={r['tokens_equal']} n={r['generated_tokens']:3d} "
                  f"ttft {r['migru_ms_first_token']:.3f}/{r['genai_ms_first_token']:.3f} ms  "
                  f"per-token {r['migru_ms_per_token']:.3f}/{r['genai_ms_per_token']:.3f} ms  ({prompt[:30]})",
                  file=sys.stderr)

    def ratio(key):
        return statistics.median(r[f"migru_{key}"] / r[f"genai_{key}"] for r in rows)

    summary = {
        "onnxruntime_genai": og.__version__,
        "threads": args.threads,
        "repeat": args.repeat,
        "warmup": args.warmup,
        "max_new_tokens": args.max_new_tokens,
        "cases": len(rows),
        "all_tokens_equal": all(r["tokens_equal"] for r in rows),
        "ratio_ms_first_token_median": ratio("ms_first_token"),
        "ratio_ms_per_token_median": ratio("ms_per_token"),
        "genai_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "migru_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "rows": rows,
    }
    text = json.dumps(summary, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)
    shutil.rmtree(work, ignore_errors=True)
    return 0 if summary["all_tokens_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
