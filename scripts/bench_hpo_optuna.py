"""Optuna peer of `make bench-hpo`: TPESampler and GPSampler on the same four
test functions, budgets and seeds as shared/ml/optimization/bench, plus the
time of one GPSampler suggestion at 200 completed trials. Runs one process
per core.

Writes one JSON object: {"regret": {problem: {sampler: [final best-so-far
regret per seed]}}, "suggest_seconds": {"gp": s, "tpe": s}}.
"""
import json
import math
import multiprocessing
import os
import sys
import time

import numpy as np
import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def branin(x):
    a, b, c = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    return a * (x[1] - b * x[0] ** 2 + c * x[0] - r) ** 2 + s * (1 - t) * math.cos(x[0]) + s


ALPHA = [1.0, 1.2, 3.0, 3.2]
A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]


def hartmann6(x):
    return -sum(ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j] * 1e-4) ** 2 for j in range(6))) for i in range(4))


def rosenbrock(x):
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1))


def ackley(x):
    n = len(x)
    s1 = sum(v * v for v in x)
    s2 = sum(math.cos(2 * math.pi * v) for v in x)
    return -20 * math.exp(-0.2 * math.sqrt(s1 / n)) - math.exp(s2 / n) + 20 + math.e


PROBLEMS = {
    "branin": (branin, [(-5, 10), (0, 15)], 0.39788735772973816),
    "hartmann6": (hartmann6, [(0, 1)] * 6, -3.322368011391339),
    "rosenbrock4": (rosenbrock, [(-5, 10)] * 4, 0.0),
    "ackley5": (ackley, [(-32.768, 32.768)] * 5, 0.0),
}


def sampler(name, seed):
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.GPSampler(seed=seed)


def run(problem, name, seed, evals):
    f, box, fmin = PROBLEMS[problem]
    study = optuna.create_study(sampler=sampler(name, seed))

    def objective(trial):
        return f([trial.suggest_float(f"x{i}", lo, hi) for i, (lo, hi) in enumerate(box)])

    study.optimize(objective, n_trials=evals)
    return study.best_value - fmin


def suggest_time(name, n=200):
    f, box, _ = PROBLEMS["hartmann6"]
    rng = np.random.default_rng(0)
    dists = {f"x{i}": optuna.distributions.FloatDistribution(lo, hi) for i, (lo, hi) in enumerate(box)}
    study = optuna.create_study(sampler=sampler(name, 0))
    for _ in range(n):
        params = {k: float(rng.uniform(d.low, d.high)) for k, d in dists.items()}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists,
                                                  value=f([params[f"x{i}"] for i in range(6)])))
    times = []
    for _ in range(3):
        start = time.perf_counter()
        trial = study.ask(dists)
        times.append(time.perf_counter() - start)
        study.tell(trial, f([trial.params[f"x{i}"] for i in range(6)]))
    return min(times)


def run_job(job):
    problem, name, seed, evals = job
    return run(problem, name, seed, evals)


def init_worker():
    # One process per core, each single-threaded.
    import torch

    torch.set_num_threads(1)


def main():
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    evals = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    out = {"regret": {}, "suggest_seconds": {}}
    jobs = [(problem, name, seed + 1, evals) for problem in PROBLEMS for name in ("tpe", "gp") for seed in range(seeds)]
    with multiprocessing.Pool(os.cpu_count() or 1, initializer=init_worker) as pool:
        results = pool.map(run_job, jobs, chunksize=1)
    for (problem, name, _, _), regret in zip(jobs, results):
        out["regret"].setdefault(problem, {}).setdefault(name, []).append(regret)
    for problem, by_sampler in out["regret"].items():
        for name, regrets in by_sampler.items():
            print(f"optuna {name} {problem}: median regret {np.median(regrets):.4g}", file=sys.stderr)
    for name in ("gp", "tpe"):
        out["suggest_seconds"][name] = suggest_time(name)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
