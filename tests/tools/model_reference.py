#!/usr/bin/python3
"""Independent reference numbers for the C++ models (tests/unit/model/test_reference.cpp).

Written from the published math of Qwen2 (RMSNorm, rotary embeddings, grouped-query attention
with q/k/v biases, SwiGLU), SigLIP (patch embedding, pre-norm ViT with tanh-GELU) and LLaVA
(2-layer GELU projector; image features replace the image placeholder tokens), not from the
C++ code. The forward runs in float64 on float32 weights, one prompt at a time, no padding, no
cache: the C++ float32 batched / cached paths are compared with it.

Writes, per case, into tests/fixtures/model/<case>/:
  config.json         HF config (ref_qwen2: transformers 4.x keys; ref_llava: 5.x keys)
  model.safetensors   random weights, HF names (ref_qwen2: 4.x; ref_llava: 5.x layout)
  reference.safetensors  input_ids.<i> [T] int64, logits.<i> [T, V] float32,
                         greedy.<i> [N] int64 (greedy continuation), pixel_values.<i> [1,C,H,W]
  reference.json      format_version, counts, the smallest top-1/top-2 margin seen

Run with Debian's python3 (torch 1.13):  /usr/bin/python3 tests/tools/model_reference.py
"""
import json
import math
import os
import struct
import sys

import torch

FORMAT_VERSION = 1
GREEDY_NEW_TOKENS = 32
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "model")


# ----------------------------------------------------------------------------------------------
# safetensors writer (the safetensors package is not installed here)

_DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.float16: "F16", torch.bfloat16: "BF16",
           torch.uint8: "U8"}


def write_safetensors(path, tensors):
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().tobytes()
        else:
            raw = t.numpy().tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


# ----------------------------------------------------------------------------------------------
# Math, float64

def rms_norm(x, w, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def gelu_erf(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def rotate(x, theta):
    """x [H, T, Dh]; position t rotates the pair (x[i], x[i + Dh/2]) by t * theta^(-2i/Dh)."""
    h, t, d = x.shape
    half = d // 2
    i = torch.arange(half, dtype=torch.float64)
    freq = theta ** (-2.0 * i / d)                              # [half]
    ang = torch.arange(t, dtype=torch.float64)[:, None] * freq  # [T, half]
    c, s = torch.cos(ang), torch.sin(ang)
    a, b = x[..., :half], x[..., half:]
    return torch.cat([a * c - b * s, b * c + a * s], dim=-1)


def qwen2_hidden(W, cfg, emb, prefix):
    """emb [T, D] float64 -> final-normed hidden [T, D]. `prefix` e.g. 'model.'."""
    t, d = emb.shape
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = d // nh
    theta = cfg["rope_theta"] if "rope_theta" in cfg else cfg["rope_parameters"]["rope_theta"]
    eps = cfg["rms_norm_eps"]
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    x = emb
    for layer in range(cfg["num_hidden_layers"]):
        p = lambda n: W[f"{prefix}layers.{layer}.{n}"]
        h = rms_norm(x, p("input_layernorm.weight"), eps)
        q = (h @ p("self_attn.q_proj.weight").T + p("self_attn.q_proj.bias")).view(t, nh, hd).transpose(0, 1)
        k = (h @ p("self_attn.k_proj.weight").T + p("self_attn.k_proj.bias")).view(t, nkv, hd).transpose(0, 1)
        v = (h @ p("self_attn.v_proj.weight").T + p("self_attn.v_proj.bias")).view(t, nkv, hd).transpose(0, 1)
        q, k = rotate(q, theta), rotate(k, theta)
        heads = []
        for head in range(nh):
            kv = head // (nh // nkv)  # query heads are grouped consecutively per kv head
            scores = (q[head] @ k[kv].T) / math.sqrt(hd)
            scores = scores.masked_fill(~causal, float("-inf"))
            heads.append(torch.softmax(scores, -1) @ v[kv])
        attn = torch.cat(heads, dim=-1)  # [T, nh*hd]
        x = x + attn @ p("self_attn.o_proj.weight").T
        h = rms_norm(x, p("post_attention_layernorm.weight"), eps)
        gate = h @ p("mlp.gate_proj.weight").T
        up = h @ p("mlp.up_proj.weight").T
        x = x + (gate * torch.sigmoid(gate) * up) @ p("mlp.down_proj.weight").T
    return rms_norm(x, W[f"{prefix}norm.weight"], eps)


def siglip_hidden_states(W, vcfg, pixels, prefix):
    """pixels [C, H, W] -> list of [L, Dv]: embeddings, then after each encoder layer."""
    c, hgt, wid = pixels.shape
    ps = vcfg["patch_size"]
    gh, gw = hgt // ps, wid // ps
    # patches in row-major grid order, each flattened as (channel, row, col)
    patches = pixels[:, :gh * ps, :gw * ps].reshape(c, gh, ps, gw, ps).permute(1, 3, 0, 2, 4).reshape(gh * gw, c * ps * ps)
    wconv = W[prefix + "embeddings.patch_embedding.weight"].reshape(vcfg["hidden_size"], -1)
    x = patches @ wconv.T + W[prefix + "embeddings.patch_embedding.bias"]
    x = x + W[prefix + "embeddings.position_embedding.weight"]
    states = [x]
    d, nh = vcfg["hidden_size"], vcfg["num_attention_heads"]
    hd = d // nh
    eps = vcfg["layer_norm_eps"]
    for layer in range(vcfg["num_hidden_layers"]):
        p = lambda n: W[f"{prefix}encoder.layers.{layer}.{n}"]
        h = layer_norm(x, p("layer_norm1.weight"), p("layer_norm1.bias"), eps)
        proj = lambda n: (h @ p(f"self_attn.{n}.weight").T + p(f"self_attn.{n}.bias")).view(-1, nh, hd).transpose(0, 1)
        q, k, v = proj("q_proj"), proj("k_proj"), proj("v_proj")
        att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hd), -1) @ v  # [nh, L, hd]
        att = att.transpose(0, 1).reshape(-1, d)
        x = x + att @ p("self_attn.out_proj.weight").T + p("self_attn.out_proj.bias")
        h = layer_norm(x, p("layer_norm2.weight"), p("layer_norm2.bias"), eps)
        h = gelu_tanh(h @ p("mlp.fc1.weight").T + p("mlp.fc1.bias"))
        x = x + h @ p("mlp.fc2.weight").T + p("mlp.fc2.bias")
        states.append(x)
    return states


# ----------------------------------------------------------------------------------------------
# Models as functions of (weights, config, prompt) -> logits [T, V]

class Qwen2Ref:
    def __init__(self, W, cfg):
        self.W, self.cfg = W, cfg

    def logits(self, ids):
        emb = self.W["model.embed_tokens.weight"][ids]
        h = qwen2_hidden(self.W, self.cfg, emb, "model.")
        head = self.W["model.embed_tokens.weight"] if self.cfg["tie_word_embeddings"] else self.W["lm_head.weight"]
        return h @ head.T


class LlavaRef:
    """Weights under transformers 5.x names (model.language_model.*, model.vision_tower.*, ...)."""

    def __init__(self, W, cfg):
        self.W, self.cfg = W, cfg
        self.image_token = cfg["image_token_id"]

    def logits(self, ids, pixels):
        cfg, W = self.cfg, self.W
        states = siglip_hidden_states(W, cfg["vision_config"], pixels[0], "model.vision_tower.vision_model.")
        feat = states[cfg["vision_feature_layer"]]  # HF hidden_states indexing; no post_layernorm
        if cfg["vision_feature_select_strategy"] == "default":
            feat = feat[1:]
        f = gelu_erf(feat @ W["model.multi_modal_projector.linear_1.weight"].T + W["model.multi_modal_projector.linear_1.bias"])
        f = f @ W["model.multi_modal_projector.linear_2.weight"].T + W["model.multi_modal_projector.linear_2.bias"]
        table = W["model.language_model.embed_tokens.weight"]
        emb = torch.stack([table[i] if i != self.image_token else torch.zeros(table.shape[1], dtype=table.dtype) for i in ids.tolist()])
        slots = [j for j, i in enumerate(ids.tolist()) if i == self.image_token]
        assert len(slots) == f.shape[0], (len(slots), f.shape)
        for j, row in zip(slots, f):
            emb[j] = row
        h = qwen2_hidden(W, cfg["text_config"], emb, "model.language_model.")
        head = table if cfg["text_config"]["tie_word_embeddings"] else W["lm_head.weight"]
        return h @ head.T


def greedy(step_logits, ids, n):
    """Uncached greedy continuation; returns (tokens [n], smallest top1 - top2 margin)."""
    seq = ids.clone()
    out, margin = [], float("inf")
    for _ in range(n):
        last = step_logits(seq)[-1]
        top = torch.topk(last, 2).values
        margin = min(margin, float(top[0] - top[1]))
        tok = int(last.argmax())
        out.append(tok)
        seq = torch.cat([seq, torch.tensor([tok])])
    return torch.tensor(out, dtype=torch.int64), margin


def random_weights(shapes, gen, std):
    W = {}
    for name, shape in shapes.items():
        if name.endswith("norm.weight") or "layer_norm" in name and name.endswith("weight") or name.endswith("post_layernorm.weight"):
            W[name] = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        elif name.endswith("bias"):
            W[name] = 0.1 * torch.randn(shape, generator=gen)
        else:
            W[name] = std * torch.randn(shape, generator=gen)
    return {k: v.float() for k, v in W.items()}


def qwen2_shapes(cfg, prefix, lm_head_name):
    d, v, i = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = d // nh
    s = {f"{prefix}embed_tokens.weight": (v, d), f"{prefix}norm.weight": (d,)}
    for l in range(cfg["num_hidden_layers"]):
        p = f"{prefix}layers.{l}."
        s.update({p + "input_layernorm.weight": (d,), p + "post_attention_layernorm.weight": (d,),
                  p + "self_attn.q_proj.weight": (nh * hd, d), p + "self_attn.q_proj.bias": (nh * hd,),
                  p + "self_attn.k_proj.weight": (nkv * hd, d), p + "self_attn.k_proj.bias": (nkv * hd,),
                  p + "self_attn.v_proj.weight": (nkv * hd, d), p + "self_attn.v_proj.bias": (nkv * hd,),
                  p + "self_attn.o_proj.weight": (d, nh * hd),
                  p + "mlp.gate_proj.weight": (i, d), p + "mlp.up_proj.weight": (i, d),
                  p + "mlp.down_proj.weight": (d, i)})
    if not cfg["tie_word_embeddings"]:
        s[lm_head_name] = (v, d)
    return s


def siglip_shapes(v, prefix):
    d, i, c, ps = v["hidden_size"], v["intermediate_size"], v["num_channels"], v["patch_size"]
    n = (v["image_size"] // ps) ** 2
    s = {prefix + "embeddings.patch_embedding.weight": (d, c, ps, ps),
         prefix + "embeddings.patch_embedding.bias": (d,),
         prefix + "embeddings.position_embedding.weight": (n, d),
         prefix + "post_layernorm.weight": (d,), prefix + "post_layernorm.bias": (d,)}
    for l in range(v["num_hidden_layers"]):
        p = f"{prefix}encoder.layers.{l}."
        for ln in ("layer_norm1", "layer_norm2"):
            s[p + ln + ".weight"] = (d,)
            s[p + ln + ".bias"] = (d,)
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            s[p + f"self_attn.{proj}.weight"] = (d, d)
            s[p + f"self_attn.{proj}.bias"] = (d,)
        s[p + "mlp.fc1.weight"] = (i, d)
        s[p + "mlp.fc1.bias"] = (i,)
        s[p + "mlp.fc2.weight"] = (d, i)
        s[p + "mlp.fc2.bias"] = (d,)
    return s


TEXT = {"vocab_size": 256, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512,
        "rms_norm_eps": 1e-6, "hidden_act": "silu", "model_type": "qwen2"}


def write_case(name, cfg, W, ref, prompts, pixel_list, margin_floor=1e-4):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    write_safetensors(os.path.join(d, "model.safetensors"), W)
    W64 = {k: v.double() for k, v in W.items()}
    ref.W = W64
    out, min_margin = {}, float("inf")
    for i, ids in enumerate(prompts):
        if pixel_list is None:
            step = lambda seq: ref.logits(seq)
        else:
            px = pixel_list[i].double()
            step = lambda seq, px=px: ref.logits(seq, px)
            out[f"pixel_values.{i}"] = pixel_list[i].float()
        out[f"input_ids.{i}"] = ids
        out[f"logits.{i}"] = step(ids).float()
        toks, margin = greedy(step, ids, GREEDY_NEW_TOKENS)
        out[f"greedy.{i}"] = toks
        min_margin = min(min_margin, margin)
    write_safetensors(os.path.join(d, "reference.safetensors"), out)
    meta = {"format_version": FORMAT_VERSION, "generator": "tests/tools/model_reference.py",
            "num_prompts": len(prompts), "greedy_new_tokens": GREEDY_NEW_TOKENS,
            "min_greedy_margin": min_margin,
            "regenerate": "/usr/bin/python3 tests/tools/model_reference.py"}
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(meta, f, indent=2)
    print(f"{name}: {len(prompts)} prompts, smallest greedy top1-top2 margin {min_margin:.3e}")
    if min_margin < margin_floor:
        sys.exit(f"{name}: greedy margin {min_margin} below {margin_floor}: pick another seed")


def main():
    gen = torch.Generator().manual_seed(1234)

    # ---- ref_qwen2: text model, tied embeddings, transformers 4.x config keys --------------
    cfg = dict(TEXT, architectures=["Qwen2ForCausalLM"], rope_theta=10000.0,
               tie_word_embeddings=True, torch_dtype="float32", bos_token_id=1, eos_token_id=2)
    W = random_weights(qwen2_shapes(cfg, "model.", "lm_head.weight"), gen, std=0.15)
    prompts = [torch.randint(0, 256, (n,), generator=gen) for n in (5, 11, 17)]
    write_case("ref_qwen2", cfg, W, Qwen2Ref(W, cfg), prompts, None)

    # ---- ref_llava: SigLIP + Qwen2, untied, transformers 5.x names and keys ----------------
    text = dict(TEXT, rope_parameters={"rope_theta": 1000000.0, "rope_type": "default"},
                tie_word_embeddings=False)
    vision = {"model_type": "siglip_vision_model", "hidden_size": 32, "intermediate_size": 64,
              "num_hidden_layers": 2, "num_attention_heads": 2, "num_channels": 3,
              "image_size": 32, "patch_size": 8, "layer_norm_eps": 1e-6,
              "hidden_act": "gelu_pytorch_tanh", "vision_use_head": False}
    image_token = 255
    cfg = {"architectures": ["LlavaForConditionalGeneration"], "model_type": "llava",
           "text_config": text, "vision_config": vision, "image_token_id": image_token,
           "projector_hidden_act": "gelu", "vision_feature_layer": -1,
           "vision_feature_select_strategy": "full", "image_seq_length": 16,
           "multimodal_projector_bias": True, "tie_word_embeddings": False}
    shapes = qwen2_shapes(text, "model.language_model.", "lm_head.weight")
    shapes.update(siglip_shapes(vision, "model.vision_tower.vision_model."))
    shapes.update({"model.multi_modal_projector.linear_1.weight": (64, 32),
                   "model.multi_modal_projector.linear_1.bias": (64,),
                   "model.multi_modal_projector.linear_2.weight": (64, 64),
                   "model.multi_modal_projector.linear_2.bias": (64,)})
    W = random_weights(shapes, gen, std=0.15)
    n_img = 16
    prompts, pixels = [], []
    for pre, post in ((3, 5), (2, 9)):
        ids = torch.cat([torch.randint(0, 255, (pre,), generator=gen),
                         torch.full((n_img,), image_token, dtype=torch.int64),
                         torch.randint(0, 255, (post,), generator=gen)])
        prompts.append(ids)
        pixels.append(torch.randn(1, 3, 32, 32, generator=gen))
    write_case("ref_llava", cfg, W, LlavaRef(W, cfg), prompts, pixels)


if __name__ == "__main__":
    main()
