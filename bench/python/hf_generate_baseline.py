#!/usr/bin/env python3
"""GPU baseline for bench_decode: Hugging Face transformers `generate` (greedy, KV cache) on the
SAME weights and prompts that `bench_decode --device cuda --dump DIR` used, same batch, prompt
length and new tokens. Reports tokens/s of both, the ratio ours / HF (issue 7 target: >= 3 at
batch 64), and whether the generated tokens are identical.

  DIR/model/               config.json + model.safetensors written by our save_pretrained
  DIR/decode_case.json     prompts, and per batch size our tokens and tokens/s

Token identity: in bf16 two correct implementations round differently (fused kernels, op order),
and random-weight models have small top-1/top-2 margins, so bf16 greedy paths may part after a
few tokens; the script reports, per row, how many leading tokens agree. The strict check is
--fp32-case DIR32 (a `bench_decode --dtype fp32` dump of the same seed): HF in float32 with TF32
off must give exactly our float32 tokens.

Timing as bench_decode: one warm-up generate of 4 tokens, then --repeats generate(N), median,
torch.cuda.synchronize() around each; e2e tokens/s = B * N / time (prefill included in both).

Run on the GPU machine (transformers 5.x, torch 2.x):
  python3 bench/python/hf_generate_baseline.py --case OUT/q05_bf16 --batch 64 --fp32-case OUT/q05_fp32
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

import torch


def load_hf(model_dir, dtype, device):
    import transformers
    from transformers import AutoModelForCausalLM
    try:
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    except TypeError:  # transformers 4.x
        model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=dtype)
    model = model.to(device=device, dtype=dtype).eval()  # a 4.x that ignores `dtype=` loads float32
    gc = model.generation_config
    gc.eos_token_id = None  # as ours: no stop token, every row makes exactly N tokens
    gc.bos_token_id = None
    gc.pad_token_id = 0
    gc.do_sample = False
    for k in ("temperature", "top_p", "top_k"):
        if hasattr(gc, k):
            setattr(gc, k, None)
    return model, transformers.__version__


def hf_generate(model, ids, n_new):
    mask = torch.ones_like(ids)
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=n_new,
                         do_sample=False, num_beams=1, use_cache=True, pad_token_id=0)
    return out[:, ids.shape[1]:]


def agreement(hf, ours):
    """Leading tokens equal per row -> (identical rows, mean agreeing prefix, first differing (row, col))."""
    eq = (hf == ours)
    prefix = torch.where(eq.all(1), torch.full((eq.shape[0],), eq.shape[1]), (~eq).int().argmax(1))
    first = None
    if not bool(eq.all()):
        r = int(prefix.argmin())
        first = [r, int(prefix[r])]
    return int(eq.all(1).sum()), float(prefix.float().mean()), first


def run_case(case_dir, batch, dtype, repeats, device, timed=True):
    with open(os.path.join(case_dir, "decode_case.json")) as f:
        case = json.load(f)
    run = next((r for r in case["runs"] if r["batch"] == batch), None)
    if run is None:
        sys.exit(f"{case_dir}: no run with batch {batch} (have {[r['batch'] for r in case['runs']]})")
    model, tf_version = load_hf(os.path.join(case_dir, "model"), dtype, device)
    n_new = case["new_tokens"]
    ids = torch.tensor(case["prompts"][:batch], dtype=torch.int64, device=device)
    with torch.inference_mode():
        hf_generate(model, ids, min(4, n_new))
        torch.cuda.synchronize()
        times, tokens = [], None
        for _ in range(repeats if timed else 1):
            t0 = time.perf_counter()
            tokens = hf_generate(model, ids, n_new)
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    ours = torch.tensor(run["tokens"], dtype=torch.int64)
    hf_tokens = tokens.cpu()
    if hf_tokens.shape != ours.shape:
        sys.exit(f"HF made {tuple(hf_tokens.shape)} tokens, ours {tuple(ours.shape)}")
    rows_same, mean_prefix, first = agreement(hf_tokens, ours)
    sec = statistics.median(times)
    hf_tps = batch * n_new / sec
    del model
    torch.cuda.empty_cache()
    return {"case": os.path.abspath(case_dir), "preset": case["preset"], "dtype": case["dtype"], "batch": batch,
            "prompt_len": case["prompt_len"], "new_tokens": n_new, "transformers": tf_version,
            "identical": rows_same == batch, "rows_identical": rows_same, "mean_agreeing_prefix": mean_prefix,
            "first_difference": first, "hf_seconds": sec, "hf_seconds_all": times, "hf_tokens_per_s": hf_tps,
            "ours_tokens_per_s": run["e2e_tokens_per_s"], "ratio": run["e2e_tokens_per_s"] / hf_tps}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", action="append", required=True, help="bench_decode --dump directory (repeatable)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fp32-case", default="", help="an fp32 dump of the same seed: strict identity check")
    ap.add_argument("--json", default="hf_generate_baseline.json")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("hf_generate_baseline: needs a CUDA GPU")
    device = torch.device("cuda")
    dtypes = {"bf16": torch.bfloat16, "fp32": torch.float32}
    results = []
    for c in args.case:
        with open(os.path.join(c, "decode_case.json")) as f:
            dt = json.load(f)["dtype"]
        results.append(run_case(c, args.batch, dtypes[dt], args.repeats, device))
    strict = None
    if args.fp32_case:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        strict = run_case(args.fp32_case, args.batch, torch.float32, 1, device, timed=True)

    print(f"hf_generate_baseline: batch {args.batch}, greedy, HF transformers {results[0]['transformers']}, "
          f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
    head = ["preset", "dtype", "batch", "new", "ours tok/s", "HF tok/s", "ratio", "rows identical", "mean same prefix"]
    rows = results + ([strict] if strict else [])
    cells = [[r["preset"], r["dtype"], str(r["batch"]), str(r["new_tokens"]), f"{r['ours_tokens_per_s']:.0f}",
              f"{r['hf_tokens_per_s']:.0f}", f"{r['ratio']:.2f}", f"{r['rows_identical']}/{r['batch']}",
              f"{r['mean_agreeing_prefix']:.1f}"] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths)))
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print("  ".join(x.rjust(w) for x, w in zip(c, widths)))
    if strict:
        print(f"strict fp32 check (TF32 off): {'IDENTICAL' if strict['identical'] else 'DIFFERENT'} "
              f"({strict['rows_identical']}/{strict['batch']} rows; first difference {strict['first_difference']})")
    gpu = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                         capture_output=True, text=True).stdout.strip()
    out = {"bench": "hf_generate_baseline.py", "machine": {"hostname": socket.gethostname(), "gpu": gpu,
                                                           "cores": os.cpu_count()},
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "command": " ".join([sys.executable] + sys.argv),
           "torch_version": torch.__version__, "results": results, "strict_fp32": strict}
    with open(args.json + ".tmp", "w") as f:
        json.dump(out, f, indent=2)
    os.replace(args.json + ".tmp", args.json)
    print(f"wrote {args.json}")
    return 0 if (strict is None or strict["identical"]) else 1


if __name__ == "__main__":
    sys.exit(main())
