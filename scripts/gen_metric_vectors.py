#!/usr/bin/env python3
"""Write shared/ml/evaluation/testdata/sklearn_vectors.json.

The Go package shared/ml/evaluation must agree with scikit-learn on every
metric it reports. This script generates inputs from a fixed numpy seed,
computes each metric with scikit-learn, and stores both so that the Go test
(vectors_test.go) can assert agreement to 1e-9 without Python.

Usage (from the repository root):

    python3 -m venv .venv
    .venv/bin/pip install -r scripts/requirements-test.txt
    .venv/bin/python scripts/gen_metric_vectors.py

Conventions shared with the Go code:
  * binary cases store only "p1"; their probability rows are [1 - p1, p1].
  * binary: Classes = [negative, positive]; column 1 of proba is p(positive);
    predicted positive iff p1 >= threshold.
  * multi-class: predicted class = first argmax of the row (numpy argmax).
  * NaN (for example ROC AUC on a single-class slice) is written as null.
"""

import json
import math
import os
import platform
import sys
import warnings

import numpy as np
import scipy
import sklearn
import statsmodels
from scipy.stats import norm
from sklearn.calibration import _sigmoid_calibration, calibration_curve
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import GroupKFold, KFold, TimeSeriesSplit
from statsmodels.stats.contingency_tables import mcnemar
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    top_k_accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    classification_report,
    confusion_matrix,
    log_loss,
    matthews_corrcoef,
    precision_recall_curve,
    precision_recall_fscore_support,
    recall_score,
    roc_auc_score,
    roc_curve,
)
from sklearn.preprocessing import label_binarize

SEED = 20240611
OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..",
    "shared",
    "ml",
    "evaluation",
    "testdata",
    "sklearn_vectors.json",
)


def clean(v):
    """Turn numpy scalars/arrays into JSON values; NaN and ±Inf become None."""
    if isinstance(v, dict):
        return {str(k): clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [clean(x) for x in v]
    if isinstance(v, np.ndarray):
        return clean(v.tolist())
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return None if not math.isfinite(f) else f
    return v


def guarded(fn):
    """Return (value, error message): sklearn raising is recorded, not fatal."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(), None
    except ValueError as e:  # sklearn signals undefined metrics this way
        return None, str(e)


def best_f1_threshold(y, p1):
    """Threshold (a score value) maximising F1, ties to the highest threshold.

    Uses precision_recall_curve; F1 = 2PR/(P+R), 0 where P+R = 0. F1 values
    closer than 1e-12 are ties: distinct rationals with denominators <= 2n
    differ by far more than that for the n used here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prec, rec, thr = precision_recall_curve(y, p1)
    prec, rec = prec[:-1], rec[:-1]  # last point has no threshold
    denom = prec + rec
    f1 = np.where(denom > 0, 2 * prec * rec / np.where(denom > 0, denom, 1), 0.0)
    best = f1.max()
    cand = np.where(f1 >= best - 1e-12)[0]
    i = cand[np.argmax(thr[cand])]
    return float(thr[i]), float(f1[i])


def youden_threshold(y, p1):
    """Score value maximising TPR - FPR (roc_curve), ties to the highest."""
    if len(np.unique(y)) < 2:
        return None
    fpr, tpr, thr = roc_curve(y, p1, drop_intermediate=False)
    keep = np.isfinite(thr)
    fpr, tpr, thr = fpr[keep], tpr[keep], thr[keep]
    j = tpr - fpr
    cand = np.where(j >= j.max() - 1e-12)[0]
    return float(thr[cand[np.argmax(thr[cand])]])


def predict(proba, threshold):
    k = proba.shape[1]
    if k == 2:
        return (proba[:, 1] >= threshold).astype(int)
    return np.argmax(proba, axis=1)


def expected(y, proba, classes, threshold):
    k = len(classes)
    labels = list(range(k))
    pred = predict(proba, threshold)
    e = {"pred": pred}
    e["accuracy"] = accuracy_score(y, pred)
    if k == 2:
        p, r, f, _ = precision_recall_fscore_support(
            y, pred, average="binary", pos_label=1, labels=labels, zero_division=0
        )
    else:
        p, r, f, _ = precision_recall_fscore_support(
            y, pred, average="macro", labels=labels, zero_division=0
        )
    e["precision"], e["recall"], e["f1"] = p, r, f
    e["confusion_matrix"] = confusion_matrix(y, pred, labels=labels)
    e["classification_report"] = classification_report(
        y, pred, labels=labels, target_names=classes, output_dict=True, zero_division=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e["balanced_accuracy"] = balanced_accuracy_score(y, pred)
        e["mcc"] = matthews_corrcoef(y, pred)
        e["log_loss"] = log_loss(y, proba, labels=labels)
    if k == 2:
        p1 = proba[:, 1]
        e["roc_auc"], e["roc_auc_error"] = guarded(lambda: roc_auc_score(y, p1))
        e["average_precision"], e["average_precision_error"] = guarded(
            lambda: average_precision_score(y, p1)
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            e["brier"] = brier_score_loss(y, p1, pos_label=1)
            e["specificity"] = recall_score(
                y, pred, labels=labels, average=None, zero_division=0
            )[0]
        e["best_f1_threshold"], e["best_f1"] = best_f1_threshold(y, p1)
        e["youden_threshold"] = youden_threshold(y, p1)
    else:
        e["roc_auc"], e["roc_auc_error"] = guarded(
            lambda: roc_auc_score(
                y, proba, multi_class="ovr", average="macro", labels=labels
            )
        )
        e["average_precision"], e["average_precision_error"] = guarded(
            lambda: average_precision_score(
                label_binarize(y, classes=labels), proba, average="macro"
            )
        )
    extended(e, y, proba, pred, labels)
    for key in ("roc_auc", "average_precision"):
        if e[key] is None:
            e[key] = float("nan")  # raised: the Go side reports NaN
        if e[key + "_error"] is None:
            del e[key + "_error"]
    return e


def extended(e, y, proba, pred, labels):
    """The metrics beyond the core set, under their Go CustomMetrics names."""
    k = len(labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e["cohen_kappa"] = cohen_kappa_score(y, pred, labels=labels)
        recalls = recall_score(y, pred, labels=labels, average=None, zero_division=0)
    present = np.isin(labels, y)
    # G-mean: not in scikit-learn; the geometric mean of the recalls of the
    # classes present in y (imbalanced-learn's multiclass G-mean restricted
    # to present classes), computed from scikit-learn's recalls.
    e["g_mean"] = float(np.prod(recalls[present]) ** (1.0 / present.sum()))
    for avg in ("micro", "macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(
            y, pred, labels=labels, average=avg, zero_division=0
        )
        e["precision_" + avg], e["recall_" + avg], e["f1_" + avg] = p, r, f
    if k == 2:
        e["completeness"], e["purity"] = e["recall"], e["precision"]
        if len(np.unique(y)) < 2:
            for key in ("fpr_at_95_completeness", "fpr_at_99_completeness",
                        "missed_detection_rate_at_1pct_fpr"):
                e[key] = float("nan")
        else:
            # Every threshold (drop_intermediate=False), so the optimum is
            # never dropped as a collinear point.
            fpr, tpr, _ = roc_curve(y, proba[:, 1], drop_intermediate=False)
            e["fpr_at_95_completeness"] = float(fpr[tpr >= 0.95].min())
            e["fpr_at_99_completeness"] = float(fpr[tpr >= 0.99].min())
            e["missed_detection_rate_at_1pct_fpr"] = float(1 - tpr[fpr <= 0.01].max())
    else:
        e["roc_auc_ovr_weighted"], err = guarded(
            lambda: roc_auc_score(
                y, proba, multi_class="ovr", average="weighted", labels=labels
            )
        )
        if e["roc_auc_ovr_weighted"] is None:
            e["roc_auc_ovr_weighted"] = float("nan")
        e["top_2_accuracy"], err = guarded(
            lambda: top_k_accuracy_score(y, proba, k=2, labels=labels)
        )
        if e["top_2_accuracy"] is None:
            del e["top_2_accuracy"]  # sklearn refused (y has two labels)


def delong_reference(y, s1, s2):
    """DeLong, DeLong & Clarke-Pearson (1988), straight from the paper.

    Structural components with the kernel psi(X, Y) = 1 if Y < X, 1/2 if
    Y == X, 0 otherwise, computed in O(m n) (independently of the mid-rank
    algorithm the Go code uses); S10 and S01 with the n - 1 normaliser;
    z = (A1 - A2) / sqrt(var), two-sided normal p-value from scipy.
    """
    y = np.asarray(y)
    out = {}
    v10s, v01s, aucs = [], [], []
    for s in (s1, s2):
        s = np.asarray(s, dtype=np.float64)
        x, yy = s[y == 1], s[y == 0]
        psi = (yy[None, :] < x[:, None]).astype(float) + 0.5 * (yy[None, :] == x[:, None])
        v10s.append(psi.mean(axis=1))
        v01s.append(psi.mean(axis=0))
        aucs.append(psi.mean())
    m, n = len(v10s[0]), len(v01s[0])
    s10 = np.cov(np.vstack(v10s))
    s01 = np.cov(np.vstack(v01s))
    s_ = s10 / m + s01 / n
    var = s_[0, 0] + s_[1, 1] - 2 * s_[0, 1]
    z = (aucs[0] - aucs[1]) / np.sqrt(var)
    out["auc1"], out["auc2"], out["variance"] = aucs[0], aucs[1], var
    out["z"], out["p_value"] = z, 2 * norm.sf(abs(z))
    out["sklearn_auc1"] = roc_auc_score(y, s1)
    out["sklearn_auc2"] = roc_auc_score(y, s2)
    return out


def significance_vectors(rng):
    """DeLong, McNemar, calibration, Platt, isotonic and split vectors."""
    delong = []
    for n, pos_rate, sep1, sep2, decimals in (
        (60, 0.4, 1.0, 0.8, None),
        (200, 0.3, 1.2, 1.1, None),
        (500, 0.1, 1.5, 1.0, None),
        (120, 0.5, 0.8, 0.8, 1),  # heavy ties
        (80, 0.25, 1.0, 0.2, 2),
    ):
        y = (rng.random(n) < pos_rate).astype(int)
        y[0], y[1], y[2], y[3] = 0, 0, 1, 1
        base = rng.normal(size=n)
        s1 = 1 / (1 + np.exp(-(sep1 * (2 * y - 1) + base)))
        s2 = 1 / (1 + np.exp(-(sep2 * (2 * y - 1) + 0.6 * base + 0.8 * rng.normal(size=n))))
        if decimals is not None:
            s1, s2 = np.round(s1, decimals), np.round(s2, decimals)
        case = {"name": f"delong_n{n}", "y": y, "s1": s1, "s2": s2}
        case.update(delong_reference(y, s1, s2))
        delong.append(case)

    mcn = []
    tables = [[[10, 5], [12, 20]], [[50, 3], [9, 40]], [[30, 0], [0, 30]],
              [[100, 20], [35, 45]], [[7, 13], [11, 4]], [[0, 1], [0, 0]],
              [[400, 60], [31, 9]], [[5, 12], [12, 5]]]
    for t in tables:
        b, c = t[0][1], t[1][0]
        entry = {"table": t}
        for exact in (True, False):
            key = "exact" if exact else "chi2"
            if b + c == 0:
                entry[key] = {"statistic": 0.0, "p_value": 1.0}
                continue
            r = mcnemar(np.array(t), exact=exact, correction=True)
            entry[key] = {"statistic": float(r.statistic), "p_value": float(r.pvalue)}
        mcn.append(entry)

    calib = []
    for n, bins, decimals in ((300, 10, None), (200, 5, 1), (50, 10, 2)):
        y = (rng.random(n) < 0.35).astype(int)
        p = np.clip(0.35 + 0.3 * (2 * y - 1) * rng.random(n) + 0.15 * rng.normal(size=n), 0, 1)
        if decimals is not None:
            p = np.round(p, decimals)  # values on the bin edges
        prob_true, prob_pred = calibration_curve(y, p, n_bins=bins, strategy="uniform")
        iso = IsotonicRegression(out_of_bounds="clip").fit(p, y)
        grid = np.linspace(-0.05, 1.05, 45)
        a, b_ = _sigmoid_calibration(p, y)
        calib.append({
            "name": f"calibration_n{n}_bins{bins}", "y": y, "p": p, "n_bins": bins,
            "prob_true": prob_true, "prob_pred": prob_pred,
            "isotonic_grid": grid, "isotonic": iso.predict(grid),
            "platt_a": a, "platt_b": b_,
        })

    splits = []
    n = 23
    for k in (2, 3, 5):
        splits.append({"kind": "k_fold", "n": n, "k": k,
                       "test": [t for _, t in KFold(n_splits=k).split(np.zeros(n))]})
        splits.append({"kind": "time_series", "n": n, "k": k,
                       "train": [tr for tr, _ in TimeSeriesSplit(n_splits=k).split(np.zeros(n))],
                       "test": [t for _, t in TimeSeriesSplit(n_splits=k).split(np.zeros(n))]})
    groups = np.array(["g%02d" % g for g in rng.integers(0, 9, 60)])
    for k in (2, 3, 4):
        splits.append({"kind": "group_k_fold", "n": 60, "k": k, "groups": groups,
                       "test": [t for _, t in GroupKFold(n_splits=k).split(np.zeros(60), groups=groups)]})
    return {"delong": delong, "mcnemar": mcn, "calibration": calib, "splits": splits}


def binary_proba(p1):
    p1 = np.asarray(p1, dtype=np.float64)
    return np.column_stack([1.0 - p1, p1])


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def main():
    rng = np.random.default_rng(SEED)
    cases = []
    bin_classes = ["noise", "pulsar"]

    def add(name, y, proba, classes, threshold):
        y = np.asarray(y, dtype=int)
        case = {
            "name": name,
            "classes": classes,
            "positive": 1 if len(classes) == 2 else -1,
            "threshold": threshold,
            "y": y,
        }
        if len(classes) == 2:
            # Binary rows are [1 - p1, p1]; the Go test rebuilds column 0
            # with the same IEEE subtraction, so storing p1 is lossless.
            case["p1"] = proba[:, 1]
        else:
            case["proba"] = proba
        case["expected"] = expected(y, proba, classes, threshold)
        cases.append(case)

    def noisy_binary(n, pos_rate, separation):
        y = (rng.random(n) < pos_rate).astype(int)
        if y.sum() == 0:
            y[0] = 1
        if y.sum() == n:
            y[0] = 0
        z = separation * (2 * y - 1) + rng.normal(size=n)
        return y, 1 / (1 + np.exp(-z))

    # Random binary scores at several thresholds and sizes.
    for n in (50, 200, 1000):
        y, p1 = noisy_binary(n, 0.3, 1.0)
        for t in (0.3, 0.5, 0.7):
            add(f"random_n{n}_t{t}", y, binary_proba(p1), bin_classes, t)

    # Heavy ties: scores rounded to one decimal.
    for n in (40, 300):
        y, p1 = noisy_binary(n, 0.4, 0.8)
        p1 = np.round(p1, 1)
        for t in (0.3, 0.5, 0.7):
            add(f"ties_n{n}_t{t}", y, binary_proba(p1), bin_classes, t)

    # Scores that sit exactly on the threshold (>= predicts positive).
    y = np.array([0, 1, 0, 1, 1, 0, 0, 1])
    p1 = np.array([0.5, 0.5, 0.3, 0.7, 0.5, 0.7, 0.2, 0.3])
    for t in (0.3, 0.5, 0.7):
        add(f"on_threshold_t{t}", y, binary_proba(p1), bin_classes, t)

    # Constant scores.
    y, _ = noisy_binary(30, 0.3, 1.0)
    for c in (0.0, 0.5, 1.0):
        add(f"constant_{c}", y, binary_proba(np.full(30, c)), bin_classes, 0.5)

    # Perfect and inverted classifiers, soft and hard probabilities.
    y, _ = noisy_binary(60, 0.35, 1.0)
    soft = np.where(y == 1, rng.uniform(0.6, 0.99, 60), rng.uniform(0.01, 0.4, 60))
    hard = y.astype(float)
    add("perfect_soft", y, binary_proba(soft), bin_classes, 0.5)
    add("perfect_hard", y, binary_proba(hard), bin_classes, 0.5)
    add("inverted_soft", y, binary_proba(1 - soft), bin_classes, 0.5)
    add("inverted_hard", y, binary_proba(1 - hard), bin_classes, 0.5)

    # Tiny inputs.
    for n in (2, 3, 4, 5):
        for rep in range(3):
            y = rng.integers(0, 2, n)
            y[0], y[-1] = 0, 1
            rng.shuffle(y)
            p1 = np.round(rng.random(n), 2 if rep < 2 else 1)
            t = (0.3, 0.5, 0.7)[rep]
            add(f"tiny_n{n}_{rep}", y, binary_proba(p1), bin_classes, t)

    # 1% positives.
    y, p1 = noisy_binary(3000, 0.01, 1.5)
    for t in (0.3, 0.5, 0.7):
        add(f"imbalanced_1pct_t{t}", y, binary_proba(p1), bin_classes, t)

    # Single-class slices: AUC undefined (nan), AP 0 without positives.
    for n, label in ((10, 0), (10, 1), (1, 0), (1, 1)):
        y = np.full(n, label)
        p1 = np.round(rng.random(n), 3)
        add(f"single_class_{label}_n{n}", y, binary_proba(p1), bin_classes, 0.5)

    # Multi-class softmax probabilities.
    for k in (3, 5):
        classes = [f"type_{chr(ord('a') + i)}" for i in range(k)]
        for n in (30, 300):
            y = rng.integers(0, k, n)
            y[:k] = np.arange(k)
            z = rng.normal(size=(n, k))
            z[np.arange(n), y] += 1.5
            add(f"softmax_k{k}_n{n}", y, softmax(z), classes, 0.0)
        # Ties: each row is one of a few fixed distributions.
        table = softmax(np.round(rng.normal(size=(4, k)), 1))
        y = rng.integers(0, k, 80)
        y[:k] = np.arange(k)
        add(f"ties_k{k}", y, table[rng.integers(0, 4, 80)], classes, 0.0)

    # argmax ties: first maximal column wins.
    classes = ["type_a", "type_b", "type_c"]
    proba = np.array(
        [[0.4, 0.4, 0.2], [0.2, 0.4, 0.4], [1 / 3, 1 / 3, 1 / 3], [0.1, 0.8, 0.1],
         [0.5, 0.25, 0.25], [0.3, 0.3, 0.4]]
    )
    add("argmax_ties_k3", [1, 2, 0, 1, 0, 2], proba, classes, 0.0)

    # Multi-class slices with absent classes: ovr AUC undefined for them.
    z = rng.normal(size=(20, 3))
    add("absent_class_k3", rng.integers(0, 2, 20), softmax(z), classes, 0.0)
    add("single_class_k3", np.full(12, 2), softmax(rng.normal(size=(12, 3))), classes, 0.0)

    doc = {
        "significance": significance_vectors(rng),
        "generated_by": "scripts/gen_metric_vectors.py",
        "seed": SEED,
        "python_version": platform.python_version(),
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
        "statsmodels_version": statsmodels.__version__,
        "cases": cases,
    }
    with open(OUT, "w") as f:
        json.dump(clean(doc), f, indent=None, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
