"""Shared helpers of the yardstick scripts: machine description, building
and running the Go side, timing, peak memory of child processes, and the
side-by-side table (or JSON) output."""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import torch

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)


def log(*args):
    """Progress messages go to stderr, so that --json output stays clean."""
    print(*args, file=sys.stderr, flush=True)


def setup_torch(threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)


def go_env(threads):
    """The environment of Go children: GOMAXPROCS pinned to the thread
    count that PyTorch gets."""
    env = dict(os.environ)
    env["GOMAXPROCS"] = str(threads)
    return env


def run(cmd, env=None, cwd=REPO):
    """Run cmd, returning stdout; fail with its stderr on a non-zero exit."""
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {p.returncode}:\n{p.stderr[-4000:]}")
    return p.stdout


def go_build(pkg, out_dir, name):
    """go build the package into out_dir/name and return the path."""
    path = os.path.join(out_dir, name)
    run(["go", "build", "-o", path, pkg])
    return path


def lscpu():
    """Model name and CPU count from lscpu (or /proc/cpuinfo)."""
    model, cpus = "unknown", os.cpu_count()
    try:
        out = subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            if k.strip() == "Model name":
                model = v.strip()
            elif k.strip() == "CPU(s)":
                cpus = int(v.strip())
    except OSError:
        pass
    return model, cpus


def blas_library():
    """The BLAS shared library this process has loaded (after a matrix
    product), resolved through symlinks, and whether it is the slow netlib
    reference implementation."""
    a = torch.ones(64, 64)
    _ = a @ a
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.split()[-1]
                if re.search(r"(blas|mkl_rt|libmkl|blis)", os.path.basename(p)) and p.startswith("/"):
                    libs.add(os.path.realpath(p))
    except OSError:
        return "unknown", False
    names = sorted(libs)
    reference = any(re.search(r"/blas/libblas\.so", n) for n in names) and not any(
        re.search(r"openblas|mkl|blis", n) for n in names)
    return ", ".join(names) or "none found", reference


def machine(threads, go_kernel=None):
    """A description of the machine and both sides' settings."""
    model, cpus = lscpu()
    blas, reference = blas_library()
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    info = {
        "cpu": model, "cpus": cpus, "threads": threads, "load_avg_1min": load,
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "torch_blas": blas, "torch_blas_is_netlib_reference": reference,
        "torch_mkldnn": torch.backends.mkldnn.is_available(),
        "go_kernel": go_kernel,
        "degradiff_kernel_env": os.environ.get("DEGRADIFF_KERNEL", ""),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
    }
    try:
        info["go"] = run(["go", "version"]).strip()
    except (OSError, RuntimeError):
        info["go"] = None
    return info


def go_kernel(unetio, threads):
    """The gemm kernel path degradiff uses here (DEGRADIFF_KERNEL or the
    fastest supported), as engine/gemm reports it."""
    return json.loads(run([unetio, "kernel"], env=go_env(threads)))["kernel"]


_BENCH_LINE = re.compile(r"^(Benchmark\S+?)(?:-(\d+))?\s+(\d+)\s+(.*)$")


def go_bench(pkgs, pattern, benchtime, count, threads):
    """Run go test benchmarks matching pattern in pkgs and return
    {name: [ {"ns/op": ..., metric: ...}, ... one per -count run ]}, names
    without the -GOMAXPROCS suffix."""
    cmd = ["go", "test", "-run", "^$", "-bench", pattern, "-benchtime", benchtime,
           "-count", str(count), "-cpu", str(threads)] + pkgs
    log("go:", " ".join(cmd))
    out = run(cmd, env=go_env(threads))
    results = {}
    for line in out.splitlines():
        m = _BENCH_LINE.match(line.strip())
        if not m:
            continue
        fields = m.group(4).split()
        metrics = {}
        for value, unit in zip(fields[0::2], fields[1::2]):
            try:
                metrics[unit] = float(value)
            except ValueError:
                pass
        results.setdefault(m.group(1), []).append(metrics)
    if not results:
        raise RuntimeError(f"no benchmark results from: {' '.join(cmd)}\n{out[-2000:]}")
    return results


def median_metric(runs, unit):
    return statistics.median(r[unit] for r in runs)


def time_torch(fn, warmup, reps, iters=1):
    """Seconds per call of fn: warmup untimed calls, then reps timings of
    iters calls each; returns the list of per-call times."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(iters):
            fn()
        out.append((time.perf_counter() - start) / iters)
    return out


def run_measured(cmd, env=None, cwd=REPO):
    """Run cmd as a child and return (stdout, wall seconds, peak RSS in
    KiB, CPU seconds). The peak RSS is the child's ru_maxrss, read with
    /usr/bin/time -v when it is installed and from wait4 otherwise (the
    same kernel figure)."""
    timer = shutil.which("time", path="/usr/bin")
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "time.txt")
        full = [timer, "-v", "-o", report] + cmd if timer else cmd
        out_path, err_path = os.path.join(tmp, "out"), os.path.join(tmp, "err")
        with open(out_path, "w") as fo, open(err_path, "w") as fe:
            start = time.perf_counter()
            p = subprocess.Popen(full, cwd=cwd, env=env, stdout=fo, stderr=fe)
            _, status, ru = os.wait4(p.pid, 0)
            wall = time.perf_counter() - start
            p.returncode = os.waitstatus_to_exitcode(status)
        with open(out_path) as f:
            stdout = f.read()
        if p.returncode != 0:
            with open(err_path) as f:
                raise RuntimeError(f"{' '.join(cmd)} exited with {p.returncode}:\n{f.read()[-4000:]}")
        rss, cpu = ru.ru_maxrss, ru.ru_utime + ru.ru_stime
        if timer:
            with open(report) as f:
                text = f.read()
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
            if m:
                rss = int(m.group(1))
        return stdout, wall, rss, cpu


def ratio(ours, theirs, better):
    """How many times better degradiff is: ours/theirs when higher is
    better, theirs/ours when lower is better (so > 1 always favours us)."""
    if ours is None or theirs is None or ours == 0 or theirs == 0:
        return None
    return ours / theirs if better == "higher" else theirs / ours


def row(workload, unit, ours, theirs, better, note=""):
    return {"workload": workload, "unit": unit, "degradiff": ours, "pytorch": theirs,
            "ratio": ratio(ours, theirs, better), "better": better, "note": note}


def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def report(title, info, rows, as_json, extra=None):
    """Print the table (or one JSON document with --json)."""
    if as_json:
        doc = {"title": title, "machine": info, "rows": rows}
        if extra:
            doc.update(extra)
        print(json.dumps(doc, indent=2))
        return
    print(f"# {title}")
    print(f"machine: {info['cpu']}, {info['cpus']} CPUs, {info['threads']} threads per side, "
          f"load average {_fmt(info['load_avg_1min'])} (1 min, at start)")
    print(f"degradiff: gemm kernel {info['go_kernel']}"
          f"{' (DEGRADIFF_KERNEL=' + info['degradiff_kernel_env'] + ')' if info['degradiff_kernel_env'] else ''}, "
          f"{info['go']}")
    print(f"pytorch: {info['torch']}, {info['torch_threads']} threads, mkldnn "
          f"{'on' if info['torch_mkldnn'] else 'off'}, OMP_WAIT_POLICY={info['omp_wait_policy'] or '(unset)'}, "
          f"BLAS {info['torch_blas']}")
    if info["load_avg_1min"] is not None and info["load_avg_1min"] > 0.5 * info["cpus"]:
        print("WARNING: the machine is busy (load average above half its CPUs): timings are not representative,"
              " and PyTorch's spinning OpenMP threads suffer more than Go from oversubscription"
              " (OMP_WAIT_POLICY=PASSIVE limits that). Rerun on an idle machine.")
    if info["torch_blas_is_netlib_reference"]:
        print("WARNING: PyTorch's matrix products (torch.mm, bmm, nn.Linear) run on the netlib reference BLAS here,"
              " which is slow; convolutions use oneDNN. See bench/README.md.")
    if extra:
        for k, v in extra.items():
            if isinstance(v, dict):
                print(f"{k}:")
                for k2, v2 in v.items():
                    print(f"  {k2}: {v2}")
            else:
                print(f"{k}: {v}")
    head = ["workload", "unit", "degradiff", "pytorch", "ratio", "note"]
    cells = [[r["workload"], r["unit"], _fmt(r["degradiff"]), _fmt(r["pytorch"]),
              _fmt(r["ratio"]) + ("x" if r["ratio"] is not None else ""), r["note"]] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(head)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths))
    print()
    print(line.rstrip())
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths)).rstrip())
    print("\nratio > 1: degradiff is better (faster, higher throughput or less memory).")
