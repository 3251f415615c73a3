#!/usr/bin/env python3
"""Write HTRU2 rows as astronomers write tables: FITS (astropy.io.fits) and
VOTable (astropy.io.votable), with the CSV of the same values beside them.

Usage: gen_astro_fixtures.py OUT_DIR [--rows N] [--prefix NAME] [--htru2 PATH]

OUT_DIR receives, for the first N rows of the bundled HTRU2 data (NAME is
htru2 unless --prefix says otherwise):
  NAME.fits           primary HDU, then BINTABLE "CANDIDATES" (the data) and
                      BINTABLE "SUMMARY" (class counts)
  NAME.fits.gz        the same file, gzip-compressed
  NAME-td.vot         VOTable, TABLEDATA serialisation
  NAME-b2.vot         VOTable, BINARY2 serialisation
  NAME.csv            the values astropy reads back from NAME.fits, one column
                      per vector element, nulls as empty cells

make test (scripts/test.d/25-astro.sh) writes them to .cache/astro-fixtures;
events/data/htru2-sample.{fits,vot,csv} are 300 rows of the same (--rows 300
--prefix htru2-sample, the TABLEDATA VOTable kept as htru2-sample.vot).

The CANDIDATES columns exercise the FITS conventions a reader must apply:
  source_id  K   a large unique integer (an identifier, not a feature)
  mean_ip    D   TUNIT mJy
  sd_ip      I   scaled: TSCAL 0.01, TZERO 50 (physical = 50 + 0.01 * raw), TUNIT mJy
  kurt_ip    E   float32, NaN (the float null) in every 50th row
  skew_ip    D
  dm_snr     4D  a vector: mean, sd, excess kurtosis, skewness of the DM-SNR curve
  n_obs      J   TNULL -99, null in every 11th row
  flags      I   unsigned 16-bit (TZERO 32768)
  bright     L   logical
  class      B   unsigned byte, 1 = pulsar

The CSV is written from what astropy reads back (scaling applied, masked
cells empty, every float as the repr of its float64 value), so a reader that
applies the conventions as astropy does gets bit-identical features from
every file.
"""
import argparse
import csv
import gzip
import os
import shutil

import numpy as np
from astropy.io import fits
from astropy.io.votable import from_table
from astropy.table import Table

HERE = os.path.dirname(os.path.abspath(__file__))


def load_htru2(path, rows):
    with open(path, newline="") as f:
        r = csv.reader(f)
        next(r)
        data = [list(map(float, rec)) for _, rec in zip(range(rows), r)]
    return np.array(data)


def write_fits(path, d):
    n = len(d)
    i = np.arange(n)
    kurt = d[:, 2].astype(np.float32)
    kurt[i % 50 == 49] = np.nan
    n_obs = (i % 5 + 1).astype(np.int32)
    n_obs[i % 11 == 10] = -99
    sd_raw = np.round((d[:, 1] - 50.0) / 0.01).astype(np.int16)
    cols = [
        fits.Column(name="source_id", format="K", array=1_000_000_000_000 + 37 * i),
        fits.Column(name="mean_ip", format="D", unit="mJy", array=d[:, 0]),
        # The raw integers; TSCAL2/TZERO2 are set below (astropy scales
        # physical values on write only for float input).
        fits.Column(name="sd_ip", format="I", unit="mJy", array=sd_raw),
        fits.Column(name="kurt_ip", format="E", array=kurt),
        fits.Column(name="skew_ip", format="D", array=d[:, 3]),
        fits.Column(name="dm_snr", format="4D", array=d[:, 4:8]),
        fits.Column(name="n_obs", format="J", null=-99, array=n_obs),
        fits.Column(name="flags", format="I", bzero=32768, array=(40000 + i % 3).astype(np.uint16)),
        fits.Column(name="bright", format="L", array=d[:, 0] > 120),
        fits.Column(name="class", format="B", array=d[:, 8].astype(np.uint8)),
    ]
    data = fits.BinTableHDU.from_columns(cols, name="CANDIDATES")
    counts = np.unique(d[:, 8].astype(np.uint8), return_counts=True)
    summary = fits.BinTableHDU.from_columns(
        [fits.Column(name="class", format="B", array=counts[0]), fits.Column(name="rows", format="K", array=counts[1])],
        name="SUMMARY",
    )
    fits.HDUList([fits.PrimaryHDU(), data, summary]).writeto(path, overwrite=True)
    fits.setval(path, "TSCAL3", value=0.01, ext=1)
    fits.setval(path, "TZERO3", value=50.0, ext=1)


def cell(v, masked):
    if masked:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (np.integer, int)):
        return str(int(v))
    f = float(v)
    return "" if np.isnan(f) else repr(f)


def write_csv(path, t):
    header, getters = [], []
    for name in t.colnames:
        col = t[name]
        if col.ndim == 1:
            header.append(name)
            getters.append((name, None))
        else:
            for k in range(col.shape[1]):
                header.append(f"{name}_{k}")
                getters.append((name, k))
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for row in range(len(t)):
            rec = []
            for name, k in getters:
                col = t[name]
                v = col[row] if k is None else col[row][k]
                m = np.ma.getmaskarray(col)[row]
                if k is not None and np.ndim(m):
                    m = m[k]
                rec.append(cell(v, bool(m)))
            w.writerow(rec)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--prefix", default="htru2")
    ap.add_argument("--htru2", default=os.path.join(HERE, "..", "events", "data", "htru2.csv"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    d = load_htru2(args.htru2, args.rows)

    name = args.prefix
    fits_path = os.path.join(args.out, name + ".fits")
    write_fits(fits_path, d)
    with open(fits_path, "rb") as src, open(fits_path + ".gz", "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as dst:
            shutil.copyfileobj(src, dst)
    fits.open(fits_path).verify("exception")

    t = Table.read(fits_path, hdu="CANDIDATES")
    write_csv(os.path.join(args.out, name + ".csv"), t)

    # VOTable has no unsigned 16-bit integer: flags goes as int.
    t["flags"] = t["flags"].astype(np.int32)
    vot = from_table(t)
    vot.to_xml(os.path.join(args.out, name + "-td.vot"), tabledata_format="tabledata")
    vot.to_xml(os.path.join(args.out, name + "-b2.vot"), tabledata_format="binary2")


if __name__ == "__main__":
    main()
