#!/usr/bin/python3
"""Python baseline for bench_decode on the CPU: the same Qwen2 model and the same KV-cache greedy
decode loop, written here in plain PyTorch (Debian's python3-torch 1.13, the LibTorch that the C++
build links), on the SAME weights and prompts.

Input: the directory written by `bench_decode --dump DIR`:
  DIR/model/{config.json,model.safetensors}   random weights, HF names
  DIR/decode_case.json                        prompts [maxB, P], per batch size: our tokens
                                              [B, N] and our tokens/s
Checks the generated tokens are IDENTICAL to ours for every batch size, and prints, per batch
size, tokens/s of both and the ratio ours / Python.

Timing follows bench_decode: one warm-up generate of min(N, 4) tokens, then --repeats runs of
generate(N) and of generate(1) (median); e2e tokens/s = B * N / time(N); decode tokens/s =
B / ((time(N) - time(1)) / (N - 1)); tokens per CPU second = B * N / process CPU time of
generate(N) (steadier than wall time when other jobs share the cores; single-threaded runs).

The model math follows the published Qwen2 architecture (RMSNorm in float32, rotary embeddings
with rotate_half, grouped-query attention, SwiGLU MLP, tied lm_head) in the operation order of
HF's eager implementation; the attention of a kv-head group is one matmul over the group's
stacked queries (the HF repeat_kv result without the copy), softmax in float32.

Run:  OMP_NUM_THREADS=1 /usr/bin/python3 bench/python/decode_baseline.py --case DIR --threads 1
"""
import argparse
import json
import math
import os
import platform
import socket
import statistics
import struct
import sys
import time

import numpy as np
import torch

_ST_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "F16": np.float16,
              "BF16": None, "U8": np.uint8, "BOOL": np.bool_}


def read_safetensors(path):
    """name -> CPU tensor (the safetensors package is not installed on Debian 12)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        lo, hi = e["data_offsets"]
        raw = data[lo:hi]
        if e["dtype"] == "BF16":
            t = torch.frombuffer(bytearray(raw), dtype=torch.bfloat16)
        else:
            t = torch.from_numpy(np.frombuffer(raw, dtype=_ST_DTYPES[e["dtype"]]).copy())
        out[name] = t.reshape(e["shape"])
    return out


def load_model(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    files = sorted(x for x in os.listdir(model_dir) if x.endswith(".safetensors"))
    W = {}
    for x in files:
        W.update(read_safetensors(os.path.join(model_dir, x)))
    return cfg, W


class Qwen2:
    """Qwen2ForCausalLM forward over weights W (a dict of HF names), with a KV cache."""

    def __init__(self, cfg, W):
        self.nh = cfg["num_attention_heads"]
        self.nkv = cfg["num_key_value_heads"]
        self.hd = cfg.get("head_dim") or cfg["hidden_size"] // self.nh
        self.eps = cfg["rms_norm_eps"]
        self.theta = cfg.get("rope_theta") or cfg["rope_parameters"]["rope_theta"]
        self.L = cfg["num_hidden_layers"]
        self.embed = W["model.embed_tokens.weight"]
        self.head = self.embed if cfg.get("tie_word_embeddings", True) else W["lm_head.weight"]
        self.norm = W["model.norm.weight"]
        self.layers = []
        for i in range(self.L):
            p = lambda n: W[f"model.layers.{i}.{n}"]
            self.layers.append(dict(
                ln1=p("input_layernorm.weight"), ln2=p("post_attention_layernorm.weight"),
                wq=p("self_attn.q_proj.weight"), bq=p("self_attn.q_proj.bias"),
                wk=p("self_attn.k_proj.weight"), bk=p("self_attn.k_proj.bias"),
                wv=p("self_attn.v_proj.weight"), bv=p("self_attn.v_proj.bias"),
                wo=p("self_attn.o_proj.weight"), wg=p("mlp.gate_proj.weight"),
                wu=p("mlp.up_proj.weight"), wd=p("mlp.down_proj.weight")))
        self.inv_freq = 1.0 / torch.pow(self.theta, torch.arange(0, self.hd, 2, dtype=torch.int64).float() / self.hd)

    def rms_norm(self, x, w):
        dtype = x.dtype
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return w * h.to(dtype)

    @staticmethod
    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    def forward(self, x, attn_mask, cache, past):
        """x [B, T, D] embeddings; attn_mask [B, S] (S = past + T); cache: per layer (K, V)
        buffers [B, Hkv, cap, Dh]. Returns the final-normed hidden state [B, T, D]."""
        b, t, _ = x.shape
        s = past + t
        pos = (attn_mask.cumsum(-1) - 1).clamp_min(0)[:, past:s]
        freqs = pos.float().unsqueeze(-1) * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(x.dtype).unsqueeze(1), emb.sin().to(x.dtype).unsqueeze(1)
        qpos = torch.arange(past, s).view(1, 1, t, 1)
        kpos = torch.arange(0, s).view(1, 1, 1, s)
        mask = (kpos.le(qpos) & attn_mask.bool().view(b, 1, 1, s)) | kpos.eq(qpos)
        rep = self.nh // self.nkv
        mask_g = mask.unsqueeze(2).expand(b, 1, rep, t, s).reshape(b, 1, rep * t, s)
        not_mask = mask_g.logical_not()
        scale = 1.0 / math.sqrt(self.hd)
        F = torch.nn.functional
        for layer, (kbuf, vbuf) in zip(self.layers, cache):
            h = self.rms_norm(x, layer["ln1"])
            q = F.linear(h, layer["wq"], layer["bq"]).view(b, t, self.nh, self.hd).transpose(1, 2)
            k = F.linear(h, layer["wk"], layer["bk"]).view(b, t, self.nkv, self.hd).transpose(1, 2)
            v = F.linear(h, layer["wv"], layer["bv"]).view(b, t, self.nkv, self.hd).transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            kbuf[:, :, past:s] = k
            vbuf[:, :, past:s] = v
            keys, values = kbuf[:, :, :s], vbuf[:, :, :s]
            qg = q.contiguous().reshape(b, self.nkv, rep * t, self.hd)
            scores = torch.matmul(qg, keys.transpose(-2, -1)) * scale
            scores = scores.masked_fill(not_mask, float("-inf"))
            probs = torch.softmax(scores.float(), -1).to(q.dtype)
            attn = torch.matmul(probs, values).reshape(b, self.nh, t, self.hd)
            attn = attn.transpose(1, 2).reshape(b, t, self.nh * self.hd)
            x = x + F.linear(attn, layer["wo"])
            h = self.rms_norm(x, layer["ln2"])
            x = x + F.linear(F.silu(F.linear(h, layer["wg"])) * F.linear(h, layer["wu"]), layer["wd"])
        return self.rms_norm(x, self.norm)

    def generate(self, ids, new_tokens):
        """Greedy decode with a KV cache: ids [B, P] -> tokens [B, N], logprobs [B, N]."""
        b, p = ids.shape
        cap = p + new_tokens
        dtype = self.embed.dtype
        cache = [(torch.zeros(b, self.nkv, cap, self.hd, dtype=dtype), torch.zeros(b, self.nkv, cap, self.hd, dtype=dtype))
                 for _ in range(self.L)]
        mask = torch.ones(b, cap, dtype=torch.int64)
        tokens = torch.zeros(b, new_tokens, dtype=torch.int64)
        logprobs = torch.zeros(b, new_tokens)
        h = self.forward(torch.nn.functional.embedding(ids, self.embed), mask[:, :p], cache, 0)
        logits = torch.matmul(h[:, -1], self.head.t()).float()
        for n in range(new_tokens):
            nxt = logits.argmax(-1)
            tokens[:, n] = nxt
            logprobs[:, n] = logits.gather(1, nxt.unsqueeze(1)).squeeze(1) - logits.logsumexp(-1)
            if n + 1 == new_tokens:
                break
            h = self.forward(torch.nn.functional.embedding(nxt.unsqueeze(1), self.embed), mask[:, :p + n + 1], cache, p + n)
            logits = torch.matmul(h[:, -1], self.head.t()).float()
        return tokens, logprobs


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", required=True, help="directory written by bench_decode --dump")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: the case's)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batches", default="", help="subset of the case's batch sizes (comma-separated)")
    ap.add_argument("--no-inference-mode", action="store_true")
    ap.add_argument("--json", default="decode_baseline.json")
    args = ap.parse_args()

    with open(os.path.join(args.case, "decode_case.json")) as f:
        case = json.load(f)
    threads = args.threads or case["threads"]
    torch.set_num_threads(threads)
    cfg, W = load_model(os.path.join(args.case, "model"))
    if case["dtype"] != "fp32":
        sys.exit(f"decode_baseline: the case ran in {case['dtype']}; the CPU baseline compares fp32 runs")
    model = Qwen2(cfg, W)
    prompts = torch.tensor(case["prompts"], dtype=torch.int64)
    n_new = case["new_tokens"]
    wanted = {int(x) for x in args.batches.split(",") if x} if args.batches else None

    rows, ok = [], True
    ctx = torch.no_grad() if args.no_inference_mode else torch.inference_mode()
    with ctx:
        # CPU microseconds per tiny op through the Python binding (bench_decode measures the same
        # at::add in C++): the per-op fixed cost the language adds or not.
        a, b2 = torch.ones(8), torch.ones(8)
        for _ in range(1000):
            torch.add(a, b2)
        c0 = time.process_time()
        for _ in range(20000):
            torch.add(a, b2)
        small_op_us = (time.process_time() - c0) / 20000 * 1e6
        for run in case["runs"]:
            b = run["batch"]
            if wanted and b not in wanted:
                continue
            ids = prompts[:b]
            model.generate(ids, min(n_new, 4))  # warm-up
            t_full, t_one, c_full, tokens = [], [], [], None
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                model.generate(ids, 1)
                t_one.append(time.perf_counter() - t0)
                t0, c0 = time.perf_counter(), time.process_time()
                tok, _ = model.generate(ids, n_new)
                t_full.append(time.perf_counter() - t0)
                c_full.append(time.process_time() - c0)
                tokens = tok
            ours = torch.tensor(run["tokens"], dtype=torch.int64)
            same = torch.equal(tokens, ours)
            mismatch = None
            if not same:
                ok = False
                diff = (tokens != ours).nonzero()
                r, c = diff[0].tolist()
                mismatch = {"tokens_differing": int(diff.shape[0]), "first": [r, c],
                            "python": int(tokens[r, c]), "ours": int(ours[r, c])}
            full, one = statistics.median(t_full), statistics.median(t_one)
            # A difference of medians: unknown (None) when noise makes it <= 0, as in bench_decode.
            py_e2e = b * n_new / full
            py_cpu = b * n_new / statistics.median(c_full)  # tokens per CPU second, as bench_decode
            py_dec = b / ((full - one) / (n_new - 1)) if full > one else None
            rows.append({"batch": b, "identical": same, "mismatch": mismatch,
                         "python_e2e_tokens_per_s": py_e2e, "python_decode_tokens_per_s": py_dec,
                         "python_e2e_seconds": full, "python_e2e_seconds_all": t_full,
                         "ours_e2e_tokens_per_s": run["e2e_tokens_per_s"],
                         "ours_decode_tokens_per_s": run.get("decode_tokens_per_s"),
                         "ratio_e2e": run["e2e_tokens_per_s"] / py_e2e,
                         "python_e2e_tokens_per_cpu_s": py_cpu,
                         "ours_e2e_tokens_per_cpu_s": run.get("e2e_tokens_per_cpu_s"),
                         "ratio_cpu": run["e2e_tokens_per_cpu_s"] / py_cpu if run.get("e2e_tokens_per_cpu_s") else None,
                         "ratio_decode": (run["decode_tokens_per_s"] / py_dec)
                         if run.get("decode_tokens_per_s") and py_dec else None})

    print(f"decode_baseline: {case['preset']} ({case['layers']} layers), prompt {case['prompt_len']}, "
          f"{n_new} new tokens, greedy, KV cache, fp32, torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"{'no_grad' if args.no_inference_mode else 'inference_mode'}; a tiny op (add of two [8] tensors) costs "
          f"{small_op_us:.2f} CPU us in Python" + (f" ({case['small_op_cpu_us']:.2f} in C++)" if "small_op_cpu_us" in case else ""))
    head = ["batch", "identical", "ours e2e tok/s", "python e2e tok/s", "ratio e2e", "ours tok/cpu-s",
            "python tok/cpu-s", "ratio cpu", "ours decode tok/s", "python decode tok/s", "ratio decode"]
    cells = [[str(r["batch"]), "yes" if r["identical"] else "NO", f"{r['ours_e2e_tokens_per_s']:.0f}",
              f"{r['python_e2e_tokens_per_s']:.0f}", f"{r['ratio_e2e']:.2f}",
              f"{r['ours_e2e_tokens_per_cpu_s']:.0f}" if r["ours_e2e_tokens_per_cpu_s"] else "n/a",
              f"{r['python_e2e_tokens_per_cpu_s']:.0f}",
              f"{r['ratio_cpu']:.2f}" if r["ratio_cpu"] else "n/a",
              f"{r['ours_decode_tokens_per_s']:.0f}" if r["ours_decode_tokens_per_s"] else "n/a",
              f"{r['python_decode_tokens_per_s']:.0f}" if r["python_decode_tokens_per_s"] else "n/a",
              f"{r['ratio_decode']:.2f}" if r["ratio_decode"] else "n/a"] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths)))
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print("  ".join(x.rjust(w) for x, w in zip(c, widths)))
    for r in rows:
        if r["mismatch"]:
            print(f"batch {r['batch']}: tokens differ: {r['mismatch']}")

    out = {"bench": "decode_baseline.py",
           "machine": {"hostname": socket.gethostname(), "cpu_model": cpu_model(), "cores": os.cpu_count()},
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "command": " ".join([sys.executable] + sys.argv),
           "torch_version": torch.__version__, "threads": torch.get_num_threads(),
           "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MALLOC_MMAP_THRESHOLD_",
                                               "MALLOC_TRIM_THRESHOLD_") if k in os.environ},
           "settings": {"case": os.path.abspath(args.case), "preset": case["preset"], "layers": case["layers"],
                        "prompt_len": case["prompt_len"], "new_tokens": n_new, "repeats": args.repeats,
                        "inference_mode": not args.no_inference_mode},
           "small_op_cpu_us": small_op_us, "ours_small_op_cpu_us": case.get("small_op_cpu_us"),
           "all_identical": ok, "results": rows}
    tmp = args.json + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, indent=2)
    os.replace(tmp, args.json)
    print(f"wrote {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
