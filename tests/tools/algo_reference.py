#!/usr/bin/python3
"""Independent reference numbers for the C++ algorithm library (tests/unit/algo/).

Written from the equations of DESIGN.md section 1 (RIL: rewards, Dr.GRPO advantages, clipped
ratio objective with per-token k3 KL, GAIL-style discriminator BCE), NOT from the C++ code:
values are computed token by token with Python floats (math module, float64), gradients are
written out analytically and cross-checked here against torch autograd of a second, per-token
scalar formulation. The C++ vectorised float64 path is compared with these numbers.

Equations (response i of a question's group, valid token t, l = log pi_theta):
  R_i      = 1[D(o_i) < 0.5] + answer_correct_i            (each part can be switched off)
  A_i      = R_i - mean_{j in group(i)} R_j                 (no std division)
  r        = exp(l - l_old)
  KL_k3    = exp(l_ref - l) - (l_ref - l) - 1
  term     = min(r A_i, clip(r, 1-eps, 1+eps) A_i) - beta KL_k3
  loss     = -(sum_{i,t valid} term) / normaliser           (normaliser = max_new_tokens * N)
  d loss / d l = -( [not clipped] r A_i - beta (1 - exp(l_ref - l)) ) / normaliser  (valid t)
  BCE      = mean_i -( y_i log s(x_i) + (1 - y_i) log(1 - s(x_i)) ), y = 1 student, 0 teacher
  linear lr(step) = start + (end - start) * min(step, N-1) / (N-1)

Writes tests/fixtures/algo/reference.safetensors (all float64 except masks/labels/indices;
__metadata__ holds format_version and the list of cases). Regenerate with:
  /usr/bin/python3 tests/tools/algo_reference.py
"""
import json
import math
import os
import random
import struct

import torch

FORMAT_VERSION = 1
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "algo", "reference.safetensors")
rng = random.Random(20251027)

# ----------------------------------------------------------------------------------------------
# safetensors writer (the safetensors package is not installed here)
_DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.int64: "I64", torch.uint8: "U8"}


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def f64(values):
    return torch.tensor(values, dtype=torch.float64)


def i64(values):
    return torch.tensor(values, dtype=torch.int64)


# ----------------------------------------------------------------------------------------------
# Rewards and advantages


def reward(prob, correct, use_d, use_a):
    d = (1.0 if prob < 0.5 else 0.0) if use_d else 0.0
    a = (1.0 if correct else 0.0) if use_a else 0.0
    return d + a, d, a


def advantages(rewards, groups):
    out = []
    for i, r in enumerate(rewards):
        members = [rewards[j] for j in range(len(rewards)) if groups[j] == groups[i]]
        out.append(r - sum(members) / len(members))
    return out


# ----------------------------------------------------------------------------------------------
# Policy loss, token by token


def token_term(l, l_old, l_ref, a, eps, beta):
    r = math.exp(l - l_old)
    rc = min(max(r, 1.0 - eps), 1.0 + eps)
    pg = min(r * a, rc * a)
    kl = math.exp(l_ref - l) - (l_ref - l) - 1.0
    clipped = (r > 1.0 + eps and a > 0) or (r < 1.0 - eps and a < 0)
    dpg = 0.0 if clipped else r * a
    dkl = 1.0 - math.exp(l_ref - l)
    return pg, kl, r, clipped, dpg - beta * dkl


def policy_reference(logp, old, ref, adv, mask, eps, beta, norm):
    n, t = len(logp), len(logp[0])
    pg_sum = kl_sum = ratio_sum = 0.0
    clipped_count = count = 0
    grad = [[0.0] * t for _ in range(n)]
    for i in range(n):
        for k in range(t):
            if not mask[i][k]:
                continue
            pg, kl, r, clipped, dterm = token_term(logp[i][k], old[i][k], ref[i][k], adv[i], eps,
                                                   beta)
            pg_sum += pg
            kl_sum += kl
            ratio_sum += r
            clipped_count += int(clipped)
            count += 1
            grad[i][k] = -dterm / norm
    loss = -(pg_sum - beta * kl_sum) / norm
    c = max(count, 1)
    return dict(loss=loss, grad=grad, pg_term=pg_sum / norm, kl_term=kl_sum / norm,
                mean_kl=kl_sum / c, mean_ratio=ratio_sum / c, clip_fraction=clipped_count / c,
                num_tokens=float(count))


def autograd_check(logp, old, ref, adv, mask, eps, beta, norm, grad):
    """Second formulation: torch scalar autograd, one token at a time."""
    n, t = len(logp), len(logp[0])
    leaves = [[torch.tensor(logp[i][k], dtype=torch.float64, requires_grad=True)
               for k in range(t)] for i in range(n)]
    total = torch.zeros((), dtype=torch.float64)
    for i in range(n):
        for k in range(t):
            if not mask[i][k]:
                continue
            l = leaves[i][k]
            ratio = torch.exp(l - old[i][k])
            surr = torch.min(torch.stack([ratio * adv[i],
                                          torch.clamp(ratio, 1 - eps, 1 + eps) * adv[i]]))
            diff = ref[i][k] - l
            total = total + surr - beta * (torch.exp(diff) - diff - 1)
    loss = -total / norm
    loss.backward()
    worst = 0.0
    for i in range(n):
        for k in range(t):
            g = leaves[i][k].grad
            g = 0.0 if g is None else g.item()
            worst = max(worst, abs(g - grad[i][k]))
    assert worst < 1e-12, f"analytic and autograd gradients differ by {worst}"
    return loss.item()


def make_policy_case(name, n, t, group, eps, beta, old_sd, ref_sd, garbage, vocab, out, cases):
    lengths = [rng.randint(1, t) for _ in range(n)]
    lengths[0] = t  # one full-length response
    mask = [[1 if k < lengths[i] else 0 for k in range(t)] for i in range(n)]
    logits = None
    if vocab:
        logits = [[[rng.gauss(0.0, 2.0) for _ in range(vocab)] for _ in range(t)] for _ in range(n)]
        logp = []
        for i in range(n):
            row = []
            for k in range(t):
                z = logits[i][k]
                m = max(z)
                lse = m + math.log(sum(math.exp(v - m) for v in z))
                row.append(z[rng.randrange(vocab)] - lse)
            logp.append(row)
    else:
        logp = [[-rng.expovariate(0.7) for _ in range(t)] for _ in range(n)]
    old = [[logp[i][k] + rng.gauss(0.0, old_sd) for k in range(t)] for i in range(n)]
    ref = [[logp[i][k] + rng.gauss(0.0, ref_sd) for k in range(t)] for i in range(n)]
    groups = [i // group for i in range(n)]
    rewards = [float(rng.randint(0, 2)) for _ in range(n)]
    adv = advantages(rewards, groups)
    norm = float(t * n)  # max_new_tokens * number of responses
    ref_out = policy_reference(logp, old, ref, adv, mask, eps, beta, norm)
    loss2 = autograd_check(logp, old, ref, adv, mask, eps, beta, norm, ref_out["grad"])
    assert abs(loss2 - ref_out["loss"]) < 1e-12
    # Garbage where mask is 0: must not matter.
    for i in range(n):
        for k in range(t):
            if not mask[i][k]:
                logp[i][k] = garbage[0]
                old[i][k] = garbage[1]
                ref[i][k] = garbage[2]
    p = f"policy.{name}."
    out[p + "logp"] = f64(logp)
    out[p + "logp_old"] = f64(old)
    out[p + "logp_ref"] = f64(ref)
    out[p + "advantages"] = f64(adv)
    out[p + "mask"] = torch.tensor(mask, dtype=torch.uint8)
    out[p + "options"] = f64([eps, beta, norm])
    out[p + "expected.loss"] = f64(ref_out["loss"])
    out[p + "expected.grad_logp"] = f64(ref_out["grad"])
    out[p + "expected.diagnostics"] = f64([ref_out["pg_term"], ref_out["kl_term"],
                                           ref_out["mean_kl"], ref_out["clip_fraction"],
                                           ref_out["mean_ratio"], ref_out["num_tokens"]])
    if logits is not None:
        ent_sum, count = 0.0, 0
        for i in range(n):
            for k in range(t):
                if not mask[i][k]:
                    continue
                z = logits[i][k]
                m = max(z)
                lse = m + math.log(sum(math.exp(v - m) for v in z))
                ent_sum += -sum(math.exp(v - lse) * (v - lse) for v in z)
                count += 1
        out[p + "logits"] = f64(logits)
        out[p + "expected.entropy"] = f64(ent_sum / max(count, 1))
    cases.append(("policy", name, ref_out["clip_fraction"]))


# ----------------------------------------------------------------------------------------------
# Discriminator BCE


def log_sigmoid(x):
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def make_bce_case(name, logits, labels, out, cases):
    n = len(logits)
    loss = 0.0
    grad = []
    correct = 0
    for x, y in zip(logits, labels):
        loss += -(y * log_sigmoid(x) + (1 - y) * log_sigmoid(-x))
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        grad.append((s - y) / n)
        correct += int((s >= 0.5) == (y == 1))
    p = f"bce.{name}."
    out[p + "logits"] = f64(logits)
    out[p + "is_student"] = torch.tensor(labels, dtype=torch.uint8)
    out[p + "expected.loss"] = f64(loss / n)
    out[p + "expected.grad_logits"] = f64(grad)
    out[p + "expected.accuracy"] = f64(correct / n)
    cases.append(("bce", name, None))


def main():
    out, cases = {}, []

    # Rewards: D probabilities (0.5 exactly included) and verdicts, every switch combination.
    probs = [rng.random() for _ in range(14)] + [0.5, 0.0, 1.0, 0.49999]
    correct = [rng.random() < 0.5 for _ in probs]
    out["rewards.student_prob"] = f64(probs)
    out["rewards.answer_correct"] = torch.tensor(correct, dtype=torch.uint8)
    for use_d in (0, 1):
        for use_a in (0, 1):
            parts = [reward(p, c, use_d, use_a) for p, c in zip(probs, correct)]
            key = f"rewards.expected.d{use_d}a{use_a}."
            out[key + "total"] = f64([x[0] for x in parts])
            out[key + "discriminator"] = f64([x[1] for x in parts])
            out[key + "answer"] = f64([x[2] for x in parts])

    # Advantages: contiguous groups of 2G = 8 (G = 4), and shuffled groups of unequal sizes.
    r = [float(rng.randint(0, 2)) for _ in range(24)]
    out["adv.contiguous.rewards"] = f64(r)
    out["adv.contiguous.group_size"] = i64([8])
    out["adv.contiguous.expected"] = f64(advantages(r, [i // 8 for i in range(24)]))
    groups = [0] * 5 + [1] * 3 + [2] * 8 + [4] * 2  # group 3 unused
    rng.shuffle(groups)
    r = [float(rng.randint(0, 2)) for _ in groups]
    out["adv.indexed.rewards"] = f64(r)
    out["adv.indexed.group_index"] = i64(groups)
    out["adv.indexed.expected"] = f64(advantages(r, groups))

    # Policy loss cases: name, N, T, group, eps, beta, old_sd, ref_sd, garbage, vocab.
    make_policy_case("small", 8, 10, 4, 0.2, 0.01, 0.1, 0.2, (0.0, 0.0, 0.0), 0, out, cases)
    make_policy_case("clipping", 8, 12, 8, 0.2, 0.01, 0.6, 0.3, (3.0, -7.0, 5.0), 0, out, cases)
    make_policy_case("big_beta", 6, 9, 3, 0.1, 0.5, 0.3, 0.8, (float("nan"), 1e4, -1e4), 0, out,
                     cases)
    make_policy_case("no_kl", 8, 7, 8, 0.3, 0.0, 0.5, 0.5, (-50.0, 50.0, 0.0), 0, out, cases)
    make_policy_case("logits", 4, 6, 4, 0.2, 0.04, 0.4, 0.3, (0.0, 0.0, 0.0), 11, out, cases)

    # BCE: moderate and extreme logits (stability), both labels.
    xs = [rng.gauss(0.0, 2.0) for _ in range(12)]
    ys = [rng.randint(0, 1) for _ in xs]
    make_bce_case("random", xs, ys, out, cases)
    make_bce_case("extreme", [40.0, -40.0, 200.0, -200.0, 0.0, 0.0, 35.0, -35.0],
                  [1, 0, 0, 1, 1, 0, 0, 1], out, cases)

    # Schedules: linear 1e-5 -> 1e-6 over 10 updates, queried at 0..12.
    start, end, n = 1e-5, 1e-6, 10
    out["lr.linear.params"] = f64([start, end, float(n)])
    out["lr.linear.expected"] = f64([start + (end - start) * min(s, n - 1) / (n - 1)
                                     for s in range(13)])

    meta = {"format_version": str(FORMAT_VERSION), "generator": "tests/tools/algo_reference.py",
            "policy_cases": ",".join(c[1] for c in cases if c[0] == "policy"),
            "bce_cases": ",".join(c[1] for c in cases if c[0] == "bce")}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    write_safetensors(OUT, out, meta)
    for kind, name, clip in cases:
        extra = f" clip_fraction={clip:.3f}" if clip is not None else ""
        print(f"{kind}.{name}{extra}")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
