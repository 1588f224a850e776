"""Shared pieces of the independent Qwen2.5-VL and InternVL references (qwen2_5_vl_reference.py,
internvl_reference.py): written from the published algorithms, not from the C++ code.

- Pillow's bicubic resize of 8-bit images (Image.resize(size, BICUBIC), which the Hugging Face
  image processors call): a separable cubic convolution (a = -0.5, support 2 stretched by the
  downscale factor), horizontal pass first, each pass rounding to uint8 with 22-bit fixed-point
  coefficients. Here in numpy integer arithmetic.
- float64 math of the Qwen2 text decoder with arbitrary rotary angles per token (1-D RoPE and
  M-RoPE are the same code with different angles).
- random weights: norm weights 1 + 0.2 N(0,1), biases 0.2 N(0,1), other tensors std * N(0,1)
  (as shared/hf-reference did, so a wrong norm or bias formula cannot pass by accident).
- fixture writing: config.json, preprocessor_config.json, model.safetensors, reference.safetensors,
  reference.json (format_version 1).
"""
import json
import math
import os

import numpy as np
import torch

# Re-exported: the tiny safetensors writer (no safetensors package here) and the shared float64 math.
from model_reference import gelu_erf, layer_norm, qwen2_shapes, rms_norm, write_safetensors  # noqa: F401

FORMAT_VERSION = 1
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "model")


# ----------------------------------------------------------------------------------------------
# Images

def test_image(h, w, seed):
    """A smooth RGB pattern with noise, uint8 [h, w, 3] (detail at several scales)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([128 + 90 * np.sin(x / (3 + c) + y / (5 + 2 * c) + c) for c in range(3)], axis=-1)
    img += rng.normal(0, 25, size=img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _cubic(x):
    a = -0.5
    x = abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    if x < 2.0:
        return (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return 0.0


def _coefficients(in_size, out_size):
    """Per output index: (first input index, integer weights) as Pillow's precompute_coeffs."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 2.0 * filterscale
    out = []
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)  # int(): truncation toward zero, as C
        xmax = min(int(center + support + 0.5), in_size) - xmin
        k = [_cubic((x + xmin - center + 0.5) / filterscale) for x in range(xmax)]
        ww = sum(k)
        k = [v / ww if ww != 0.0 else v for v in k]
        fixed = [int(-0.5 + v * (1 << 22)) if v < 0 else int(0.5 + v * (1 << 22)) for v in k]
        out.append((xmin, np.array(fixed, dtype=np.int64)))
    return out


def _pass(img, out_size, axis):
    """Resample uint8 [h, w, 3] along axis (1: columns, 0: rows)."""
    src = img.astype(np.int64)
    coeffs = _coefficients(img.shape[axis], out_size)
    shape = list(img.shape)
    shape[axis] = out_size
    out = np.empty(shape, dtype=np.uint8)
    for o, (first, k) in enumerate(coeffs):
        window = src[:, first:first + len(k)] if axis == 1 else src[first:first + len(k)]
        kk = k[None, :, None] if axis == 1 else k[:, None, None]
        acc = (window * kk).sum(axis=axis) + (1 << 21)
        val = np.clip(acc >> 22, 0, 255)  # >> on int64 floors, as Pillow's clip8
        if axis == 1:
            out[:, o] = val
        else:
            out[o] = val
    return out


def resize_bicubic(img, h, w):
    out = img
    if w != img.shape[1]:
        out = _pass(out, w, axis=1)
    if h != img.shape[0]:
        out = _pass(out, h, axis=0)
    return out.copy()


def normalise(img, mean, std):
    """uint8 [h, w, 3] -> float64 [3, h, w], (x / 255 - mean) / std."""
    x = img.astype(np.float64).transpose(2, 0, 1) / 255.0
    return (x - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]


# ----------------------------------------------------------------------------------------------
# Math, float64

def rotate_pairs(x, angles):
    """x [H, T, hd]; angles [T, hd/2]: rotates the pair (x[i], x[i + hd/2]) by angles[:, i]."""
    half = x.shape[-1] // 2
    c, s = torch.cos(angles), torch.sin(angles)
    a, b = x[..., :half], x[..., half:]
    return torch.cat([a * c - b * s, b * c + a * s], dim=-1)


def attend(q, k, v, allowed):
    """q [H, T, hd], k/v [H, S, hd], allowed [T, S] bool -> [T, H*hd]."""
    scores = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~allowed, float("-inf"))
    return (torch.softmax(scores, -1) @ v).transpose(0, 1).reshape(q.shape[1], -1)


def decoder_hidden(W, cfg, emb, prefix, angles):
    """Qwen2 decoder: emb [T, D], angles [T, hd/2] per token -> final-normed hidden [T, D]."""
    t, d = emb.shape
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = d // nh
    eps = cfg["rms_norm_eps"]
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    x = emb
    for layer in range(cfg["num_hidden_layers"]):
        p = lambda n: W[f"{prefix}layers.{layer}.{n}"]
        h = rms_norm(x, p("input_layernorm.weight"), eps)
        proj = lambda n, heads: (h @ p(f"self_attn.{n}.weight").T + p(f"self_attn.{n}.bias")).view(t, heads, hd).transpose(0, 1)
        q, k, v = proj("q_proj", nh), proj("k_proj", nkv), proj("v_proj", nkv)
        q, k = rotate_pairs(q, angles), rotate_pairs(k, angles)
        group = nh // nkv  # query heads grouped consecutively per kv head
        k, v = k.repeat_interleave(group, 0), v.repeat_interleave(group, 0)
        x = x + attend(q, k, v, causal) @ p("self_attn.o_proj.weight").T
        h = rms_norm(x, p("post_attention_layernorm.weight"), eps)
        gate = h @ p("mlp.gate_proj.weight").T
        x = x + (gate * torch.sigmoid(gate) * (h @ p("mlp.up_proj.weight").T)) @ p("mlp.down_proj.weight").T
    return rms_norm(x, W[f"{prefix}norm.weight"], eps)


def inv_freq(head_dim, theta):
    return theta ** (-2.0 * torch.arange(head_dim // 2, dtype=torch.float64) / head_dim)


def greedy(step_logits, n):
    """step_logits(generated_so_far) -> last logits [V]; returns (tokens, smallest top1-top2 gap)."""
    out, margin = [], float("inf")
    for _ in range(n):
        last = step_logits(out)
        top = torch.topk(last, 2).values
        margin = min(margin, float(top[0] - top[1]))
        out.append(int(last.argmax()))
    return torch.tensor(out, dtype=torch.int64), margin


# ----------------------------------------------------------------------------------------------
# Weights and files

def is_norm_weight(name):
    return name.endswith(".weight") and any(s in name for s in ("norm", "ln_q", "layernorm"))


def random_weights(shapes, gen, std):
    W = {}
    for name, shape in sorted(shapes.items()):
        if is_norm_weight(name):
            W[name] = 1.0 + 0.2 * torch.randn(shape, generator=gen, dtype=torch.float64)
        elif name.endswith("bias"):
            W[name] = 0.2 * torch.randn(shape, generator=gen, dtype=torch.float64)
        else:
            W[name] = std * torch.randn(shape, generator=gen, dtype=torch.float64)
    return {k: v.float() for k, v in W.items()}


def write_fixture(name, cfg, preprocessor, W, ref, meta):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(d, "preprocessor_config.json"), "w") as f:
        json.dump(preprocessor, f, indent=2)
    write_safetensors(os.path.join(d, "model.safetensors"), W)
    write_safetensors(os.path.join(d, "reference.safetensors"), ref)
    meta = dict(meta, format_version=FORMAT_VERSION)
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(meta, f, indent=2)
    return d
