#!/usr/bin/env python3
"""The table, intervals, training signals and bar chart of jobs/ril-experiment.sh.

Reads the `ril eval` JSON of every run (models named CONFIG-seedK plus `warm-up`) and each run's
metrics.csv. Accuracy: mean +- std over seeds per family and overall. Intervals: 95 % paired
bootstrap over test questions of (mean over a configuration's seeds) - (mean over the
baseline's seeds), questions resampled with replacement (the same draw for both sides), 10000
resamples, percentile method: the same statistic as algo/paired_bootstrap.h's
paired_bootstrap_runs. Training signals: mean over the last 10 steps of each run, then over seeds.
"""
import argparse
import csv
import datetime
import json
import math
import os
import platform
import random

SIGNALS = [  # column, heading
    ("kl_student", "KL student tok."), ("kl_teacher", "KL teacher tok."), ("disc_acc", "D acc."),
    ("response_len_student", "len S"), ("response_len_teacher", "len T"),
    ("reward_disc_student", "D reward S"), ("reward_disc_teacher", "D reward T"),
    ("answer_acc_student", "answer S (sampled)"), ("entropy", "entropy"), ("limit_hit_student", "cut S"),
]


def mean(v):
    return sum(v) / len(v)


def std(v):
    if len(v) < 2:
        return 0.0
    m = mean(v)
    return math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))


def outcomes(model, family=None):
    return [1.0 if q["correct"] else 0.0 for q in model["questions"] if family is None or q["family"] == family]


def pooled_bootstrap(a_runs, b_runs, resamples=10000, level=0.95, seed=20251022):
    """(difference, low, high) of mean-over-runs accuracy, A minus B, paired over questions."""
    n = len(a_runs[0])
    d = [mean([r[i] for r in a_runs]) - mean([r[i] for r in b_runs]) for i in range(n)]
    rng = random.Random(seed)
    means = sorted(sum(d[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))

    def quantile(q):
        pos = q * (len(means) - 1)
        lo = int(math.floor(pos))
        hi = min(lo + 1, len(means) - 1)
        return means[lo] + (pos - lo) * (means[hi] - means[lo])

    return mean(d), quantile((1 - level) / 2), quantile((1 + level) / 2)


def last_steps_mean(path, column, k=10):
    rows = list(csv.DictReader(open(path)))
    vals = []
    for r in rows[-k:]:
        try:
            v = float(r.get(column, "nan"))
        except ValueError:
            continue
        if math.isfinite(v):
            vals.append(v)
    return mean(vals) if vals else float("nan")


def fmt_pm(v):
    return f"{100 * mean(v):.1f} ± {100 * std(v):.1f}"


def fmt_ci(d, lo, hi):
    mark = " *" if lo > 0 or hi < 0 else ""
    return f"{100 * d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]{mark}"


def bar_chart(path, families, configs, acc):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups = families + ["overall"]
    width = 0.8 / len(configs)
    fig, ax = plt.subplots(figsize=(11, 4.2), dpi=110)
    for k, cfg in enumerate(configs):
        xs = [g + (k - (len(configs) - 1) / 2) * width for g in range(len(groups))]
        means = [100 * mean(acc[cfg][f]) for f in groups]
        errs = [100 * std(acc[cfg][f]) for f in groups]
        ax.bar(xs, means, width, yerr=errs, capsize=2, label=cfg)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups)
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(ncol=len(configs), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 1.12))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def main():
    p = argparse.ArgumentParser()
    for name in ("eval", "runs", "configs", "baseline", "out-md", "out-png", "commands", "wall-seconds", "settings"):
        p.add_argument("--" + name, required=True)
    a = p.parse_args()
    report = json.load(open(a.eval))
    families = report["families"]
    by_name = {m["name"]: m for m in report["models"]}
    configs = ["warm-up"] + a.configs.split()
    runs = {c: sorted(n for n in by_name if n.startswith(c + "-seed")) for c in configs[1:]}
    runs["warm-up"] = ["warm-up"]
    acc = {c: {f: [by_name[n]["families"][f]["accuracy"] for n in runs[c]] for f in families} for c in configs}
    for c in configs:
        acc[c]["overall"] = [by_name[n]["overall"]["accuracy"] for n in runs[c]]

    lines = [f"| run | seeds | " + " | ".join(families) + " | overall |", "|---|---|" + "---|" * (len(families) + 1)]
    for c in configs:
        lines.append(f"| {c} | {len(runs[c])} | " + " | ".join(fmt_pm(acc[c][f]) for f in families + ["overall"]) + " |")
    table = "\n".join(lines)

    def intervals(baseline):
        rows = [f"| run - {baseline} | " + " | ".join(families) + " | overall |", "|---|" + "---|" * (len(families) + 1)]
        for c in configs:
            if c == baseline:
                continue
            cells = []
            for f in families + [None]:
                ar = [outcomes(by_name[n], f) for n in runs[c]]
                br = [outcomes(by_name[n], f) for n in runs[baseline]]
                cells.append(fmt_ci(*pooled_bootstrap(ar, br)))
            rows.append(f"| {c} | " + " | ".join(cells) + " |")
        return "\n".join(rows)

    sig = ["| run | " + " | ".join(h for _, h in SIGNALS) + " |", "|---|" + "---|" * len(SIGNALS)]
    for c in configs[1:]:
        vals = []
        for col, _ in SIGNALS:
            per_run = [last_steps_mean(os.path.join(a.runs, n, "metrics.csv"), col) for n in runs[c]]
            per_run = [v for v in per_run if math.isfinite(v)]
            vals.append(f"{mean(per_run):.3f}" if per_run else "-")
        sig.append(f"| {c} | " + " | ".join(vals) + " |")

    bar_chart(a.out_png, families, configs, acc)
    wall = int(a.wall_seconds)
    commands = open(a.commands).read().strip()
    with open(a.out_md, "w") as out:
        out.write(f"""# RIL ablations on the synthetic tasks

Machine: {platform.node()} ({platform.machine()}, {os.cpu_count()} cores), date {datetime.date.today()}.
Wall time of the experiment (all runs and the evaluation): {wall // 60} min {wall % 60} s.
Settings: {a.settings}.

Held-out accuracy (%) on {report['questions']} test questions, greedy decoding (at most
{report['generation']['max_new_tokens']} new tokens), mean ± std over seeds, per task family and overall:

{table}

![accuracy per family, mean and std over seeds]({os.path.basename(a.out_png)})

Differences in accuracy points against Dr.GRPO (the same steps, no discriminator, no teacher
responses), averaged over seeds, with a 95 % paired bootstrap interval over the test questions
(* = the interval excludes zero):

{intervals(a.baseline)}

The same against the warm-up (the student before RIL):

{intervals("warm-up")}

Training signals, mean of the last 10 steps of each run, then over seeds (KL to the reference
per token on the student's own samples and on teacher responses; D accuracy on the step's 2G
responses before its update; response lengths in tokens; the discriminator part of the reward;
the sampled answers' accuracy; the policy's token entropy; the share of sampled responses cut at
the token limit):

{chr(10).join(sig)}

Commands (in order):

```
{commands}
```
""")
    print(table)
    print(f"written to {a.out_md} and {a.out_png}")


if __name__ == "__main__":
    main()
