#!/usr/bin/env python3
"""Hugging Face transformers fixtures for the C++ model tests (tests/unit/model/test_hf_fixtures.cpp).

Needs torch and transformers (4.5x or 5.x; Pillow for the PIL image processors). Not available on
the CPU CI machine: run it where they are (the GPU machine's Python; a GPU is not needed) and
commit the output under tests/fixtures/model/hf/ with the README there updated.

The format is shared/hf-reference's (tests/fixtures/model/hf/README.md): per model a directory
with what save_pretrained wrote (config.json, generation_config.json, model.safetensors, and
preprocessor_config.json for the vision-language models) and reference.safetensors:
  input_ids [B, T] int64 (no padding), logits [B, T, V] float32 (full forward, fp32, eager),
  greedy [1, T + N] = generate(input_ids[:1], max_new_tokens=N, min_new_tokens=N, do_sample=False),
  pixel_values / image_grid_thw: what the model was fed (the slow, Pillow processor's output),
  image.<k> uint8 [H, W, 3] odd-sized images, pixel_values.<k> (+ image_grid_thw.<k> or tiles.<k>)
  their slow-processor output, pixel_values_fast.<k> the default (torchvision) processor's.
and versions.json. Recipe (as shared/hf-reference): torch.manual_seed(20261127), eager attention,
fp32, after init every norm weight 1 + 0.2 N(0,1) and every bias 0.2 N(0,1) (InternViT layer
scales 0.5 + 0.2 N(0,1)).

Models (--families, default the two new ones):
  qwen2, qwen2_tied, llava_siglip_qwen2   the shared/hf-reference recipe (bytes differ from the
                                          committed copies unless the draws happen in the same order)
  qwen2_5_vl   Qwen2_5_VLForConditionalGeneration: text vocab 600, hidden 96, MLP 200, 3 layers,
               6/2 heads, M-RoPE [2, 3, 3]; vision depth 3, hidden 32, 2 heads, 14-px patches,
               window 56 px, full attention at block 1; min/max pixels 3136 / 9408
  internvl     InternVLForConditionalGeneration: the same text model (dynamic-NTK rope_scaling as
               InternVL3); InternViT hidden 32, 2 layers, 32-px tiles of 8-px patches, LayerNorm,
               qkv bias; tiling 1..6 tiles + thumbnail, ImageNet mean/std

Also: --check-ril-dir DIR loads a directory that ril saved with this transformers and prints the
missing / unexpected weights (none expected): which transformers versions read ril's layout.

Usage:  python3 tests/tools/make_hf_fixtures.py [--out tests/fixtures/model/hf] [--families ...]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_reference import write_safetensors  # noqa: E402  (the same tiny writer)
from vlm_reference_util import test_image  # noqa: E402  (the same odd-sized test images)

SEED = 20261127
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
V5 = int(transformers.__version__.split(".")[0]) >= 5
TEXT = dict(vocab_size=600, hidden_size=96, intermediate_size=200, num_hidden_layers=3, num_attention_heads=6,
            num_key_value_heads=2, max_position_embeddings=512, rms_norm_eps=1e-6, tie_word_embeddings=False)
IMAGE_SIZES = [(61, 93), (45, 129), (150, 170), (30, 33), (70, 98)]


def randomise(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape))
            elif "norm" in name or "ln_q" in name:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape))
            elif "lambda_" in name:
                p.copy_(0.5 + 0.2 * torch.randn(p.shape))


def build(cls, config):
    model = cls._from_config(config, attn_implementation="eager")
    randomise(model)
    return model.eval().float()


def greedy(model, inputs, n):
    out = model.generate(**inputs, max_new_tokens=n, min_new_tokens=n, do_sample=False)
    return out[:, :].contiguous()


def save_case(out_dir, model, ref, processor=None):
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir)
    if processor is not None:
        processor.save_pretrained(out_dir)
    write_safetensors(os.path.join(out_dir, "reference.safetensors"), ref)
    print(f"{out_dir}: {sorted(ref)}")


# ---- the shared/hf-reference recipe --------------------------------------------------------------

def qwen2_config(tied):
    from transformers import Qwen2Config
    return Qwen2Config(**dict(TEXT, tie_word_embeddings=tied), rope_theta=1e6)


def make_qwen2(out, tied):
    from transformers import Qwen2ForCausalLM
    torch.manual_seed(SEED)
    model = build(Qwen2ForCausalLM, qwen2_config(tied))
    ids = torch.randint(0, 600, (3, 23))
    with torch.no_grad():
        ref = {"input_ids": ids, "logits": model(input_ids=ids).logits.float()}
        if not tied:
            ref["greedy"] = greedy(model, {"input_ids": ids[:1]}, 40)
    save_case(os.path.join(out, "qwen2_tied" if tied else "qwen2"), model, ref)


def make_llava(out):
    from transformers import LlavaConfig, LlavaForConditionalGeneration, SiglipVisionConfig
    torch.manual_seed(SEED)
    vision = SiglipVisionConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
                                image_size=48, patch_size=8)
    cfg = LlavaConfig(vision_config=vision, text_config=qwen2_config(False), image_token_index=599,
                      vision_feature_layer=-2, vision_feature_select_strategy="full", tie_word_embeddings=False)
    model = build(LlavaForConditionalGeneration, cfg)
    ids = torch.cat([torch.randint(0, 599, (5,)), torch.full((36,), 599), torch.randint(0, 599, (9,))])[None]
    pixels = torch.randn(1, 3, 48, 48)
    with torch.no_grad():
        inputs = {"input_ids": ids, "pixel_values": pixels}
        ref = {"input_ids": ids, "pixel_values": pixels, "logits": model(**inputs).logits.float(),
               "greedy": greedy(model, inputs, 24)}
    save_case(os.path.join(out, "llava_siglip_qwen2"), model, ref)


# ---- Qwen2.5-VL and InternVL ---------------------------------------------------------------------

def processor_pair(names, **kwargs):
    """(slow Pillow processor, default processor) of the first class name that exists."""
    slow = fast = None
    for name in names["slow"]:
        if hasattr(transformers, name):
            slow = getattr(transformers, name)(**kwargs)
            break
    for name in names["fast"]:
        if hasattr(transformers, name):
            try:
                fast = getattr(transformers, name)(**kwargs)
                break
            except ImportError:  # torchvision missing
                pass
    return slow, fast or slow


def image_refs(slow, fast, call_kwargs, tiles_key):
    ref, fed = {}, []
    for k, (h, w) in enumerate(IMAGE_SIZES):
        img = test_image(h, w, seed=100 + k)
        a = slow(images=[img], return_tensors="pt", **call_kwargs)
        b = fast(images=[img], return_tensors="pt", **call_kwargs)
        ref[f"image.{k}"] = torch.from_numpy(img.copy())
        ref[f"pixel_values.{k}"] = a["pixel_values"].float()
        ref[f"pixel_values_fast.{k}"] = b["pixel_values"].float()
        if "image_grid_thw" in a:
            ref[f"image_grid_thw.{k}"] = a["image_grid_thw"][0].long()
        if tiles_key:
            ref[f"tiles.{k}"] = torch.tensor([a["pixel_values"].shape[0]])
        fed.append(a)
    return ref, fed


def image_prompt(fed, used, tokens_of):
    """input_ids [1, T]: text, then per image <start> N x 599 <end> and text (597 / 596 the markers)."""
    parts = [torch.randint(0, 590, (3,))]
    for k in used:
        parts += [torch.tensor([597]), torch.full((tokens_of(fed[k]),), 599), torch.tensor([596]),
                  torch.randint(0, 590, (2,))]
    return torch.cat(parts)[None]


def make_qwen2_5_vl(out):
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    torch.manual_seed(SEED)
    text = dict(TEXT, rope_theta=1e6, rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]})
    vision = dict(depth=3, hidden_size=32, intermediate_size=48, num_heads=2, in_channels=3, patch_size=14,
                  spatial_merge_size=2, temporal_patch_size=2, window_size=56, out_hidden_size=96,
                  fullatt_block_indexes=[1], hidden_act="silu")
    cfg = Qwen2_5_VLConfig(text_config=text, vision_config=vision, image_token_id=599, video_token_id=598,
                           vision_start_token_id=597, vision_end_token_id=596, tie_word_embeddings=False)
    model = build(Qwen2_5_VLForConditionalGeneration, cfg)
    slow, fast = processor_pair({"slow": ["Qwen2VLImageProcessorPil", "Qwen2VLImageProcessor"],
                                 "fast": ["Qwen2VLImageProcessorFast", "Qwen2VLImageProcessor"]},
                                min_pixels=3136, max_pixels=28 * 28 * 12, patch_size=14, temporal_patch_size=2,
                                merge_size=2)
    ref, fed = image_refs(slow, fast, {}, tiles_key=False)
    used = [0, 1]
    ids = image_prompt(fed, used, lambda f: int(f["image_grid_thw"][0].prod()) // 4)
    inputs = {"input_ids": ids, "pixel_values": torch.cat([fed[k]["pixel_values"] for k in used]),
              "image_grid_thw": torch.cat([fed[k]["image_grid_thw"] for k in used])}
    with torch.no_grad():
        ref.update(inputs)
        ref["logits"] = model(**inputs).logits.float()
        ref["greedy"] = greedy(model, inputs, 24)
    save_case(os.path.join(out, "qwen2_5_vl"), model, ref, slow)
    return {"qwen2_5_vl_processors": [type(slow).__name__, type(fast).__name__]}


def make_internvl(out):
    from transformers import InternVLConfig, InternVLForConditionalGeneration, InternVLVisionConfig, Qwen2Config
    torch.manual_seed(SEED)
    dyn = {"rope_type": "dynamic", "factor": 2.0}
    text = (Qwen2Config(**TEXT, rope_parameters=dict(dyn, rope_theta=1e6)) if V5
            else Qwen2Config(**TEXT, rope_theta=1e6, rope_scaling=dict(dyn, type="dynamic")))
    vision = InternVLVisionConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=48,
                                  image_size=[32, 32], patch_size=[8, 8], attention_bias=True, use_qk_norm=False,
                                  norm_type="layer_norm", layer_norm_eps=1e-6, use_mean_pooling=True)
    cfg = InternVLConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), image_token_id=599,
                         image_seq_length=4, downsample_ratio=0.5, projector_hidden_act="gelu",
                         vision_feature_layer=-1, vision_feature_select_strategy="default",
                         tie_word_embeddings=False)  # the top-level default is True in 5.x: be explicit
    model = build(InternVLForConditionalGeneration, cfg)
    slow, fast = processor_pair({"slow": ["GotOcr2ImageProcessorPil", "GotOcr2ImageProcessor"],
                                 "fast": ["GotOcr2ImageProcessorFast", "GotOcr2ImageProcessor"]},
                                size={"height": 32, "width": 32}, crop_to_patches=True, min_patches=1, max_patches=6,
                                image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    ref, fed = image_refs(slow, fast, {"crop_to_patches": True}, tiles_key=True)
    used = [0, 1]
    ids = image_prompt(fed, used, lambda f: f["pixel_values"].shape[0] * 4)
    inputs = {"input_ids": ids, "pixel_values": torch.cat([fed[k]["pixel_values"] for k in used])}
    with torch.no_grad():
        ref.update(inputs)
        ref["logits"] = model(**inputs).logits.float()
        ref["greedy"] = greedy(model, inputs, 24)
    save_case(os.path.join(out, "internvl"), model, ref, slow)
    return {"internvl_processors": [type(slow).__name__, type(fast).__name__]}


def check_ril_dir(path):
    """Loads a directory ril saved; prints what transformers could not place."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText
    cfg = AutoConfig.from_pretrained(path)
    cls = AutoModelForCausalLM if cfg.model_type == "qwen2" else AutoModelForImageTextToText
    model, info = cls.from_pretrained(path, output_loading_info=True)
    print(f"transformers {transformers.__version__} loaded {path} as {type(model).__name__}: "
          f"missing {info.get('missing_keys')}, unexpected {info.get('unexpected_keys')}, "
          f"mismatched {info.get('mismatched_keys')}")
    return not info.get("missing_keys") and not info.get("unexpected_keys")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "model", "hf"))
    ap.add_argument("--families", nargs="+", default=["qwen2_5_vl", "internvl"],
                    choices=["qwen2", "qwen2_tied", "llava_siglip_qwen2", "qwen2_5_vl", "internvl"])
    ap.add_argument("--check-ril-dir", nargs="*", default=[])
    args = ap.parse_args()
    if args.check_ril_dir:
        sys.exit(0 if all(check_ril_dir(d) for d in args.check_ril_dir) else 1)
    versions = {"transformers": transformers.__version__, "torch": torch.__version__, "seed": SEED}
    for family in args.families:
        if family in ("qwen2", "qwen2_tied"):
            make_qwen2(args.out, tied=family == "qwen2_tied")
        elif family == "llava_siglip_qwen2":
            make_llava(args.out)
        elif family == "qwen2_5_vl":
            versions.update(make_qwen2_5_vl(args.out))
        else:
            versions.update(make_internvl(args.out))
    with open(os.path.join(args.out, "versions_vlm.json" if "qwen2" not in args.families else "versions.json"), "w") as f:
        json.dump(versions, f, indent=1)


if __name__ == "__main__":
    main()
