"""PyTorch peer of the Go/libtorch trainer for `make bench-torch`.

Trains the same MLP as trainer/torch's BenchmarkTrainTorch on HTRU2 (8-64-32-1,
ReLU, dropout 0.1, AdamW with weight decay on the weights only, class-weighted
BCE with logits, batch 128, warmup-then-cosine learning rate per epoch, a
validation pass after every epoch) and prints the training throughput as one
JSON line: {"samples_per_s": ..., "threads": ..., "device": ...}.
"""
import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn.functional as F


def rate(epoch, epochs, lr=0.003, warmup=2, min_lr=1e-5):
    e = epoch - 1
    if e < warmup:
        return lr * (0.1 + 0.9 * e / warmup)
    t = e - warmup
    span = max(1, epochs - warmup)
    return min_lr + (lr - min_lr) * (1 + math.cos(math.pi * t / span)) / 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="events/data/htru2.csv")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)

    raw = np.loadtxt(args.data, delimiter=",", skiprows=1)
    x, y = raw[:, :-1], raw[:, -1].astype(np.int64)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(y))
    n_test, n_val = round(0.2 * len(y)), round(0.15 * len(y))
    test, val, train = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
    mean, std = x[train].mean(0), x[train].std(0)
    std[std == 0] = 1
    x = (x - mean) / std
    counts = np.bincount(y[train], minlength=2)
    class_w = len(train) / (2 * counts)

    X = torch.tensor(x[train], dtype=torch.float32, device=dev)
    Y = torch.tensor(y[train], dtype=torch.float32, device=dev)
    W = torch.tensor(class_w[y[train]], dtype=torch.float32, device=dev)
    Xv = torch.tensor(x[val], dtype=torch.float32, device=dev)
    Yv = torch.tensor(y[val], dtype=torch.float32, device=dev)
    Wv = torch.tensor(class_w[y[val]], dtype=torch.float32, device=dev)

    model = torch.nn.Sequential(
        torch.nn.Linear(8, 64), torch.nn.ReLU(), torch.nn.Dropout(0.1),
        torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Dropout(0.1),
        torch.nn.Linear(32, 1)).to(dev)
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    opt = torch.optim.AdamW([{"params": weights, "weight_decay": 1e-4},
                             {"params": biases, "weight_decay": 0.0}], lr=0.003)

    n = len(train)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        for g in opt.param_groups:
            g["lr"] = rate(epoch, args.epochs)
        model.train()
        perm = torch.randperm(n, device=dev)
        loss_sum = torch.zeros((), device=dev)
        for lo in range(0, n, args.batch):
            idx = perm[lo:lo + args.batch]
            logits = model(X[idx]).squeeze(1)
            loss = F.binary_cross_entropy_with_logits(logits, Y[idx], weight=W[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.detach() * len(idx)
        model.eval()
        with torch.no_grad():
            val_loss = F.binary_cross_entropy_with_logits(model(Xv).squeeze(1), Yv, weight=Wv)
        _ = (loss_sum / n).item(), val_loss.item()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    print(json.dumps({"samples_per_s": args.epochs * n / elapsed, "threads": args.threads,
                      "device": args.device, "epochs": args.epochs, "batch": args.batch,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
