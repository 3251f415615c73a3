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
from sklearn.metrics import (
    accuracy_score,
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
    for key in ("roc_auc", "average_precision"):
        if e[key] is None:
            e[key] = float("nan")  # raised: the Go side reports NaN
        if e[key + "_error"] is None:
            del e[key + "_error"]
    return e


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
        "generated_by": "scripts/gen_metric_vectors.py",
        "seed": SEED,
        "python_version": platform.python_version(),
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
        "cases": cases,
    }
    with open(OUT, "w") as f:
        json.dump(clean(doc), f, indent=None, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
