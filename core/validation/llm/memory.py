#!/usr/bin/env python3
"""Memory beyond the model's weights during generation: Migru's engine vs onnxruntime-genai.

Each side runs in a fresh process on the same model folder, prompt and thread count:
  rss_start      before the runtime library is loaded (genai: before `import onnxruntime_genai`)
  rss_runtime    after the ONNX Runtime library is loaded
  rss_loaded     after the session (model) is created
  peak_generate  peak RSS while generating (the kernel's high-water mark, reset after loading
                 through /proc/self/clear_refs, so loading's transient peak does not count)
Derived: session_beyond_weights = rss_loaded - rss_runtime - weights;
         generation_growth = peak_generate - rss_loaded.

Usage: memory.py --migru target/release/migru --model DIR [--model DIR ...] --threads 1 --out memory.json
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

PROMPT = "Hi Migru, my head hurts a bit after school."

GENAI_PROBE = r"""
import json, sys
def kib(field):
    for line in open('/proc/self/status'):
        if line.startswith(field):
            return int(line.split()[1])
start = kib('VmRSS:')
import onnxruntime_genai as og
model_dir, ids, max_new = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
config = og.Config(model_dir)
config.clear_providers()
runtime = kib('VmRSS:')
model = og.Model(config)
loaded = kib('VmRSS:')
reset = True
try:
    open('/proc/self/clear_refs', 'w').write('5')
except OSError:
    reset = False
params = og.GeneratorParams(model)
params.set_search_options(max_length=len(ids) + max_new, do_sample=False)
gen = og.Generator(model, params)
gen.append_tokens(ids)
n = 0
while not gen.is_done():
    gen.generate_next_token()
    n += 1
print(json.dumps({"rss_start_kib": start, "rss_after_runtime_kib": runtime, "rss_after_load_kib": loaded,
                  "peak_during_generation_kib": kib('VmHWM:') if reset else None, "tokens": n}))
"""


def with_threads(model_dir, threads, work):
    dst = os.path.join(work, os.path.basename(model_dir.rstrip("/")))
    shutil.copytree(model_dir, dst)
    path = os.path.join(dst, "genai_config.json")
    with open(path) as f:
        config = json.load(f)
    config["model"]["decoder"]["session_options"]["intra_op_num_threads"] = threads
    with open(path, "w") as f:
        json.dump(config, f, indent=2)
    return dst


def derived(m, weights_kib):
    out = dict(m)
    out["session_beyond_weights_kib"] = m["rss_after_load_kib"] - m["rss_after_runtime_kib"] - weights_kib
    out["runtime_library_kib"] = m["rss_after_runtime_kib"] - m["rss_start_kib"]
    if m.get("peak_during_generation_kib") is not None:
        out["generation_growth_kib"] = m["peak_during_generation_kib"] - m["rss_after_load_kib"]
        out["beyond_weights_total_kib"] = m["peak_during_generation_kib"] - m["rss_start_kib"] - weights_kib
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--migru", required=True)
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--out")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="migru-memory-")
    rows = []
    for model in args.model:
        model_dir = with_threads(model, args.threads, work)
        cmd = [args.migru, "--json", "generate", "--model", model_dir, "--prompt", PROMPT, "--chat",
               "--max-new-tokens", str(args.max_new_tokens), "--threads", str(args.threads)]
        m = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        weights = m["memory"]["weights_kib"]
        g = json.loads(subprocess.run([sys.executable, "-c", GENAI_PROBE, model_dir, json.dumps(m["prompt_ids"]),
                                       str(args.max_new_tokens)], check=True, capture_output=True, text=True).stdout)
        rows.append({
            "model": os.path.basename(model.rstrip("/")),
            "weights_kib": weights,
            "migru_tokens": len(m["tokens"]),
            "genai_tokens": g.pop("tokens"),
            "migru": derived(m["memory"], weights),
            "genai": derived(g, weights),
        })
        r = rows[-1]
        print(f"{r['model']}: weights {weights / 1024:.1f} MiB; beyond weights after load "
              f"migru {r['migru']['session_beyond_weights_kib'] / 1024:.1f} / genai {r['genai']['session_beyond_weights_kib'] / 1024:.1f} MiB; "
              f"growth while generating migru {r['migru'].get('generation_growth_kib', 0) / 1024:.1f} / "
              f"genai {r['genai'].get('generation_growth_kib', 0) / 1024:.1f} MiB", file=sys.stderr)
    summary = {"threads": args.threads, "max_new_tokens": args.max_new_tokens, "prompt": PROMPT, "rows": rows}
    text = json.dumps(summary, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
