"""Tree-ensemble benchmark: Orrery's shared/ml/trees against scikit-learn's
HistGradientBoostingClassifier and RandomForestClassifier and LightGBM, on
the same rows in the same command (scripts/bench-trees.sh runs it).

Quality: HTRU2 with a fixed stratified 80/20 split (ROC AUC, AUC-PR, F1 at
0.5) and a synthetic 4-class catalog (accuracy, macro one-vs-rest ROC AUC,
log-loss) and a synthetic star/galaxy/quasar photometric catalog (the same,
u-g missing for faint rows). Speed: training time on N x 20 synthetic rows (default 1M) with
2 threads, and prediction throughput on the test rows. Every model gets the
same settings: 100 trees/iterations, learning rate 0.1, 31 leaves, 20 rows
per leaf, no L2, no early stopping; forests 100 bootstrapped trees with
sqrt(d) features per node. Ratios are Orrery / peer (time: < 1 is faster).

Public catalogs the project does not ship are compared too when --catalogs
DIR (scripts/bench-trees.sh: $ORRERY_BENCH_CATALOGS) holds them, each
checked against its SHA-256 (see CATALOGS), and skipped with a line saying
why otherwise. Every quality comparison is repeated on --splits stratified
splits (seeds 0..K-1, the models seeded alike) and reported as the mean of
each metric and the mean paired difference orrery - peer with its standard
error over the splits: the noise the "at least as good" and "within noise"
bars are read against.

Forests are random even on fixed rows, so each is fitted with --forest-seeds
seeds per split (default 3) and a split's figure is their mean.

Usage: bench_trees.py TREEBENCH_BIN HTRU2_CSV [--catalogs DIR] [--splits K] [--sets a,b] [--speed-rows N]
       [--threads 2] [--only quality|speed] [--kinds gbdt,rf,gbdt-es] [--forest-seeds S]
"""
import argparse
import csv
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.metrics import accuracy_score, average_precision_score, f1_score, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
import lightgbm as lgb
from threadpoolctl import threadpool_limits


def star_galaxy_quasar(n, rng):
    """A synthetic photometric catalog of stars (0), galaxies (1) and quasars
    (2) in proportions 55/35/10: r magnitude, the colours u-g, g-r, r-i, i-z,
    a PSF-minus-model magnitude (extendedness) and its error, with u-g missing
    for faint rows (non-detections). The classes overlap as they do in survey
    colour-colour planes: quasars are blue in u-g and point-like like stars,
    galaxies are extended and red, and the extendedness blurs with magnitude."""
    y = rng.choice(3, size=n, p=[0.55, 0.35, 0.10])
    r = rng.uniform(16, 23, n)
    ug = np.where(y == 0, rng.normal(1.4, 0.5, n), np.where(y == 1, rng.normal(1.8, 0.4, n), rng.normal(0.3, 0.3, n)))
    gr = np.where(y == 0, 0.45 * ug - 0.1 + rng.normal(0, 0.15, n),
                  np.where(y == 1, rng.normal(0.8, 0.25, n), rng.normal(0.2, 0.2, n)))
    ri = np.where(y == 0, 0.4 * gr + rng.normal(0, 0.1, n), np.where(y == 1, rng.normal(0.4, 0.15, n), rng.normal(0.15, 0.2, n)))
    iz = np.where(y == 2, rng.normal(0.1, 0.2, n), 0.5 * ri + rng.normal(0, 0.1, n))
    noise = 0.02 * np.exp((r - 16) / 2.5)
    ext = np.where(y == 1, rng.gamma(2, 0.25, n), 0) + rng.normal(0, 1, n) * noise
    x = np.column_stack([r, ug + rng.normal(0, 1, n) * noise, gr, ri, iz, ext, noise])
    x[(r > 22) & (rng.random(n) < 0.5), 1] = np.nan
    return x, y


def write(path, x, y):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"f{j}" for j in range(x.shape[1])] + ["y"])
        for row, label in zip(x, y):
            w.writerow([repr(float(v)) if not np.isnan(v) else "" for v in row] + [int(label)])


def orrery(binary, model, tr, te, threads, work, seed=1, extra=()):
    out = os.path.join(work, "proba.csv")
    args = [binary, "-model", model, "-train", tr, "-test", te, "-out", out, "-threads", str(threads),
            "-seed", str(seed), *extra]
    res = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    return np.loadtxt(out, delimiter=",", ndmin=2), res["fit_seconds"], res["predict_seconds"]


def timed(make, x, y, xt):
    m = make()
    t = time.perf_counter()
    m.fit(x, y)
    fit = time.perf_counter() - t
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        p = m.predict_proba(xt)
        best = min(best, time.perf_counter() - t)
    return p, fit, best


def peers(threads, seed=0):
    return {
        "gbdt": {
            "sklearn_hgb": lambda: HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_leaf_nodes=31,
                                                                  min_samples_leaf=20, l2_regularization=0.0,
                                                                  early_stopping=False, random_state=seed),
            "lightgbm": lambda: lgb.LGBMClassifier(n_estimators=100, learning_rate=0.1, num_leaves=31, min_child_samples=20,
                                                   reg_lambda=0.0, n_jobs=threads, verbose=-1, random_state=seed),
        },
        "rf": {
            "sklearn_rf": lambda: RandomForestClassifier(n_estimators=100, max_features="sqrt", min_samples_leaf=1,
                                                         bootstrap=True, n_jobs=threads, random_state=seed),
        },
    }


def early_stopped_peers(threads, seed, patience):
    """The boosting peers with early stopping on the same validation rows:
    up to ES_MAX_ITER iterations, stopped after `patience` without a lower
    validation log-loss. LightGBM predicts with its best iteration, as
    treebench -patience keeps it; scikit-learn's HGB keeps the iterations
    up to the stop (its own rule, n_iter_no_change)."""
    def hgb(x, y, xv, yv, xt):
        m = HistGradientBoostingClassifier(max_iter=ES_MAX_ITER, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20,
                                           l2_regularization=0.0, early_stopping=True, scoring="loss",
                                           n_iter_no_change=patience, random_state=seed)
        return m.fit(x, y, X_val=xv, y_val=yv).predict_proba(xt)

    def lgbm(x, y, xv, yv, xt):
        m = lgb.LGBMClassifier(n_estimators=ES_MAX_ITER, learning_rate=0.1, num_leaves=31, min_child_samples=20,
                               reg_lambda=0.0, n_jobs=threads, verbose=-1, random_state=seed)
        m.fit(x, y, eval_X=xv, eval_y=yv, callbacks=[lgb.early_stopping(patience, verbose=False)])
        return m.predict_proba(xt)
    return {"sklearn_hgb": hgb, "lightgbm": lgbm}


ES_MAX_ITER = 1000


def quality(p, y):
    if p.shape[1] == 2:
        s = p[:, 1]
        return {"roc_auc": roc_auc_score(y, s), "auc_pr": average_precision_score(y, s), "f1": f1_score(y, s >= 0.5)}
    return {"accuracy": accuracy_score(y, p.argmax(1)), "macro_auc": roc_auc_score(y, p, multi_class="ovr"),
            "log_loss": log_loss(y, np.clip(p, 1e-15, 1))}


# Public catalogs read from --catalogs when present (never committed: the
# project does not ship them). file: the name expected in the directory.
CATALOGS = {
    # UCI "MAGIC Gamma Telescope" (Bock et al. 2004; doi:10.24432/C52C8B,
    # CC BY 4.0): 19,020 simulated Cherenkov-telescope events, 10 image
    # features, gamma (signal, 12,332; label 1) against hadron (6,688).
    "magic": {"file": "magic04.data",
              "sha256": "e9314b7ebd4b4b59a3b3d65f7316663963777b16a46786877651dbbaa640b36a"},
    # SDSS DR14 spectroscopic sample as published on Kaggle ("Sloan Digital
    # Sky Survey DR14", file "Skyserver_SQL2_27_2018 6_51_39 PM.csv", CC BY-SA
    # 4.0; SDSS data policy: acknowledge SDSS): 10,000 objects, STAR 4,152 /
    # GALAXY 4,998 / QSO 850. Photometry only: u, g, r, i, z and the colours
    # u-g, g-r, r-i, i-z (redshift, which gives the class away, is dropped).
    "sdss": {"file": "sdss_dr14.csv",
             "sha256": "5633126254d4ec5a4bfc81081f2f427596c5139ea27d36fd7ad26a6487f9fddd"},
}


def load_magic(path):
    x, y = [], []
    with open(path, newline="") as f:
        for row in csv.reader(f):
            if row:
                x.append([float(v) for v in row[:10]])
                y.append({"g": 1, "h": 0}[row[10]])
    return np.array(x), np.array(y)


def load_sdss(path):
    classes = {"STAR": 0, "GALAXY": 1, "QSO": 2}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    mags = np.array([[float(r[b]) for b in "ugriz"] for r in rows])
    x = np.column_stack([mags, mags[:, :-1] - mags[:, 1:]])
    return x, np.array([classes[r["class"]] for r in rows])


def public_catalogs(directory):
    """The catalogs of CATALOGS found in directory with the right SHA-256,
    each with a printed line when skipped."""
    found = {}
    for name, c in CATALOGS.items():
        path = os.path.join(directory, c["file"]) if directory else None
        if not directory:
            print(f"  skip {name}: ORRERY_BENCH_CATALOGS is not set (see README, 'make bench-trees')")
            continue
        if not os.path.isfile(path):
            print(f"  skip {name}: {path} not found")
            continue
        with open(path, "rb") as f:
            got = hashlib.sha256(f.read()).hexdigest()
        if got != c["sha256"]:
            print(f"  skip {name}: {path} has SHA-256 {got}, not {c['sha256']}")
            continue
        found[name] = {"magic": load_magic, "sdss": load_sdss}[name](path)
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("htru2")
    ap.add_argument("--catalogs", default="", help="directory of the public catalogs (CATALOGS)")
    ap.add_argument("--splits", type=int, default=5, help="stratified splits each quality comparison is repeated on")
    ap.add_argument("--sets", default="", help="comma-separated quality sets to run (default: all)")
    ap.add_argument("--speed-rows", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", choices=["quality", "speed"], help="run one half of the benchmark")
    ap.add_argument("--kinds", default="gbdt,rf,gbdt-es",
                    help="comma-separated comparisons to run: gbdt (fixed 100 iterations), rf, gbdt-es (early-stopped)")
    ap.add_argument("--forest-seeds", type=int, default=3,
                    help="seeds each forest is fitted with on every split; a split's metric is their mean, so that the"
                         " standard error over splits is not the seed spread of one fit")
    ap.add_argument("--early-stopping", type=int, default=10, metavar="PATIENCE",
                    help="also compare the boosting models early-stopped on a validation part of the training split"
                         " (up to 1000 iterations, this patience; 0: not)")
    a = ap.parse_args()
    if a.splits < 1:
        ap.error(f"--splits {a.splits} must be at least 1")
    if a.forest_seeds < 1:
        ap.error(f"--forest-seeds {a.forest_seeds} must be at least 1")
    kinds = a.kinds.split(",")
    if not kinds or any(k not in ("gbdt", "rf", "gbdt-es") for k in kinds):
        ap.error(f"--kinds {a.kinds!r}: each must be gbdt, rf or gbdt-es")
    os.environ["OMP_NUM_THREADS"] = str(a.threads)
    work = tempfile.mkdtemp()
    raw = np.loadtxt(a.htru2, delimiter=",", skiprows=1)
    sets = {"htru2": (raw[:, :-1], raw[:, -1].astype(int), 0.2)}
    xs, ys = make_classification(n_samples=20000, n_features=20, n_informative=10, n_redundant=4, n_classes=4,
                                 n_clusters_per_class=2, class_sep=0.8, flip_y=0.02, random_state=1)
    sets["catalog4"] = (xs, ys, 0.25)
    xq, yq = star_galaxy_quasar(30000, np.random.default_rng(3))
    sets["sgq3"] = (xq, yq, 0.25)
    if a.only != "speed":
        print("\nPublic catalogs")
        for name, (x, y) in public_catalogs(a.catalogs).items():
            sets[name] = (x, y, 0.25)
            print(f"  {name}: {len(y)} rows x {x.shape[1]} features, classes {np.bincount(y).tolist()}")
    if a.sets:
        want = a.sets.split(",")
        unknown = [n for n in want if n not in sets and n not in CATALOGS]
        if unknown:
            ap.error(f"--sets: {', '.join(unknown)} not among {', '.join(list(sets) + list(CATALOGS))}")
        sets = {n: v for n, v in sets.items() if n in want}
    # OMP_NUM_THREADS is read when OpenMP loads (at the imports above), so
    # the peers' OpenMP pools are limited here.
    with threadpool_limits(limits=a.threads):
        if a.only != "speed":
            quality_part(a, sets, work)
        if a.only != "quality":
            speed_part(a, work)


def quality_part(a, sets, work):
    print(f"\nQuality on {a.splits} fixed stratified splits ({a.threads} threads; forests: the mean of"
          f" {a.forest_seeds} seeds on each split): mean over the splits;"
          " diff = orrery - peer, mean +- standard error over the splits (log_loss: lower is better)")
    for name, (x, y, test_size) in sets.items():
        kinds = [(k, {"rf": "random_forest"}.get(k, "gradient_boosting")) for k in a.kinds.split(",")
                 if k != "gbdt-es" or a.early_stopping > 0]
        for kind, ours in kinds:
            scores = {}  # model -> metric -> [value per split]
            for split in range(a.splits):
                xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_size, stratify=y, random_state=split)
                tr, te = os.path.join(work, f"{name}-train.csv"), os.path.join(work, f"{name}-test.csv")
                write(te, xte, yte)
                if kind == "gbdt-es":
                    # 15 % of the training split (stratified, seeded by the
                    # split) is every model's validation set.
                    xfit, xval, yfit, yval = train_test_split(xtr, ytr, test_size=0.15, stratify=ytr, random_state=split)
                    va = os.path.join(work, f"{name}-valid.csv")
                    write(tr, xfit, yfit)
                    write(va, xval, yval)
                    po, _, _ = orrery(a.binary, ours, tr, te, a.threads, work, seed=split + 1,
                                      extra=("-valid", va, "-patience", str(a.early_stopping), "-max-iter", str(ES_MAX_ITER)))
                    add(scores, "orrery", quality(po, yte))
                    for peer, fit in early_stopped_peers(a.threads, split, a.early_stopping).items():
                        add(scores, peer, quality(fit(xfit, yfit, xval, yval, xte), yte))
                    continue
                write(tr, xtr, ytr)
                # Boosting without subsampling is deterministic; forests
                # are fitted with several seeds and their metrics averaged.
                seeds = a.forest_seeds if kind == "rf" else 1
                per_seed = {}
                for s in range(seeds):
                    seed = split * seeds + s
                    po, _, _ = orrery(a.binary, ours, tr, te, a.threads, work, seed=seed + 1)
                    add(per_seed, "orrery", quality(po, yte))
                    for peer, make in peers(a.threads, seed=seed)[kind].items():
                        pp, _, _ = timed(make, xtr, ytr, xte)
                        add(per_seed, peer, quality(pp, yte))
                for model, q in per_seed.items():
                    add(scores, model, {k: float(np.mean(v)) for k, v in q.items()})
            ours_q = scores["orrery"]
            print(f"  {name:8s} {kind:7s} {'orrery':11s} " + "  ".join(f"{k} {np.mean(v):.4f}" for k, v in ours_q.items()))
            for peer, q in scores.items():
                if peer == "orrery":
                    continue
                diffs = []
                for k, v in q.items():
                    d = np.array(ours_q[k]) - np.array(v)
                    se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
                    diffs.append(f"{k} {d.mean():+.4f}+-{se:.4f}")
                print(f"  {name:8s} {kind:7s} {peer:11s} " + "  ".join(f"{k} {np.mean(v):.4f}" for k, v in q.items())
                      + "   diff " + "  ".join(diffs))


def add(scores, model, q):
    for k, v in q.items():
        scores.setdefault(model, {}).setdefault(k, []).append(v)


def speed_part(a, work):
    n = a.speed_rows
    xb, yb = make_classification(n_samples=n + n // 5, n_features=20, n_informative=12, n_redundant=4,
                                 random_state=2)
    xtr, xte, ytr, yte = xb[:n], xb[n:], yb[:n], yb[n:]
    tr, te = os.path.join(work, "speed-train.csv"), os.path.join(work, "speed-test.csv")
    write(tr, xtr, ytr)
    write(te, xte, yte)
    print(f"\nSpeed: {n} x 20 training rows, {len(yte)} test rows, {a.threads} threads (gbdt, 100 iterations)")
    po, fo, so = orrery(a.binary, "gradient_boosting", tr, te, a.threads, work)
    print(f"  orrery      fit {fo:8.2f} s  predict {len(yte) / so:12.0f} rows/s  roc_auc {roc_auc_score(yte, po[:, 1]):.4f}")
    for peer, make in peers(a.threads)["gbdt"].items():
        pp, fp, sp = timed(make, xtr, ytr, xte)
        print(f"  {peer:11s} fit {fp:8.2f} s  predict {len(yte) / sp:12.0f} rows/s  roc_auc {roc_auc_score(yte, pp[:, 1]):.4f}"
              f"   fit time ratio {fo / fp:.2f}  throughput ratio {sp / so:.2f}")


if __name__ == "__main__":
    sys.exit(main())
