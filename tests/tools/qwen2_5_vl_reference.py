#!/usr/bin/python3
"""Independent reference for Qwen2.5-VL (tests/unit/model/test_vlm_reference.cpp), written from the
published architecture (Qwen2.5-VL technical report; transformers' Qwen2_5_VL modeling and
Qwen2VLImageProcessor as public documentation of it), not from the C++ code.

What is computed here, float64 on float32 weights, one prompt at a time, no cache:
- image processing of odd-sized images: smart_resize (multiples of 28, min/max pixels, Python's
  round-half-even), Pillow bicubic (vlm_reference_util), CLIP mean/std, the image as a 2-frame
  clip, rows of (channel, frame, y, x) patches ordered by 2x2 merge block;
- the vision tower: patch embedding, 2-D rotary (row, col) positions, windowed attention written
  as a mask (patches attend within their window, or everywhere in the full-attention blocks:
  no regrouping of patches, unlike HF), RMSNorm + SwiGLU blocks, the 2x2 merger;
- M-RoPE positions from a plain scan of the prompt and the text decoder with per-axis angles;
- greedy continuation (generated tokens continue the text positions).

Writes tests/fixtures/model/ref_qwen2_5_vl/: config.json (transformers 5.x keys: text_config,
rope_parameters with mrope_section, dtype), preprocessor_config.json, model.safetensors
(transformers 4.52+/5.x names: model.language_model.*, model.visual.*, lm_head.*),
reference.safetensors and reference.json (see write()).

Run with Debian's python3 (torch 1.13):  /usr/bin/python3 tests/tools/qwen2_5_vl_reference.py
"""
import math
import sys

import numpy as np
import torch

from vlm_reference_util import (attend, decoder_hidden, gelu_erf, greedy, inv_freq, normalise, qwen2_shapes,
                                random_weights, resize_bicubic, rms_norm, rotate_pairs, test_image, write_fixture)

GREEDY_NEW_TOKENS = 12
IMAGE, VSTART, VEND = 250, 251, 252

TEXT = {"model_type": "qwen2_5_vl_text", "vocab_size": 256, "hidden_size": 64, "intermediate_size": 96,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512,
        "rms_norm_eps": 1e-6, "hidden_act": "silu", "tie_word_embeddings": False,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]}}
VISION = {"model_type": "qwen2_5_vl", "depth": 3, "hidden_size": 32, "hidden_act": "silu", "intermediate_size": 48,
          "num_heads": 2, "in_channels": 3, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
          "tokens_per_second": 2, "window_size": 56, "out_hidden_size": 64, "fullatt_block_indexes": [1]}
PRE = {"image_processor_type": "Qwen2VLImageProcessor", "min_pixels": 3136, "max_pixels": 28 * 28 * 12,
       "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
       "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
       "do_resize": True, "do_rescale": True, "do_normalize": True, "rescale_factor": 1 / 255, "resample": 3}
# Odd sizes; 150x170 exceeds max_pixels, 30x33 is below min_pixels, 70 / 28 = 2.5 rounds to even.
IMAGE_SIZES = [(61, 93), (45, 129), (150, 170), (30, 33), (70, 98)]


# ----------------------------------------------------------------------------------------------
# Image processing

def smart_resize(h, w, factor, min_pixels, max_pixels):
    assert h >= factor and w >= factor and max(h, w) / min(h, w) <= 200
    hb, wb = round(h / factor) * factor, round(w / factor) * factor  # Python round: half to even
    if hb * wb > max_pixels:
        beta = math.sqrt((h * w) / max_pixels)
        hb, wb = math.floor(h / beta / factor) * factor, math.floor(w / beta / factor) * factor
    elif hb * wb < min_pixels:
        beta = math.sqrt(min_pixels / (h * w))
        hb, wb = math.ceil(h * beta / factor) * factor, math.ceil(w * beta / factor) * factor
    return hb, wb


def preprocess(img):
    p, m, t = PRE["patch_size"], PRE["merge_size"], PRE["temporal_patch_size"]
    hb, wb = smart_resize(img.shape[0], img.shape[1], p * m, PRE["min_pixels"], PRE["max_pixels"])
    resized = resize_bicubic(img, hb, wb)
    x = normalise(resized, PRE["image_mean"], PRE["image_std"])  # [3, H, W]
    gh, gw = hb // p, wb // p
    rows = []
    for br in range(gh // m):
        for bc in range(gw // m):
            for ir in range(m):
                for ic in range(m):
                    r, c = br * m + ir, bc * m + ic
                    patch = x[:, r * p:(r + 1) * p, c * p:(c + 1) * p]       # [3, P, P]
                    clip = np.stack([patch] * t, axis=1)                    # [3, T, P, P]
                    rows.append(clip.reshape(-1))
    return resized, torch.tensor(np.stack(rows)), (1, gh, gw)


def patch_rc(k, gw, m=2):
    """(row, col) of pixel row k in the processor's order."""
    block, inner = divmod(k, m * m)
    br, bc = divmod(block, gw // m)
    return br * m + inner // m, bc * m + inner % m


# ----------------------------------------------------------------------------------------------
# Model

class Qwen2_5_VLRef:
    def __init__(self, W):
        self.W = {k: v.double() for k, v in W.items()}

    def vision(self, pixels, grid):
        W, v = self.W, VISION
        _, gh, gw = grid
        d, nh = v["hidden_size"], v["num_heads"]
        hd = d // nh
        L = pixels.shape[0]
        x = pixels.double() @ W["model.visual.patch_embed.proj.weight"].reshape(d, -1).T
        rc = [patch_rc(k, gw) for k in range(L)]
        freqs = inv_freq(hd // 2, 10000.0)  # hd/4 frequencies per axis
        angles = torch.stack([torch.cat([r * freqs, c * freqs]) for r, c in rc])  # [L, hd/2]
        win = v["window_size"] // v["spatial_merge_size"] // v["patch_size"] * v["spatial_merge_size"]  # patches
        wid = torch.tensor([(r // win) * 1000 + c // win for r, c in rc])
        same_window = wid[:, None] == wid[None, :]
        everywhere = torch.ones(L, L, dtype=torch.bool)
        for i in range(v["depth"]):
            p = lambda n: W[f"model.visual.blocks.{i}.{n}"]
            h = rms_norm(x, p("norm1.weight"), 1e-6)
            qkv = (h @ p("attn.qkv.weight").T + p("attn.qkv.bias")).view(L, 3, nh, hd)
            q, k, vv = (qkv[:, j].transpose(0, 1) for j in range(3))  # [H, L, hd]
            q, k = rotate_pairs(q, angles), rotate_pairs(k, angles)
            allowed = everywhere if i in v["fullatt_block_indexes"] else same_window
            x = x + attend(q, k, vv, allowed) @ p("attn.proj.weight").T + p("attn.proj.bias")
            h = rms_norm(x, p("norm2.weight"), 1e-6)
            gate = h @ p("mlp.gate_proj.weight").T + p("mlp.gate_proj.bias")
            up = h @ p("mlp.up_proj.weight").T + p("mlp.up_proj.bias")
            x = x + (gate * torch.sigmoid(gate) * up) @ p("mlp.down_proj.weight").T + p("mlp.down_proj.bias")
        x = rms_norm(x, W["model.visual.merger.ln_q.weight"], 1e-6).reshape(L // 4, 4 * d)
        x = gelu_erf(x @ W["model.visual.merger.mlp.0.weight"].T + W["model.visual.merger.mlp.0.bias"])
        return x @ W["model.visual.merger.mlp.2.weight"].T + W["model.visual.merger.mlp.2.bias"]

    @staticmethod
    def positions(ids, grids):
        """3 x T M-RoPE positions by a plain scan: text continues from the largest position so far."""
        t_, h_, w_, nxt, j, img = [], [], [], 0, 0, 0
        while j < len(ids):
            if ids[j] != IMAGE:
                for axis in (t_, h_, w_):
                    axis.append(nxt)
                nxt, j = nxt + 1, j + 1
                continue
            _, gh, gw = grids[img]
            lh, lw = gh // 2, gw // 2
            for r in range(lh):
                for c in range(lw):
                    t_.append(nxt)
                    h_.append(nxt + r)
                    w_.append(nxt + c)
            j, img, nxt = j + lh * lw, img + 1, nxt + max(lh, lw)
        return torch.tensor([t_, h_, w_], dtype=torch.int64)

    def logits(self, ids, features, grids, extra_positions=0):
        W = self.W
        emb = W["model.language_model.embed_tokens.weight"][torch.tensor(ids)].clone()
        slots = [j for j, t in enumerate(ids) if t == IMAGE]
        feats = torch.cat(features) if features else torch.zeros(0, emb.shape[1], dtype=torch.float64)
        assert len(slots) == feats.shape[0], (len(slots), feats.shape)
        for j, row in zip(slots, feats):
            emb[j] = row
        pos = self.positions(ids, grids).double()  # [3, T]
        sec = TEXT["rope_parameters"]["mrope_section"]
        axis = torch.tensor([0] * sec[0] + [1] * sec[1] + [2] * sec[2])
        hd = TEXT["hidden_size"] // TEXT["num_attention_heads"]
        freqs = inv_freq(hd, TEXT["rope_parameters"]["rope_theta"])
        angles = pos[axis].T * freqs  # [T, hd/2]: frequency i uses its section's axis
        h = decoder_hidden(W, TEXT, emb, "model.language_model.", angles)
        return h @ W["lm_head.weight"].T


# ----------------------------------------------------------------------------------------------

def weight_shapes():
    s = qwen2_shapes(TEXT, "model.language_model.", "lm_head.weight")
    v = VISION
    d, i = v["hidden_size"], v["intermediate_size"]
    s["model.visual.patch_embed.proj.weight"] = (d, 3, 2, v["patch_size"], v["patch_size"])
    for b in range(v["depth"]):
        p = f"model.visual.blocks.{b}."
        s.update({p + "norm1.weight": (d,), p + "norm2.weight": (d,), p + "attn.qkv.weight": (3 * d, d),
                  p + "attn.qkv.bias": (3 * d,), p + "attn.proj.weight": (d, d), p + "attn.proj.bias": (d,)})
        for n, shape in (("gate_proj", (i, d)), ("up_proj", (i, d)), ("down_proj", (d, i))):
            s[p + f"mlp.{n}.weight"] = shape
            s[p + f"mlp.{n}.bias"] = (shape[0],)
    s.update({"model.visual.merger.ln_q.weight": (d,), "model.visual.merger.mlp.0.weight": (4 * d, 4 * d),
              "model.visual.merger.mlp.0.bias": (4 * d,), "model.visual.merger.mlp.2.weight": (TEXT["hidden_size"], 4 * d),
              "model.visual.merger.mlp.2.bias": (TEXT["hidden_size"],)})
    return s


def prompt(gen, parts, grids):
    """parts: ints = that many random text tokens, ('img', k) = image k with its markers."""
    ids, used = [], []
    for part in parts:
        if isinstance(part, int):
            ids += torch.randint(0, 240, (part,), generator=gen).tolist()
        else:
            k = part[1]
            _, gh, gw = grids[k]
            ids += [VSTART] + [IMAGE] * (gh * gw // 4) + [VEND]
            used.append(k)
    return ids, used


def build(seed):
    gen = torch.Generator().manual_seed(seed)
    ref, meta = {}, {"generator": "tests/tools/qwen2_5_vl_reference.py", "weight_seed": seed,
                     "regenerate": "/usr/bin/python3 tests/tools/qwen2_5_vl_reference.py"}
    grids, pixels = [], []
    for k, (h, w) in enumerate(IMAGE_SIZES):
        img = test_image(h, w, seed=100 + k)
        resized, px, grid = preprocess(img)
        ref[f"image.{k}"] = torch.from_numpy(img.copy())
        ref[f"resized.{k}"] = torch.from_numpy(resized)
        ref[f"pixel_values.{k}"] = px.float()
        ref[f"image_grid_thw.{k}"] = torch.tensor(grid, dtype=torch.int64)
        grids.append(grid)
        pixels.append(px)
    W = random_weights(weight_shapes(), gen, std=0.2)
    model = Qwen2_5_VLRef(W)
    features = [model.vision(px, g) for px, g in zip(pixels, grids)]
    prompts = [prompt(gen, [3, ("img", 0), 4], grids), prompt(gen, [2, ("img", 1), 2, ("img", 3), 3], grids),
               prompt(gen, [6], grids)]
    min_margin = float("inf")
    for i, (ids, used) in enumerate(prompts):
        g = [grids[k] for k in used]
        f = [features[k] for k in used]
        ref[f"input_ids.{i}"] = torch.tensor(ids, dtype=torch.int64)
        ref[f"prompt_images.{i}"] = torch.tensor(used + [-1], dtype=torch.int64)  # -1 ends the list
        ref[f"position_ids.{i}"] = model.positions(ids, g)
        ref[f"logits.{i}"] = model.logits(ids, f, g).float()
        toks, margin = greedy(lambda new: model.logits(ids + new, f, g)[-1], GREEDY_NEW_TOKENS)
        ref[f"greedy.{i}"] = toks
        min_margin = min(min_margin, margin)
    meta.update({"num_images": len(IMAGE_SIZES), "num_prompts": len(prompts), "greedy_new_tokens": GREEDY_NEW_TOKENS,
                 "min_greedy_margin": min_margin})
    return W, ref, meta


def main():
    for seed in range(7, 47):
        W, ref, meta = build(seed)
        if meta["min_greedy_margin"] >= 1e-3:
            break
        print(f"seed {seed}: greedy margin {meta['min_greedy_margin']:.2e} too small, next seed")
    else:
        sys.exit("no seed gave a greedy margin >= 1e-3")
    cfg = {"architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": "qwen2_5_vl", "dtype": "float32",
           "text_config": TEXT, "vision_config": VISION, "image_token_id": IMAGE, "video_token_id": 253,
           "vision_start_token_id": VSTART, "vision_end_token_id": VEND, "tie_word_embeddings": False}
    d = write_fixture("ref_qwen2_5_vl", cfg, PRE, W, ref, meta)
    print(f"{d}: seed {meta['weight_seed']}, smallest greedy margin {meta['min_greedy_margin']:.3e}")


if __name__ == "__main__":
    main()
