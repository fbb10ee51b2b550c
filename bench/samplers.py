#!/usr/bin/env python3
"""Sampler and pruner benchmark: trialog's TPE, NSGA-II, random sampler and median pruner against
Optuna 5.0.0 (and Rustuna's TPE for speed). Not a CI test; results go to docs/SAMPLERS.md.

    cargo build --release
    nice python3 bench/samplers.py all --seeds 20 --out /tmp/samplers.json > /tmp/samplers.md

Parts (each also runs alone: `check`, `quality`, `mo`, `pruner`, `speed`):
- check:   every problem evaluated at fixed points in Python and by `trialog bench sampler-eval`
           must agree (relative 1e-12), so both sides optimize the same functions.
- quality: Branin, Hartmann6, Rosenbrock 5-D and a mixed space (int with step, log float,
           categorical); trialog TPE, Optuna TPESampler(seed=s), trialog random; seeds 0..S-1;
           budgets 50/100/200; median and interquartile range of log10 regret of the best value,
           and two-sided Mann-Whitney U tests (trialog TPE vs Optuna TPE, each TPE vs random).
- mo:      ZDT1 (30 variables, two objectives): trialog TPE and NSGA-II vs Optuna's; hypervolume
           (reference point (11, 11)) at each budget, as log10 of the gap to the true front's.
- pruner:  a synthetic learning curve (30 steps), 100 TPE trials with MedianPruner() vs none, for
           trialog and Optuna: total steps and the best final value (median over seeds).
- speed:   time per trial (ask + 5 float suggestions) once 1,000 trials exist, wall and CPU time;
           trialog vs Optuna vs Rustuna (if installed).
Studies live in memory on both sides, so the samplers are measured, not the storage.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
import warnings

import optuna

warnings.simplefilter("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)

HERE = os.path.dirname(os.path.abspath(__file__))
TRIALOG = os.path.join(os.path.dirname(HERE), "target", "release", "trialog")

OPTIMA = {
    "branin": 0.397887357729738,
    "hartmann6": -3.32236801141551,
    "rosenbrock5": 0.0,
    "mixed": 0.0016,
}
SINGLE = list(OPTIMA)
REGRET_FLOOR = 1e-12
ZDT1_DIM = 30
ZDT1_REF = (11.0, 11.0)
ZDT1_BEST_HV = 11.0 * 11.0 - 1.0 / 3.0  # the front f2 = 1 - sqrt(f1) removes 1/3 of [0,1]x[0,1]
CURVE_STEPS = 30
KINDS = {"a": 0.5, "b": 0.0, "c": 1.0}

HARTMANN_ALPHA = [1.0, 1.2, 3.0, 3.2]
HARTMANN_A = [
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
]
HARTMANN_P = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
]


# ---- problems (the same as src/cli/bench/problems.rs) --------------------------------------


def suggest(problem: str, trial) -> list:
    if problem == "branin":
        return [trial.suggest_float("x1", -5.0, 10.0), trial.suggest_float("x2", 0.0, 15.0)]
    if problem == "hartmann6":
        return [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(6)]
    if problem == "rosenbrock5":
        return [trial.suggest_float(f"x{i}", -5.0, 10.0) for i in range(5)]
    if problem == "mixed":
        n = trial.suggest_int("n", 0, 100, step=5)
        lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        kind = trial.suggest_categorical("kind", list(KINDS))
        return [n, lr, kind]
    if problem == "zdt1":
        return [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(ZDT1_DIM)]
    if problem == "curve":
        return [trial.suggest_float("x", 0.0, 1.0), trial.suggest_float("lr", 1e-4, 1.0, log=True)]
    raise ValueError(problem)


def value(problem: str, p: list) -> list[float]:
    if problem == "branin":
        x1, x2 = p
        b = 5.1 / (4.0 * math.pi**2)
        c = 5.0 / math.pi
        t = 1.0 / (8.0 * math.pi)
        return [(x2 - b * x1 * x1 + c * x1 - 6.0) ** 2 + 10.0 * (1.0 - t) * math.cos(x1) + 10.0]
    if problem == "hartmann6":
        s = 0.0
        for i in range(4):
            inner = sum(HARTMANN_A[i][j] * (p[j] - HARTMANN_P[i][j]) ** 2 for j in range(6))
            s += HARTMANN_ALPHA[i] * math.exp(-inner)
        return [-s]
    if problem == "rosenbrock5":
        return [sum(100.0 * (p[i + 1] - p[i] ** 2) ** 2 + (1.0 - p[i]) ** 2 for i in range(4))]
    if problem == "mixed":
        n, lr, kind = p
        return [((n - 37.0) / 50.0) ** 2 + (math.log10(lr) + 3.3) ** 2 / 4.0 + KINDS[kind]]
    if problem == "zdt1":
        f1 = p[0]
        g = 1.0 + 9.0 * sum(p[1:]) / (len(p) - 1)
        return [f1, g * (1.0 - math.sqrt(f1 / g))]
    if problem == "curve":
        return [curve(p, CURVE_STEPS - 1)]
    raise ValueError(problem)


def curve(p: list, step: int) -> float:
    x, lr = p
    last = (math.log10(lr) + 2.0) ** 2 / 4.0 + (x - 0.3) ** 2
    return last + (0.5 + 0.2 * x) * math.exp(-step / 8.0)


CHECK_POINTS = {
    "branin": [[math.pi, 2.275], [-5.0, 0.0], [10.0, 15.0], [1.25, 7.5]],
    "hartmann6": [[0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573], [0.5] * 6, [0.0] * 6],
    "rosenbrock5": [[1.0] * 5, [0.0] * 5, [-5.0, 10.0, 2.5, -1.25, 3.0]],
    "mixed": [[35, 10**-3.3, "b"], [0, 1e-5, "a"], [100, 0.1, "c"], [40, 0.0007, "b"]],
    "zdt1": [[0.25] + [0.0] * 29, [0.5] * 30, [1.0] + [0.1] * 29],
    "curve": [[0.3, 0.01], [1.0, 1e-4], [0.0, 1.0]],
}


# ---- running the samplers --------------------------------------------------------------------


def run_trialog(problem: str, sampler: str, seeds: int, trials: int, pruner: str = "none") -> list:
    cmd = [TRIALOG, "bench", "sampler", "--problem", problem, "--sampler", sampler,
           "--pruner", pruner, "--seed", "0", "--runs", str(seeds), "--trials", str(trials)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def run_optuna(problem: str, sampler: str, seed: int, trials: int, pruner: str = "none") -> dict:
    if sampler == "tpe":
        s = optuna.samplers.TPESampler(seed=seed)
    elif sampler == "nsga2":
        s = optuna.samplers.NSGAIISampler(seed=seed)
    else:
        s = optuna.samplers.RandomSampler(seed=seed)
    p = optuna.pruners.MedianPruner() if pruner == "median" else optuna.pruners.NopPruner()
    directions = ["minimize", "minimize"] if problem == "zdt1" else ["minimize"]
    study = optuna.create_study(sampler=s, pruner=p, directions=directions)
    steps = 0

    def objective(trial):
        nonlocal steps
        point = suggest(problem, trial)
        if problem == "curve":
            for step in range(CURVE_STEPS):
                steps += 1
                trial.report(curve(point, step), step)
                if trial.should_prune():
                    raise optuna.TrialPruned()
        v = value(problem, point)
        return v if problem == "zdt1" else v[0]

    t0 = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    seconds = time.perf_counter() - t0
    ts = study.trials
    return {
        "problem": problem,
        "sampler": sampler,
        "seed": seed,
        "values": [(t.values if problem == "zdt1" else t.value) if t.values else None for t in ts],
        "complete": [t.state == optuna.trial.TrialState.COMPLETE for t in ts],
        "steps": steps,
        "seconds": seconds,
    }


# ---- statistics --------------------------------------------------------------------------


def quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def mann_whitney(a: list[float], b: list[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test (normal approximation, tie and continuity
    corrections), as scipy.stats.mannwhitneyu(method="asymptotic")."""
    n1, n2 = len(a), len(b)
    pooled = sorted((v, i) for i, v in enumerate(a + b))
    ranks = [0.0] * (n1 + n2)
    ties = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        r = (i + j) / 2.0 + 1.0
        for k in range(i, j + 1):
            ranks[pooled[k][1]] = r
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2.0
    mu = n1 * n2 / 2.0
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12.0 * ((n + 1) - ties / (n * (n - 1))))
    if sigma == 0:
        return 1.0
    z = (abs(u1 - mu) - 0.5) / sigma
    return max(0.0, min(1.0, math.erfc(z / math.sqrt(2.0))))


def best_so_far(run: dict, budget: int) -> float:
    vals = [v for v, c in zip(run["values"][:budget], run["complete"][:budget]) if c]
    return min(vals) if vals else math.inf


def log_regret(problem: str, best: float) -> float:
    return math.log10(max(best - OPTIMA[problem], REGRET_FLOOR))


def hv2d(points: list, ref: tuple) -> float:
    pts = sorted(p for p in points if p[0] < ref[0] and p[1] < ref[1])
    area, y = 0.0, ref[1]
    for x, f2 in pts:
        if f2 < y:
            area += (ref[0] - x) * (y - f2)
            y = f2
    return area


def hv_gap(run: dict, budget: int) -> float:
    pts = [v for v, c in zip(run["values"][:budget], run["complete"][:budget]) if c]
    return math.log10(max(ZDT1_BEST_HV - hv2d(pts, ZDT1_REF), REGRET_FLOOR))


def summary(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3f} [{quantile(xs, 0.25):.3f}, {quantile(xs, 0.75):.3f}]"


def verdict(p: float, a: list[float], b: list[float]) -> str:
    if p >= 0.05:
        return "n.s."
    return "better" if statistics.median(a) < statistics.median(b) else "WORSE"


# ---- parts ---------------------------------------------------------------------------------


def part_check(args) -> dict:
    worst = 0.0
    for problem, points in CHECK_POINTS.items():
        for p in points:
            want = value(problem, p)
            text = ",".join(str(x) if not isinstance(x, float) else repr(x) for x in p)
            out = subprocess.run([TRIALOG, "bench", "sampler-eval", "--problem", problem,
                                  "--point", text], check=True, capture_output=True, text=True)
            got = json.loads(out.stdout)
            for g, w in zip(got, want):
                err = abs(g - w) / max(abs(w), 1.0)
                worst = max(worst, err)
                if err > 1e-12:
                    raise SystemExit(f"check: {problem} at {p}: trialog {g}, Python {w}")
    print(f"check: all problems agree at {sum(map(len, CHECK_POINTS.values()))} points "
          f"(largest relative difference {worst:.1e})\n")
    return {"points": sum(map(len, CHECK_POINTS.values())), "worst_rel": worst}


def part_quality(args) -> dict:
    budgets = args.budgets
    trials = max(budgets)
    results = {}
    print(f"## Quality: log10 regret of the best value, median [IQR] over {args.seeds} seeds\n")
    print("| problem | budget | trialog TPE | Optuna TPE | trialog random | p (trialog vs Optuna) "
          "| p (trialog TPE vs random) | p (Optuna TPE vs random) |")
    print("|---|---|---|---|---|---|---|---|")
    for problem in args.problems:
        runs = {
            "trialog-tpe": run_trialog(problem, "tpe", args.seeds, trials),
            "trialog-random": run_trialog(problem, "random", args.seeds, trials),
            "optuna-tpe": [run_optuna(problem, "tpe", s, trials) for s in range(args.seeds)],
        }
        results[problem] = runs
        for b in budgets:
            r = {k: [log_regret(problem, best_so_far(run, b)) for run in v] for k, v in runs.items()}
            t, o, rnd = r["trialog-tpe"], r["optuna-tpe"], r["trialog-random"]
            p_to, p_tr, p_or = mann_whitney(t, o), mann_whitney(t, rnd), mann_whitney(o, rnd)
            print(f"| {problem} | {b} | {summary(t)} | {summary(o)} | {summary(rnd)} "
                  f"| {p_to:.3f} ({verdict(p_to, t, o)}) | {p_tr:.3g} ({verdict(p_tr, t, rnd)}) "
                  f"| {p_or:.3g} ({verdict(p_or, o, rnd)}) |")
        sys.stdout.flush()
    print()
    return results


def part_mo(args) -> dict:
    budgets = args.budgets
    trials = max(budgets)
    print(f"## ZDT1 ({ZDT1_DIM} variables): log10 of the hypervolume gap to the true front, "
          f"median [IQR] over {args.seeds} seeds\n")
    print("| budget | trialog TPE | Optuna TPE | p | trialog NSGA-II | Optuna NSGA-II | p "
          "| trialog random |")
    print("|---|---|---|---|---|---|---|---|")
    runs = {
        "trialog-tpe": run_trialog("zdt1", "tpe", args.seeds, trials),
        "trialog-nsga2": run_trialog("zdt1", "nsga2", args.seeds, trials),
        "trialog-random": run_trialog("zdt1", "random", args.seeds, trials),
        "optuna-tpe": [run_optuna("zdt1", "tpe", s, trials) for s in range(args.seeds)],
        "optuna-nsga2": [run_optuna("zdt1", "nsga2", s, trials) for s in range(args.seeds)],
    }
    for b in budgets:
        r = {k: [hv_gap(run, b) for run in v] for k, v in runs.items()}
        p_tpe = mann_whitney(r["trialog-tpe"], r["optuna-tpe"])
        p_nsga = mann_whitney(r["trialog-nsga2"], r["optuna-nsga2"])
        print(f"| {b} | {summary(r['trialog-tpe'])} | {summary(r['optuna-tpe'])} "
              f"| {p_tpe:.3f} ({verdict(p_tpe, r['trialog-tpe'], r['optuna-tpe'])}) "
              f"| {summary(r['trialog-nsga2'])} | {summary(r['optuna-nsga2'])} "
              f"| {p_nsga:.3f} ({verdict(p_nsga, r['trialog-nsga2'], r['optuna-nsga2'])}) "
              f"| {summary(r['trialog-random'])} |")
    print()
    return runs


def part_pruner(args) -> dict:
    trials = args.pruner_trials
    print(f"## Median pruning on a learning curve ({CURVE_STEPS} steps, {trials} TPE trials), "
          f"median over {args.seeds} seeds\n")
    print("| implementation | steps without pruning | steps with MedianPruner | steps saved "
          "| best final value without | with | p (best values) |")
    print("|---|---|---|---|---|---|---|")
    out = {}
    for impl in ("trialog", "optuna"):
        if impl == "trialog":
            none = run_trialog("curve", "tpe", args.seeds, trials, "none")
            median = run_trialog("curve", "tpe", args.seeds, trials, "median")
        else:
            none = [run_optuna("curve", "tpe", s, trials, "none") for s in range(args.seeds)]
            median = [run_optuna("curve", "tpe", s, trials, "median") for s in range(args.seeds)]
        saved = [1.0 - m["steps"] / n["steps"] for n, m in zip(none, median)]
        best_n = [best_so_far(r, trials) for r in none]
        best_m = [best_so_far(r, trials) for r in median]
        p = mann_whitney(best_n, best_m)
        print(f"| {impl} | {statistics.median(r['steps'] for r in none):.0f} "
              f"| {statistics.median(r['steps'] for r in median):.0f} "
              f"| {100 * statistics.median(saved):.1f}% | {statistics.median(best_n):.4f} "
              f"| {statistics.median(best_m):.4f} | {p:.3f} |")
        out[impl] = {"none": none, "median": median}
    print()
    return out


def optuna_like_speed(module, make_sampler, trials: int, params: int, timed: int) -> dict:
    study = module.create_study(sampler=make_sampler())
    names = [f"x{i}" for i in range(params)]

    def objective(t):
        return sum(t.suggest_float(n, -5.0, 5.0) ** 2 for n in names)

    study.optimize(objective, n_trials=trials)
    wall = cpu = 0.0
    each = []
    for _ in range(timed):
        c0, t0 = time.process_time(), time.perf_counter()
        t = study.ask()
        v = sum(t.suggest_float(n, -5.0, 5.0) ** 2 for n in names)
        each.append(time.perf_counter() - t0)
        wall += each[-1]
        cpu += time.process_time() - c0
        study.tell(t.number if module is not optuna else t, v)  # Rustuna tells by number
    return {"per_trial_ms": wall / timed * 1e3, "cpu_per_trial_ms": cpu / timed * 1e3,
            "median_trial_ms": statistics.median(each) * 1e3}


def part_speed(args) -> dict:
    res: dict[str, list] = {"trialog": [], "optuna": [], "rustuna": []}
    for rep in range(args.speed_reps):
        out = subprocess.run([TRIALOG, "bench", "sampler-speed", "--trials", "1000", "--params",
                              "5", "--timed", "50", "--seed", str(rep)],
                             check=True, capture_output=True, text=True).stdout
        res["trialog"].append(json.loads(out))
        res["optuna"].append(optuna_like_speed(
            optuna, lambda: optuna.samplers.TPESampler(seed=rep), 1000, 5, 20))
        try:
            import rustuna

            res["rustuna"].append(optuna_like_speed(
                rustuna, lambda: rustuna.samplers.TPESampler(seed=rep), 1000, 5, 50))
        except ImportError:
            pass
    print(f"## Speed: one trial (ask + 5 float suggestions) with 1,000 trials in the study, "
          f"median of {args.speed_reps} runs\n")
    print("| implementation | mean wall ms/trial | median trial ms | CPU ms/trial "
          "| Optuna / this (median trial) | Optuna / this (CPU) |")
    print("|---|---|---|---|---|---|")
    med = {impl: statistics.median(r[k] for r in rs) if rs else None
           for impl, rs in res.items() for k in ["median_trial_ms"]}
    opt_cpu = statistics.median(r["cpu_per_trial_ms"] for r in res["optuna"])
    for impl, rs in res.items():
        if not rs:
            continue
        wall = statistics.median(r["per_trial_ms"] for r in rs)
        cpu = statistics.median(r["cpu_per_trial_ms"] for r in rs)
        print(f"| {impl} | {wall:.3f} | {med[impl]:.3f} | {cpu:.3f} "
              f"| {med['optuna'] / med[impl]:.1f}x | {opt_cpu / cpu:.1f}x |")
    print()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("part", choices=["all", "check", "quality", "mo", "pruner", "speed"])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--budgets", type=lambda s: [int(x) for x in s.split(",")],
                    default=[50, 100, 200])
    ap.add_argument("--problems", type=lambda s: s.split(","), default=SINGLE)
    ap.add_argument("--pruner-trials", type=int, default=100)
    ap.add_argument("--speed-reps", type=int, default=3)
    ap.add_argument("--out", help="write the raw runs here (JSON)")
    args = ap.parse_args()
    if not os.path.exists(TRIALOG):
        raise SystemExit(f"{TRIALOG} is missing: run `cargo build --release` first")
    print(f"<!-- {' '.join(sys.argv)}; optuna {optuna.__version__}; {time.strftime('%Y-%m-%d')} -->\n")
    raw = {}
    parts = ["check", "quality", "mo", "pruner", "speed"] if args.part == "all" else [args.part]
    for part in parts:
        raw[part] = globals()[f"part_{part}"](args)
        sys.stdout.flush()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(raw, f)


if __name__ == "__main__":
    main()
