#!/usr/bin/python3
"""Independent reference for InternVL3 (transformers-native InternVLForConditionalGeneration), for
tests/unit/model/test_vlm_reference.cpp, written from the published architecture (InternVL
papers; transformers' InternVL modeling and GotOcr2ImageProcessor as public documentation), not
from the C++ code.

Computed here, float64 on float32 weights, one prompt at a time, no cache:
- dynamic tiling of odd-sized images: the (columns, rows) grid closest in aspect ratio among
  1..max_patches tiles (ties: the larger grid while the image covers more than half of it), Pillow
  bicubic resize (vlm_reference_util), row-major tiles, a thumbnail when there is more than one
  tile, ImageNet mean/std;
- InternViT: patch embedding, CLS token, absolute positions, pre-norm layers with layer scale
  (LayerNorm, or RMSNorm with q/k norm and no qkv bias: the InternViT-6B variant), optional final
  LayerNorm; CLS dropped, pixel shuffle 0.5 written as an explicit index formula, the projector
  (LayerNorm, linear, GELU, linear);
- the Qwen2 text decoder with 1-D RoPE; greedy continuation.

Writes two fixtures, tests/fixtures/model/ref_internvl (InternViT-300M style) and
ref_internvl_qknorm (6B style), each: config.json (transformers 4.x style: torch_dtype, top-level
rope_theta in text_config, rope_scaling dynamic as InternVL3's), preprocessor_config.json,
model.safetensors (the -hf layout: language_model.model.*, vision_tower.*, ...),
reference.safetensors, reference.json.

Run with Debian's python3 (torch 1.13):  /usr/bin/python3 tests/tools/internvl_reference.py
"""
import math
import sys

import numpy as np
import torch

from vlm_reference_util import (attend, decoder_hidden, gelu_erf, greedy, inv_freq, layer_norm, normalise, qwen2_shapes,
                                random_weights, resize_bicubic, rms_norm, test_image, write_fixture)

GREEDY_NEW_TOKENS = 12
IMAGE, IMG_START, IMG_END = 250, 251, 252

TEXT = {"model_type": "qwen2", "vocab_size": 256, "hidden_size": 64, "intermediate_size": 96,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512,
        "rms_norm_eps": 1e-6, "hidden_act": "silu", "tie_word_embeddings": False, "rope_theta": 10000.0,
        "rope_scaling": {"type": "dynamic", "rope_type": "dynamic", "factor": 2.0}, "torch_dtype": "float32"}
VISION_300M = {"model_type": "internvl_vision", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
               "attention_bias": True, "use_qk_norm": False, "intermediate_size": 48, "hidden_act": "gelu",
               "norm_type": "layer_norm", "layer_norm_eps": 1e-6, "image_size": [32, 32], "patch_size": [8, 8],
               "num_channels": 3, "use_absolute_position_embeddings": True, "layer_scale_init_value": 0.1,
               "use_mean_pooling": True, "use_mask_token": False}
VISION_6B = dict(VISION_300M, attention_bias=False, use_qk_norm=True, norm_type="rms_norm", use_mean_pooling=False)
PRE = {"image_processor_type": "GotOcr2ImageProcessorFast", "crop_to_patches": True, "min_patches": 1,
       "max_patches": 6, "size": {"height": 32, "width": 32}, "image_mean": [0.485, 0.456, 0.406],
       "image_std": [0.229, 0.224, 0.225], "do_resize": True, "do_rescale": True, "do_normalize": True,
       "rescale_factor": 1 / 255, "resample": 3}
# Odd sizes and aspect ratios; 64x64 is a tie between 1x1 and 2x2 that the area rule breaks.
IMAGE_SIZES = [(45, 77), (90, 40), (33, 35), (64, 64), (23, 101)]


# ----------------------------------------------------------------------------------------------
# Image processing

def tile_grid(h, w, tile, lo, hi):
    grids = sorted([(c, r) for c in range(1, hi + 1) for r in range(1, hi + 1) if lo <= c * r <= hi],
                   key=lambda g: g[0] * g[1])  # stable: columns-major within a tile count
    aspect, best, best_diff = w / h, (1, 1), float("inf")
    for c, r in grids:
        diff = abs(aspect - c / r)
        if diff < best_diff:
            best, best_diff = (c, r), diff
        elif diff == best_diff and w * h > 0.5 * tile * tile * c * r:
            best = (c, r)
    return best


def preprocess(img):
    s = PRE["size"]["height"]
    cols, rows = tile_grid(img.shape[0], img.shape[1], s, PRE["min_patches"], PRE["max_patches"])
    canvas = resize_bicubic(img, rows * s, cols * s)
    tiles = [canvas[r * s:(r + 1) * s, c * s:(c + 1) * s] for r in range(rows) for c in range(cols)]
    thumb = resize_bicubic(img, s, s) if len(tiles) > 1 else np.zeros((s, s, 3), np.uint8)
    if len(tiles) > 1:
        tiles.append(thumb)
    px = np.stack([normalise(t, PRE["image_mean"], PRE["image_std"]) for t in tiles])
    return canvas, thumb, torch.tensor(px)


# ----------------------------------------------------------------------------------------------
# Model

class InternVLRef:
    def __init__(self, W, vision):
        self.W = {k: v.double() for k, v in W.items()}
        self.v = vision

    def norm(self, x, prefix):
        W, v = self.W, self.v
        if v["norm_type"] == "rms_norm":
            return rms_norm(x, W[prefix + ".weight"], v["layer_norm_eps"])
        return layer_norm(x, W[prefix + ".weight"], W[prefix + ".bias"], v["layer_norm_eps"])

    def tile_features(self, tile):
        """tile [3, S, S] -> [(g/2)^2, D]"""
        W, v = self.W, self.v
        d, nh, ps = v["hidden_size"], v["num_attention_heads"], v["patch_size"][0]
        g = v["image_size"][0] // ps
        patches = torch.stack([tile[:, r * ps:(r + 1) * ps, c * ps:(c + 1) * ps].reshape(-1)
                               for r in range(g) for c in range(g)])
        x = patches @ W["vision_tower.embeddings.patch_embeddings.projection.weight"].reshape(d, -1).T
        x = x + W["vision_tower.embeddings.patch_embeddings.projection.bias"]
        x = torch.cat([W["vision_tower.embeddings.cls_token"][0], x]) + W["vision_tower.embeddings.position_embeddings"][0]
        n = x.shape[0]
        for i in range(v["num_hidden_layers"]):
            pre = f"vision_tower.encoder.layer.{i}."
            h = self.norm(x, pre + "layernorm_before")
            proj = lambda name: h @ W[pre + f"attention.{name}.weight"].T + (W[pre + f"attention.{name}.bias"] if v["attention_bias"] else 0)
            q, k, vv = proj("q_proj"), proj("k_proj"), proj("v_proj")
            if v["use_qk_norm"]:
                q = rms_norm(q, W[pre + "attention.q_norm.weight"], 1e-6)
                k = rms_norm(k, W[pre + "attention.k_norm.weight"], 1e-6)
            heads = lambda t: t.view(n, nh, d // nh).transpose(0, 1)
            a = attend(heads(q), heads(k), heads(vv), torch.ones(n, n, dtype=torch.bool))
            a = a @ W[pre + "attention.projection_layer.weight"].T + W[pre + "attention.projection_layer.bias"]
            x = x + W[pre + "lambda_1"] * a
            h = self.norm(x, pre + "layernorm_after")
            h = gelu_erf(h @ W[pre + "mlp.fc1.weight"].T + W[pre + "mlp.fc1.bias"])
            x = x + W[pre + "lambda_2"] * (h @ W[pre + "mlp.fc2.weight"].T + W[pre + "mlp.fc2.bias"])
        if not v["use_mean_pooling"]:
            x = layer_norm(x, W["vision_tower.layernorm.weight"], W["vision_tower.layernorm.bias"], v["layer_norm_eps"])
        grid = x[1:].reshape(g, g, d)  # CLS dropped; [row, col, D]
        # pixel shuffle 0.5: unit (i, j) = [patch (2i+dh, 2j+dw) for dh in 0, 1 for dw in 0, 1]
        units = torch.stack([torch.cat([grid[2 * i + dh, 2 * j + dw] for dh in (0, 1) for dw in (0, 1)])
                             for i in range(g // 2) for j in range(g // 2)])
        p = "multi_modal_projector."
        f = layer_norm(units, W[p + "layer_norm.weight"], W[p + "layer_norm.bias"], 1e-5)
        f = gelu_erf(f @ W[p + "linear_1.weight"].T + W[p + "linear_1.bias"])
        return f @ W[p + "linear_2.weight"].T + W[p + "linear_2.bias"]

    def logits(self, ids, features):
        W = self.W
        emb = W["language_model.model.embed_tokens.weight"][torch.tensor(ids)].clone()
        slots = [j for j, t in enumerate(ids) if t == IMAGE]
        feats = torch.cat(features) if features else torch.zeros(0, emb.shape[1], dtype=torch.float64)
        assert len(slots) == feats.shape[0], (len(slots), feats.shape)
        for j, row in zip(slots, feats):
            emb[j] = row
        hd = TEXT["hidden_size"] // TEXT["num_attention_heads"]
        angles = torch.arange(len(ids), dtype=torch.float64)[:, None] * inv_freq(hd, TEXT["rope_theta"])
        h = decoder_hidden(W, TEXT, emb, "language_model.model.", angles)
        return h @ W["language_model.lm_head.weight"].T


def weight_shapes(v):
    s = qwen2_shapes(TEXT, "language_model.model.", "language_model.lm_head.weight")
    d, i, ps = v["hidden_size"], v["intermediate_size"], v["patch_size"][0]
    g = v["image_size"][0] // ps
    e = "vision_tower.embeddings."
    s.update({e + "cls_token": (1, 1, d), e + "position_embeddings": (1, g * g + 1, d),
              e + "patch_embeddings.projection.weight": (d, 3, ps, ps), e + "patch_embeddings.projection.bias": (d,)})
    for l in range(v["num_hidden_layers"]):
        p = f"vision_tower.encoder.layer.{l}."
        for n in ("layernorm_before", "layernorm_after"):
            s[p + n + ".weight"] = (d,)
            if v["norm_type"] == "layer_norm":
                s[p + n + ".bias"] = (d,)
        for n in ("q_proj", "k_proj", "v_proj"):
            s[p + f"attention.{n}.weight"] = (d, d)
            if v["attention_bias"]:
                s[p + f"attention.{n}.bias"] = (d,)
        if v["use_qk_norm"]:
            s[p + "attention.q_norm.weight"] = (d,)
            s[p + "attention.k_norm.weight"] = (d,)
        s.update({p + "attention.projection_layer.weight": (d, d), p + "attention.projection_layer.bias": (d,),
                  p + "lambda_1": (d,), p + "lambda_2": (d,), p + "mlp.fc1.weight": (i, d), p + "mlp.fc1.bias": (i,),
                  p + "mlp.fc2.weight": (d, i), p + "mlp.fc2.bias": (d,)})
    if not v["use_mean_pooling"]:
        s["vision_tower.layernorm.weight"] = (d,)
        s["vision_tower.layernorm.bias"] = (d,)
    m = "multi_modal_projector."
    s.update({m + "layer_norm.weight": (4 * d,), m + "layer_norm.bias": (4 * d,), m + "linear_1.weight": (64, 4 * d),
              m + "linear_1.bias": (64,), m + "linear_2.weight": (64, 64), m + "linear_2.bias": (64,)})
    return s


def randomise(shapes, gen):
    W = random_weights(shapes, gen, std=0.2)
    for name in W:  # layer scale: 0.5 + 0.2 N(0, 1), so that both branches matter
        if "lambda_" in name:
            W[name] = (0.5 + 0.2 * torch.randn(W[name].shape, generator=gen, dtype=torch.float64)).float()
    return W


def build(vision, seed, tokens_per_tile):
    gen = torch.Generator().manual_seed(seed)
    ref = {}
    tiles, pixels = [], []
    for k, (h, w) in enumerate(IMAGE_SIZES):
        img = test_image(h, w, seed=200 + k)
        canvas, thumb, px = preprocess(img)
        ref.update({f"image.{k}": torch.from_numpy(img.copy()), f"resized.{k}": torch.from_numpy(canvas),
                    f"thumbnail.{k}": torch.from_numpy(thumb), f"pixel_values.{k}": px.float(),
                    f"tiles.{k}": torch.tensor([px.shape[0]], dtype=torch.int64)})
        tiles.append(px.shape[0])
        pixels.append(px)
    W = randomise(weight_shapes(vision), gen)
    model = InternVLRef(W, vision)
    features = [torch.cat([model.tile_features(t) for t in px]) for px in pixels]

    def prompt(parts):
        ids, used = [], []
        for part in parts:
            if isinstance(part, int):
                ids += torch.randint(0, 240, (part,), generator=gen).tolist()
            else:
                ids += [IMG_START] + [IMAGE] * (tiles[part[1]] * tokens_per_tile) + [IMG_END]
                used.append(part[1])
        return ids, used

    prompts = [prompt([3, ("img", 0), 4]), prompt([2, ("img", 2), 2, ("img", 1), 3]), prompt([6])]
    min_margin = float("inf")
    for i, (ids, used) in enumerate(prompts):
        f = [features[k] for k in used]
        ref[f"input_ids.{i}"] = torch.tensor(ids, dtype=torch.int64)
        ref[f"prompt_images.{i}"] = torch.tensor(used + [-1], dtype=torch.int64)
        ref[f"logits.{i}"] = model.logits(ids, f).float()
        toks, margin = greedy(lambda new: model.logits(ids + new, f)[-1], GREEDY_NEW_TOKENS)
        ref[f"greedy.{i}"] = toks
        min_margin = min(min_margin, margin)
    meta = {"generator": "tests/tools/internvl_reference.py", "weight_seed": seed,
            "regenerate": "/usr/bin/python3 tests/tools/internvl_reference.py", "num_images": len(IMAGE_SIZES),
            "num_prompts": len(prompts), "greedy_new_tokens": GREEDY_NEW_TOKENS, "min_greedy_margin": min_margin}
    return W, ref, meta


def write(name, vision, first_seed):
    tokens_per_tile = (vision["image_size"][0] // vision["patch_size"][0] // 2) ** 2
    for seed in range(first_seed, first_seed + 40):
        W, ref, meta = build(vision, seed, tokens_per_tile)
        if meta["min_greedy_margin"] >= 1e-3:
            break
        print(f"{name} seed {seed}: greedy margin {meta['min_greedy_margin']:.2e} too small, next seed")
    else:
        sys.exit(f"{name}: no seed gave a greedy margin >= 1e-3")
    cfg = {"architectures": ["InternVLForConditionalGeneration"], "model_type": "internvl", "torch_dtype": "float32",
           "text_config": TEXT, "vision_config": vision, "image_token_id": IMAGE, "image_seq_length": tokens_per_tile,
           "downsample_ratio": 0.5, "projector_hidden_act": "gelu", "vision_feature_layer": -1,
           "vision_feature_select_strategy": "default", "tie_word_embeddings": False}
    d = write_fixture(name, cfg, PRE, W, ref, meta)
    print(f"{d}: seed {meta['weight_seed']}, smallest greedy margin {meta['min_greedy_margin']:.3e}")


def main():
    write("ref_internvl", VISION_300M, 11)
    write("ref_internvl_qknorm", VISION_6B, 31)


if __name__ == "__main__":
    main()
