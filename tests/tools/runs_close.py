#!/usr/bin/env python3
"""runs_close.py RUN_A RUN_B START_SAFETENSORS STEPS: two `ril train` run directories agree within
float tolerance (the same training done by other rank counts or sharding modes).

Weights of the student and the discriminator: max |difference| <= 0.02 * lr * steps (lr 1e-3, the
tests' rate), and the student moved from START by at least 10x that (so the check can fail).
Metrics: every column but times within 1e-4 relative, compared by step (a run resumed into a new
run directory holds only the rows of its own steps). Safetensors are read by hand (no torch)."""
import csv, json, math, struct, sys


def tensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", (name, t["dtype"])
        b, e = t["data_offsets"]
        out[name] = struct.unpack("<%df" % ((e - b) // 4), data[b:e])
    return out


def max_diff(a, b):
    assert a.keys() == b.keys()
    return max(max(abs(x - y) for x, y in zip(a[k], b[k])) for k in a)


def main(run_a, run_b, start, steps):
    lr, steps = 1e-3, int(steps)
    tolerance = 0.02 * lr * steps
    one = tensors(run_a + "/model/model.safetensors")
    worst = max(max_diff(one, tensors(run_b + "/model/model.safetensors")),
                max_diff(tensors(run_a + "/discriminator/model.safetensors"),
                         tensors(run_b + "/discriminator/model.safetensors")))
    moved = max_diff(one, tensors(start))
    print("max |weight difference| %s vs %s: %.3g (tolerance %.3g); the student moved by up to %.3g"
          % (run_a, run_b, worst, tolerance, moved))
    assert worst <= tolerance, worst
    assert moved >= 10 * tolerance, moved
    ra, rb = ({r["step"]: r for r in csv.DictReader(open(p + "/metrics.csv"))} for p in (run_a, run_b))
    assert len(ra) == steps and rb and set(rb) <= set(ra), (sorted(ra), sorted(rb))
    for x, y in ((ra[s], rb[s]) for s in rb):
        for k in x:
            if k.startswith("time_") or k == "tokens_per_s":
                continue
            u, v = float(x[k]), float(y[k])
            assert (math.isnan(u) and math.isnan(v)) or abs(u - v) <= 1e-4 * max(1.0, abs(u)), (k, u, v)


if __name__ == "__main__":
    main(*sys.argv[1:5])
