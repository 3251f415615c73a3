"""Peers of `make bench` (shared/perfbench): one measurement per call, printed
as one JSON line on stdout.

The data files are the ones shared/perfbench writes (raw little-endian
arrays and CSV/Parquet tables), so both sides see the same bytes:

  metrics SCORES LABELS REPEAT    scikit-learn roc_auc_score,
                                  average_precision_score and
                                  confusion_matrix at threshold 0.5 on float64
                                  scores and uint8 labels; median seconds of
                                  REPEAT runs of each and the values
  load-csv-pandas FILE [THREADS]  pandas.read_csv, engine="c" (pandas'
                                  default; one thread whatever THREADS),
                                  pinned to one CPU like every one-thread
                                  load
  load-csv-pyarrow FILE [THREADS] pyarrow.csv.read_csv on THREADS threads
                                  (pyarrow.set_cpu_count; use_threads=False
                                  for 1)
  load-parquet-pyarrow FILE [THREADS]
                                  pyarrow.parquet.read_table, likewise
  mlp X Y INPUTS HIDDEN BATCH SECONDS THREADS [X Y ...]
                                  PyTorch eager CPU training of an
                                  INPUTS-HIDDEN-...-1 ReLU MLP (Adam, lr 1e-3,
                                  BCE with logits, full mini-batches of each
                                  shuffled epoch) on float32 X and uint8 Y;
                                  20 untimed warm-up steps, then steps until
                                  SECONDS have passed; samples/s; several
                                  cases run in one process (one import of
                                  torch), one JSON line each

  hpo-suggest                     Optuna GPSampler and TPESampler: one
                                  suggestion at 200 completed trials of
                                  Hartmann-6 (scripts/bench_hpo_optuna.py)

Every load case reports its wall time and the process's peak RSS (VmHWM),
which includes the interpreter and the imported libraries.
"""
import json
import os
import resource
import statistics
import sys
import time

import numpy as np


def peak_rss_mb():
    """The process's peak RSS: VmHWM of /proc/self/status (ru_maxrss would
    carry the parent's peak over fork and exec on Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(fn, repeat):
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def metrics(scores, labels, repeat):
    from sklearn import __version__ as sk_version
    from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score

    s = np.fromfile(scores, dtype="<f8")
    y = np.fromfile(labels, dtype=np.uint8).astype(np.int64)
    auc_s, auc = timed(lambda: roc_auc_score(y, s), repeat)
    ap_s, ap = timed(lambda: average_precision_score(y, s), repeat)
    cm_s, cm = timed(lambda: confusion_matrix(y, (s >= 0.5).astype(np.int64), labels=[0, 1]), repeat)
    print(json.dumps({"peer": "scikit-learn " + sk_version, "auc_s": auc_s, "auc": auc,
                      "ap_s": ap_s, "ap": ap, "cm_s": cm_s, "cm": cm.tolist(),
                      "all_s": auc_s + ap_s + cm_s}))


def cpu_seconds():
    """User+sys seconds of the process so far, every thread."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def pin_to_one_cpu():
    """Binds every thread of the process (and the threads it starts later)
    to its lowest allowed CPU, as perfbench's side of a one-thread row is.
    pandas' C engine is single-threaded in name only: pandas 3.1 keeps a
    second core busy during read_csv (0.76 CPU-seconds in a 0.40 s read of
    the 2M x 10 file), so unpinned it was two cores against our one."""
    cpu = min(os.sched_getaffinity(0))
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), {cpu})
        except ProcessLookupError:
            pass


def load(kind, path, threads):
    if kind == "load-csv-pandas" or threads == 1:
        pin_to_one_cpu()
    start = time.perf_counter()
    if kind == "load-csv-pandas":
        import pandas as pd
        version = "pandas " + pd.__version__
        start, cpu0 = time.perf_counter(), cpu_seconds()
        df = pd.read_csv(path, engine="c")
        rows, cols = df.shape
    else:
        import pyarrow as pa
        version = "pyarrow " + pa.__version__
        if threads > 0:
            pa.set_cpu_count(threads)
        use_threads = threads != 1
        if kind == "load-csv-pyarrow":
            import pyarrow.csv as pcsv
            opts = pcsv.ReadOptions(use_threads=use_threads)
            start, cpu0 = time.perf_counter(), cpu_seconds()
            t = pcsv.read_csv(path, read_options=opts)
        else:
            import pyarrow.parquet as pq
            start, cpu0 = time.perf_counter(), cpu_seconds()
            t = pq.read_table(path, use_threads=use_threads)
        rows, cols = t.num_rows, t.num_columns
        threads = pa.cpu_count() if use_threads else 1
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu0
    print(json.dumps({"peer": version, "seconds": seconds, "cpu_seconds": cpu, "rows": rows, "cols": cols,
                      "threads": 1 if kind == "load-csv-pandas" else threads,
                      "peak_rss_mb": peak_rss_mb()}))


def mlp(xpath, ypath, inputs, hidden, batch, budget, threads):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(1)
    x = torch.from_numpy(np.fromfile(xpath, dtype="<f4").reshape(-1, inputs))
    y = torch.from_numpy(np.fromfile(ypath, dtype=np.uint8).astype(np.float32))
    n = len(y)
    layers, width = [], inputs
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    layers.append(torch.nn.Linear(width, 1))
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def batches():
        while True:
            perm = torch.randperm(n)
            for lo in range(0, n - batch + 1, batch):
                yield perm[lo:lo + batch]

    def step(idx):
        loss = F.binary_cross_entropy_with_logits(model(x[idx]).squeeze(1), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    it = batches()
    for _ in range(20):  # warm-up
        step(next(it))
    steps, start, cpu0 = 0, time.perf_counter(), time.process_time()
    while True:
        last = step(next(it))
        steps += 1
        seconds = time.perf_counter() - start
        if seconds >= budget:
            break
    cpu = time.process_time() - cpu0
    print(json.dumps({"peer": "PyTorch " + torch.__version__ + " eager CPU", "samples_per_s": steps * batch / seconds,
                      "cpu_samples_per_s": steps * batch / cpu if cpu > 0 else 0,
                      "seconds": seconds, "steps": steps, "threads": torch.get_num_threads(), "loss": last.item()}))


def hpo_suggest():
    """Optuna's GPSampler and TPESampler suggestion time at 200 completed
    Hartmann-6 trials, as `make bench-hpo` measures it (best of 3)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import optuna
    from bench_hpo_optuna import suggest_time

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(json.dumps({"peer": "Optuna " + optuna.__version__, "gp_s": suggest_time("gp"),
                      "tpe_s": suggest_time("tpe")}))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "metrics":
        metrics(args[0], args[1], int(args[2]))
    elif cmd.startswith("load-"):
        load(cmd, args[0], int(args[1]) if len(args) > 1 else 0)
    elif cmd == "hpo-suggest":
        hpo_suggest()
    elif cmd == "mlp":
        # One or more cases of 7 arguments each, run in this one process.
        for k in range(0, len(args), 7):
            a = args[k:k + 7]
            hidden = [int(h) for h in a[3].split(",")]
            mlp(a[0], a[1], int(a[2]), hidden, int(a[4]), float(a[5]), int(a[6]))
            sys.stdout.flush()
    else:
        sys.exit("bench_peers: unknown case " + cmd)


if __name__ == "__main__":
    main()
