#!/usr/bin/python3
"""seeds.py: SR networks of several seeds per source, from separate runs.

  bench/seeds.py [--base NAME] [--ceiling NAME] NAME=RUN,RUN,... ...

Each RUN is a test file of one network (`degradiff sr test --json`, or a
bench's OUT/test/SOURCE.json), or a bare PSNR when only the mean is left.
For each source: the mean PSNR and SSIM over its seeds, their standard
deviation and the 95% t interval of the mean. For each source against
--base (default: the first): the difference of the means with Welch's 95%
interval over seeds and, when every run of both has a test file, the
difference paired over test images of the seed-averaged PSNR (95% paired t
interval, how many images are better). With --ceiling, the share of the
base -> ceiling gap each source closes. A bench run with --sr-seeds N gives
all of this in its report; this script joins networks of different runs
(docs/RESULTS.md). Plain Python 3, no packages.
"""
import argparse
import json
import math
import sys


def beta_inc(a, b, x):
    """Regularised incomplete beta I_x(a, b) by Lentz's continued fraction."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    if x > (a + 1) / (a + b + 2):
        return 1 - beta_inc(b, a, 1 - x)
    lfront = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x)
    tiny = 1e-300
    f, c, d = 1.0, 1.0, 0.0
    for i in range(400):
        m = i // 2
        if i == 0:
            num = 1.0
        elif i % 2 == 0:
            num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        else:
            num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1 + num * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + num / c
        c = c if abs(c) > tiny else tiny
        f *= c * d
        if abs(c * d - 1) < 1e-14:
            break
    return math.exp(lfront) * (f - 1) / a


def t_cdf(t, df):
    p = 0.5 * beta_inc(df / 2, 0.5, df / (df + t * t))
    return 1 - p if t > 0 else p


def t975(df):
    """The 97.5% quantile of Student's t with df (real, > 0) degrees of freedom."""
    lo, hi = 0.0, 1000.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < 0.975:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


class Run:
    def __init__(self, spec):
        self.spec = spec
        self.images = None
        try:
            self.psnr = float(spec)
        except ValueError:
            pass
        else:
            if not math.isfinite(self.psnr):
                sys.exit(f"seeds.py: {spec!r} is not a finite PSNR")
            self.ssim = None
            return
        try:
            doc = json.load(open(spec))
        except (OSError, ValueError) as e:
            sys.exit(f"seeds.py: {spec}: {e}")
        self.images = {s['name']: (s['psnr'], s['ssim']) for s in doc['images']}
        if not self.images:
            sys.exit(f"seeds.py: {spec}: no test images")
        n = len(self.images)
        self.psnr = sum(p for p, _ in self.images.values()) / n
        self.ssim = sum(s for _, s in self.images.values()) / n


def mean_sd(xs):
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, None
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def welch(a, b):
    """b minus a: difference, 95% half-width, degrees of freedom; None without two seeds each."""
    (ma, sa), (mb, sb) = mean_sd(a), mean_sd(b)
    if sa is None or sb is None:
        return mb - ma, None, None
    va, vb = sa * sa / len(a), sb * sb / len(b)
    if va + vb == 0:
        return mb - ma, 0.0, None
    df = (va + vb) ** 2 / (va * va / (len(a) - 1) + vb * vb / (len(b) - 1))
    return mb - ma, t975(df) * math.sqrt(va + vb), df


def paired(a, b):
    """Over test images, b minus a of the PSNR averaged over each source's seeds."""
    if any(r.images is None for r in a + b):
        return None
    names = set(a[0].images)
    if any(set(r.images) != names for r in a + b) or len(names) < 2:
        sys.exit("seeds.py: the runs do not score the same test images")
    d = []
    for n in sorted(names):
        pa = sum(r.images[n][0] for r in a) / len(a)
        pb = sum(r.images[n][0] for r in b) / len(b)
        d.append(pb - pa)
    m, sd = mean_sd(d)
    return m, t975(len(d) - 1) * sd / math.sqrt(len(d)), sum(x > 0 for x in d), len(d)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--base', help='the source the others are compared with (default: the first)')
    ap.add_argument('--ceiling', help='the source whose gap to --base the others close a share of (e.g. real)')
    ap.add_argument('sources', nargs='+', metavar='NAME=RUN,RUN,...')
    args = ap.parse_args()
    sources = {}
    for s in args.sources:
        name, sep, runs = s.partition('=')
        if not sep or not name or not runs:
            sys.exit(f"seeds.py: {s!r}: want NAME=RUN,RUN,...")
        if name in sources:
            sys.exit(f"seeds.py: source {name} given twice")
        sources[name] = [Run(r) for r in runs.split(',')]
    base = args.base or next(iter(sources))
    for n in (base, args.ceiling):
        if n is not None and n not in sources:
            sys.exit(f"seeds.py: no source named {n}")

    print("| source | seeds | PSNR mean ± sd [95% CI of the mean] | SSIM mean |")
    print("| --- | --- | --- | --- |")
    for name, runs in sources.items():
        ps = [r.psnr for r in runs]
        m, sd = mean_sd(ps)
        spread = ""
        if sd is not None:
            h = t975(len(ps) - 1) * sd / math.sqrt(len(ps))
            spread = f" ± {sd:.3f} [{m - h:.2f}, {m + h:.2f}]"
        ss = [r.ssim for r in runs if r.ssim is not None]
        ssim = f"{sum(ss) / len(ss):.4f}" if ss else "-"
        if ss and len(ss) < len(runs):
            ssim += f" ({len(ss)} of {len(runs)} runs)"  # bare PSNRs carry no SSIM
        print(f"| {name} | {len(runs)} ({', '.join(f'{p:.2f}' for p in ps)}) | {m:.3f}{spread} | {ssim} |")

    print()
    head = "| minus " + base + " | over seeds (Welch) [95% CI] | over test images [95% CI], better on |"
    if args.ceiling:
        head += f" share of the {base} -> {args.ceiling} gap |"
    print(head)
    print("|" + " --- |" * (4 if args.ceiling else 3))
    a = sources[base]
    gap = None
    if args.ceiling:
        gap = mean_sd([r.psnr for r in sources[args.ceiling]])[0] - mean_sd([r.psnr for r in a])[0]
    for name, runs in sources.items():
        if name == base:
            continue
        d, h, df = welch([r.psnr for r in a], [r.psnr for r in runs])
        if h is None:
            over_seeds = f"{d:+.3f} (one seed)"
        elif df is None:
            over_seeds = f"{d:+.3f} (no spread)"
        else:
            over_seeds = f"{d:+.3f} [{d - h:+.3f}, {d + h:+.3f}], {df:.1f} df"
        p = paired(a, runs)
        over_images = "-" if p is None else f"{p[0]:+.3f} [{p[0] - p[1]:+.3f}, {p[0] + p[1]:+.3f}], {p[2]} of {p[3]}"
        row = f"| {name} | {over_seeds} | {over_images} |"
        if gap is not None:
            row += f" {100 * d / gap:.0f}% |" if gap != 0 else " - |"
        print(row)


if __name__ == '__main__':
    main()
