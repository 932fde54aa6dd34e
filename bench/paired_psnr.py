#!/usr/bin/python3
# paired_psnr.py A.json B.json: PSNR of B minus A over the test images of two
# `degradiff sr test --json` (or bench OUT/test/SOURCE.json) files, with a
# 95% paired t interval, the count of images B restores better and the SSIM
# difference. Used for the paired intervals of docs/RESULTS.md.
import json
import math
import sys

from seeds import t975  # the exact quantile at any df (a table ending at 30 df understated wider sets)


def scores(path):
    return {s['name']: s for s in json.load(open(path))['images']}


def main(pa, pb):
    a, b = scores(pa), scores(pb)
    if set(a) != set(b) or len(a) < 2:
        sys.exit(f"{pa} and {pb} do not score the same test images (at least 2)")
    names = sorted(a)
    d = [b[n]['psnr'] - a[n]['psnr'] for n in names]
    ds = [b[n]['ssim'] - a[n]['ssim'] for n in names]
    n = len(d)
    m = sum(d) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in d) / (n - 1))
    t = t975(n - 1)
    h = t * sd / math.sqrt(n)
    print(f"n={n} PSNR {m:+.3f} dB [{m-h:+.3f}, {m+h:+.3f}], better on {sum(x > 0 for x in d)} of {n}; SSIM {sum(ds)/n:+.4f}")


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit("usage: paired_psnr.py A.json B.json")
    main(sys.argv[1], sys.argv[2])
