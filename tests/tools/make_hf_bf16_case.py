#!/usr/bin/env python3
"""A Qwen2-0.5B-size bf16 comparison case (issue 3): HF transformers against the C++ model.

Builds Qwen2ForCausalLM with the Qwen2-0.5B text config and HF's own random init (seeded), keeps
the weights in bf16 (so HF and C++ read identical numbers) and writes to --out:
  config.json + model.safetensors   save_pretrained (bf16)
  reference.safetensors             input_ids.<i>; for the LAST `tail` positions of each prompt:
                                    logits_bf16.<i> (HF forward in bf16 on the GPU) and
                                    logits_fp32.<i> (the same bf16 weights upcast, forward in fp32)
                                    as float32; greedy_fp32.<i>: 16 greedy tokens in fp32
  reference.json                    counts and versions
The C++ side (tests/unit/model/test_reference.cpp, HuggingFaceBf16Qwen2_0_5B, run with
RIL_HF_BF16_DIR=<out>) computes its own bf16 logits and reports |ours_bf16 - hf_fp32| beside
|hf_bf16 - hf_fp32|: bf16's own rounding noise is the yardstick.
Needs a CUDA GPU, torch and transformers.
"""
import argparse
import json
import os
import sys

import torch
import transformers
from transformers import Qwen2Config, Qwen2ForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_reference import write_safetensors  # noqa: E402

PROMPT_LENGTHS = (24, 128, 512)
TAIL = 16
GREEDY = 16


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                      num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                      rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True,
                      use_sliding_window=False, hidden_act="silu")
    model = Qwen2ForCausalLM(cfg).to(torch.bfloat16).cuda().eval()
    os.makedirs(args.out, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    fp32 = Qwen2ForCausalLM(cfg).cuda().eval()
    fp32.load_state_dict({k: v.float() for k, v in model.state_dict().items()})
    gen = torch.Generator().manual_seed(7)
    ref = {}
    with torch.no_grad():
        for i, n in enumerate(PROMPT_LENGTHS):
            ids = torch.randint(0, cfg.vocab_size, (n,), generator=gen)
            ref[f"input_ids.{i}"] = ids
            x = ids[None].cuda()
            ref[f"logits_bf16.{i}"] = model(input_ids=x).logits[0, -TAIL:].float().cpu().contiguous()
            ref[f"logits_fp32.{i}"] = fp32(input_ids=x).logits[0, -TAIL:].float().cpu().contiguous()
            out = fp32.generate(input_ids=x, max_new_tokens=GREEDY, min_new_tokens=GREEDY, do_sample=False,
                                pad_token_id=0)
            ref[f"greedy_fp32.{i}"] = out[0, n:].cpu()
            d = (ref[f"logits_bf16.{i}"] - ref[f"logits_fp32.{i}"]).abs()
            print(f"prompt {i} ({n} tokens): HF bf16 vs HF fp32 max {d.max():.4f} mean {d.mean():.5f}")
    write_safetensors(os.path.join(args.out, "reference.safetensors"), ref)
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump({"format_version": 1, "num_prompts": len(PROMPT_LENGTHS), "tail": TAIL,
                   "greedy_new_tokens": GREEDY, "transformers_version": transformers.__version__,
                   "torch_version": torch.__version__, "generator": "tests/tools/make_hf_bf16_case.py"},
                  f, indent=2)


if __name__ == "__main__":
    main()
