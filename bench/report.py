#!/usr/bin/env python3
"""Turns the measurements of bench/run.sh into BENCHMARKS.md and bench/chart.svg.

    python3 bench/report.py full target/bench      writes BENCHMARKS.md and bench/chart.svg
    python3 bench/report.py smoke target/bench-smoke   writes both into target/bench-smoke/
"""

import glob
import io
import json
import math
import os
import platform
import re
import subprocess
import sys
import zipfile

MODE, OUT = sys.argv[1], sys.argv[2]
FULL = MODE == "full"
REPORT = "BENCHMARKS.md" if FULL else os.path.join(OUT, "BENCHMARKS.md")
CHART = "bench/chart.svg" if FULL else os.path.join(OUT, "chart.svg")
FUNCTIONS = ["get-company", "create-company"]
# Every function that touches the table, and get-banks (the embedded registry).
# update-company twice: on a rename (its name index moves) and on an update that keeps the name.
TABLE_FUNCTIONS = ["get-company", "list-companies", "get-company-history", "create-company", "update-company",
                   "update-company-keep-name", "delete-company", "add-bank-account", "update-bank-account",
                   "delete-bank-account"]
LABELS = {"update-company": "update-company (rename)",
          "update-company-keep-name": "update-company (name kept)"}
MODES = ["plain", "tls"]
PHASES = [("exec_to_main", "exec → main (loading, tokio runtime)"), ("logging", "logging set-up"),
          ("client", "SDK config and client"), ("metrics", "metrics collector"),
          ("runtime_to_first_next", "runtime start → first `next`"),
          ("first_request", "first request in the handler (TLS, first DynamoDB call)"),
          ("first_invocation_outside_handler", "first invocation outside the handler")]
FLOOR_TARGETS = {"init": 1.5, "cold": 2.0, "cold_call": 1.5, "python": 1 / 30, "zip_bytes": 2.0 * 1000 * 1000}

# AWS Lambda arm64 prices (us-east-1, published list prices): per GB-second and per request.
PRICE_GB_SECOND = 0.0000133334
PRICE_PER_MILLION_REQUESTS = 0.20

TARGETS = {"cold_ratio": 0.10, "overhead_p99_us": 100.0, "zip_bytes": 2.5 * 1000 * 1000, "rss_mib": 24.0}


def load(name):
    with open(os.path.join(OUT, name)) as f:
        return json.load(f)


def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "?"


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = re.search(r"model name\s*:\s*(.*)", f.read()).group(1)
    except (OSError, AttributeError):
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kib = int(re.search(r"MemTotal:\s*(\d+)", f.read()).group(1))
            mem = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, AttributeError):
        pass
    ddb = "?"
    try:
        with open(os.path.join(OUT, "dynamodb-local-version.txt")) as f:
            ddb = f.read().strip() or "?"
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "rustc": run(["rustc", "--version"]),
        "python": run([os.path.join(".tools", "bench-venv", "bin", "python"), "--version"]) or platform.python_version(),
        "dynamodb_local": ddb,
    }


def zipped_sizes():
    """Zipped size of each arm64 release bootstrap (deflate, level 9), as Lambda receives it:
    the bootstraps this run built (bench/run.sh copies them into OUT/arm64), never whatever
    target/lambda holds (`sam build` under scripts/sam-local.sh puts quicker, larger builds
    there)."""
    sizes = {}
    base = os.path.join(OUT, "arm64")
    if not os.path.isdir(base):
        return sizes
    for fn in sorted(f[:-3] for f in os.listdir(os.path.join("functions", "src", "bin"))):
        path = os.path.join(base, fn, "bootstrap")
        if not os.path.exists(path):
            continue
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.write(path, "bootstrap")
        sizes[fn] = (os.path.getsize(path), len(buf.getvalue()))
    return sizes


def criterion():
    out = {}
    for fn in FUNCTIONS:
        path = os.path.join("target", "criterion", fn, "new", "estimates.json")
        if os.path.exists(path):
            with open(path) as f:
                est = json.load(f)
            out[fn] = (est["mean"]["point_estimate"] / 1000, est["median"]["point_estimate"] / 1000)
    return out


def cost_per_million(ms, memory_mb):
    billed_ms = math.ceil(ms)
    return PRICE_PER_MILLION_REQUESTS + 1e6 * (billed_ms / 1000) * (memory_mb / 1024) * PRICE_GB_SECOND


def memory_needed(rss_kib):
    """The smallest common Lambda size with at least twice the measured peak RSS as headroom."""
    need = 2 * rss_kib / 1024
    return next(m for m in (128, 256, 512, 1024, 2048, 3008) if m >= need)


def fmt(x, digits=1):
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.{digits}f}"


def svg_chart(results):
    """Two panels of horizontal box plots on a log scale: cold start and warm latency (ms)."""
    rows = []
    for fn in FUNCTIONS:
        for impl in ("rust", "python"):
            rows.append((f"{impl} {fn}", results[(impl, fn)]))
    width, label_w, row_h, top = 900, 170, 26, 40
    panel_h = top + row_h * len(rows) + 40

    def panel(y0, key, title):
        vals = [v for _, r in rows for v in r[key]["samples"] if v > 0]
        lo = 10 ** math.floor(math.log10(min(vals))) if vals else 0.1
        hi = 10 ** math.ceil(math.log10(max(vals))) if vals else 1000
        plot_w = width - label_w - 30

        def x(v):
            v = max(v, lo)
            return label_w + plot_w * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

        parts = [f'<text x="10" y="{y0 + 22}" font-size="15" font-weight="bold">{title}</text>']
        decade = lo
        while decade <= hi * 1.0001:
            xx = x(decade)
            parts.append(f'<line x1="{xx:.1f}" y1="{y0 + top - 8}" x2="{xx:.1f}" y2="{y0 + top + row_h * len(rows)}" stroke="#ddd"/>')
            parts.append(f'<text x="{xx:.1f}" y="{y0 + top + row_h * len(rows) + 16}" font-size="11" text-anchor="middle">{decade:g} ms</text>')
            decade *= 10
        for i, (label, r) in enumerate(rows):
            s = sorted(r[key]["samples"])
            if not s:
                continue
            q = lambda p: s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]
            yc = y0 + top + i * row_h + row_h / 2
            color = "#d9480f" if label.startswith("rust") else "#1c7ed6"
            parts.append(f'<text x="10" y="{yc + 4:.1f}" font-size="12">{label}</text>')
            parts.append(f'<line x1="{x(s[0]):.1f}" y1="{yc:.1f}" x2="{x(s[-1]):.1f}" y2="{yc:.1f}" stroke="{color}"/>')
            parts.append(f'<rect x="{x(q(25)):.1f}" y="{yc - 8:.1f}" width="{max(1.0, x(q(75)) - x(q(25))):.1f}" height="16" fill="{color}" fill-opacity="0.35" stroke="{color}"/>')
            parts.append(f'<line x1="{x(q(50)):.1f}" y1="{yc - 9:.1f}" x2="{x(q(50)):.1f}" y2="{yc + 9:.1f}" stroke="{color}" stroke-width="2"/>')
            parts.append(f'<circle cx="{x(q(99)):.1f}" cy="{yc:.1f}" r="3" fill="{color}"/>')
        return "\n".join(parts)

    body = panel(0, "cold_start_ms", "Cold start (init + first invocation), ms, log scale")
    body += "\n" + panel(panel_h, "warm_ms", "Warm invocation, ms, log scale")
    legend_y = 2 * panel_h + 10
    body += (f'\n<text x="10" y="{legend_y}" font-size="11">Box: p25–p75, thick line: p50, dot: p99, '
             f'whiskers: min–max. Orange: Rust, blue: Python 3 + boto3.</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{legend_y + 20}" '
            f'font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n{body}\n</svg>\n')


def exists(name):
    return os.path.exists(os.path.join(OUT, name))


def cold_chart(runs):
    """Grouped horizontal bars: cold start p50 of each function, Rust, floor and Python, per mode."""
    rows = []
    for mode in MODES:
        rows.append((f"floor ({mode})", runs.get((mode, "floor")), "#2b8a3e"))
        rows.append((f"floor + GetItem ({mode})", runs.get((mode, "floor-call")), "#2b8a3e"))
        for fn in TABLE_FUNCTIONS + ["get-banks"]:
            r = runs.get((mode, "rust", fn))
            rows.append((f"{LABELS.get(fn, fn)} ({mode})", r, "#d9480f" if mode == "plain" else "#e8590c"))
            rows.append((f"  python peer ({mode})", r and r.get("peer"), "#1c7ed6"))
    rows = [(label, r["cold_start_ms"]["p50"], color) for label, r, color in rows if r]
    width, label_w, row_h = 900, 260, 16
    hi = max(v for _, v, _ in rows)
    lo = min(v for _, v, _ in rows)
    lo, hi = 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))
    plot_w = width - label_w - 60

    def x(v):
        return label_w + plot_w * (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    parts = ['<text x="10" y="20" font-size="15" font-weight="bold">Cold start p50 (init + first invocation), ms, log scale</text>']
    top = 34
    decade = lo
    while decade <= hi * 1.0001:
        parts.append(f'<line x1="{x(decade):.1f}" y1="{top}" x2="{x(decade):.1f}" y2="{top + row_h * len(rows)}" stroke="#ddd"/>')
        parts.append(f'<text x="{x(decade):.1f}" y="{top + row_h * len(rows) + 14}" font-size="11" text-anchor="middle">{decade:g}</text>')
        decade *= 10
    for i, (label, v, color) in enumerate(rows):
        y = top + i * row_h
        parts.append(f'<text x="10" y="{y + 13}" font-size="11">{label}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{max(1.0, x(v) - label_w):.1f}" height="{row_h - 6}" fill="{color}" fill-opacity="0.7"/>')
        parts.append(f'<text x="{x(v) + 4:.1f}" y="{y + 13}" font-size="10">{v:.1f}</text>')
    h = top + row_h * len(rows) + 30
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" font-family="sans-serif">\n'
            f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(parts) + "\n</svg>\n")


def answered(run):
    """The statuses a run's invocations answered, with how many of each: `200×40, 404×1`."""
    return ", ".join(f"{k.replace('Some(', '').replace(')', '')}×{v}" for k, v in run["statuses"].items())


def status_classes(run):
    """The classes (2xx, 4xx, ...) of the statuses a run's invocations answered."""
    return {k.replace("Some(", "")[:1] for k in run["statuses"]}


def floor_section(w, sizes):
    """Cold start of every function against the floor, in both modes, with the start-up phases."""
    runs = {}
    for mode in MODES:
        for floor in ("floor", "floor-call"):
            if exists(f"{mode}-{floor}.json"):
                runs[(mode, floor)] = load(f"{mode}-{floor}.json")
        for fn in TABLE_FUNCTIONS + ["get-banks"]:
            if exists(f"{mode}-rust-{fn}.json"):
                runs[(mode, "rust", fn)] = load(f"{mode}-rust-{fn}.json")
    if ("plain", "floor") not in runs:
        return None
    chart = "bench/cold-start.svg" if FULL else os.path.join(OUT, "cold-start.svg")
    with open(chart, "w") as f:
        f.write(cold_chart(runs))
    w("## Cold start against the floor, plain and under TLS")
    w("")
    w("The **floor** is a bare `lambda_http` function (`bench/floor`: no SDK, no logging, same release")
    w("profile) in the same harness, every run. **plain**: the functions talk HTTP to DynamoDB Local;")
    w("**tls**: DynamoDB Local sits behind a local TLS terminator (`lambda-bench tls-proxy`: tokio")
    w("and rustls, `bench/with-tls.sh`) whose throwaway CA is appended to the system's trust bundle")
    w("for the run (`SSL_CERT_FILE`, `AWS_CA_BUNDLE`), so Rust and Python both pay a real handshake")
    w("and load a real root store on their first call, as on AWS. **floor + GetItem** (`bench/floor`,")
    w("plain mode) is the floor that")
    w("also sends get-company's GetItem with bare hyper (no SDK, no signing): what any function that")
    w("reads one item can at best do. **Python peer**: the same handler in Python 3 + boto3")
    w("(`bench/python/handlers.py`), sending DynamoDB the same requests (a create: the company, its")
    w("history entry and its name-index entries in one transaction; an update or a delete: a read,")
    w("then one transaction that moves or removes the name index too). Write functions are measured")
    w("on their first")
    w("invocation each time (unique names and account numbers per invocation); the writes to an")
    w("existing company (update, delete, the account writes) act on a company of their own in each")
    w("cold start, written just before it (`--fresh`), so every one of them succeeds. update-company")
    w("is measured twice: renaming the company (its name-index entries move: some 40 items in one")
    w("transaction) and changing its phone and billing (the company and its history entry). p50 over")
    w("the cold starts, milliseconds.")
    w("")
    floor = {mode: runs.get((mode, "floor")) for mode in MODES}
    peer = {(mode, fn): (runs.get((mode, "rust", fn)) or {}).get("peer")
            for mode in MODES for fn in TABLE_FUNCTIONS + ["get-banks"]}
    py = {mode: peer[(mode, "get-company")] for mode in MODES}
    w("Each function's cold starts alternate with the floor's (`--baseline`) and its Python peer's")
    w("(`--peer`), one of each per round: its \"× floor\" divides its p50 by the p50 of the floor's")
    w("starts made alongside it (in brackets), its \"÷ Python\" by the p50 of its peer's (the")
    w("Python column), so that every ratio compares starts made under the same load: this")
    w("machine's speed drifts by a third within a run. Page faults at init (the pages start-up")
    w("touched: code,")
    w("data the loader relocates, heap) are counted when the process first asks for an event;")
    w("unlike times they barely move between runs.")
    w("")
    w("| function | init plain | × floor | cold start plain | × floor | page faults at init (floor) | Python plain | ÷ Python plain | cold start TLS | Python TLS | ÷ Python TLS | statuses |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    # "unpaired": functions a mode's Python peer is missing for, which the Python target cannot judge.
    worst = {"init": 0.0, "cold": 0.0, "python": 0.0, "python_no_rename": 0.0, "unpaired": [],
             "answered_otherwise": []}
    fl = floor["plain"]
    faults = fl.get("init_page_faults", {}).get("p50", float("nan"))
    floor_py = f"1/{py['plain']['cold_start_ms']['p50'] / fl['cold_start_ms']['p50']:.0f}" if py["plain"] else "n/a"
    w(f"| **floor** | {fl['init_ms']['p50']:.2f} | 1.00 | {fl['cold_start_ms']['p50']:.2f} | 1.00 | {faults:.0f} | | "
      f"{floor_py} (get-company's peer) | "
      f"{floor['tls']['cold_start_ms']['p50'] if floor.get('tls') else float('nan'):.2f} | | | |")
    for fn in TABLE_FUNCTIONS + ["get-banks"]:
        r = runs.get(("plain", "rust", fn))
        t = runs.get(("tls", "rust", fn))
        if not r:
            continue
        # The floor's starts made alongside this function's when there are any, else its own run.
        base = r.get("baseline") or fl
        init_x = r["init_ms"]["p50"] / base["init_ms"]["p50"]
        cold_x = r["cold_start_ms"]["p50"] / base["cold_start_ms"]["p50"]
        faults = (f"{r['init_page_faults']['p50']:.0f} ({base['init_page_faults']['p50']:.0f})"
                  if r.get("init_page_faults", {}).get("n") and base.get("init_page_faults", {}).get("n") else "n/a")
        pp, pt = peer[("plain", fn)], peer[("tls", fn)]
        py_plain = r["cold_start_ms"]["p50"] / pp["cold_start_ms"]["p50"] if pp else float("nan")
        py_tls = t["cold_start_ms"]["p50"] / pt["cold_start_ms"]["p50"] if t and pt else float("nan")
        if fn in TABLE_FUNCTIONS:
            worst.setdefault("init_by_function", {})[fn] = init_x
            worst["init"] = max(worst["init"], init_x)
            worst["cold"] = max(worst["cold"], cold_x)
            if math.isnan(py_plain) or math.isnan(py_tls):
                worst["unpaired"].append(LABELS.get(fn, fn))
            ratio = max(0 if math.isnan(py_plain) else py_plain, 0 if math.isnan(py_tls) else py_tls)
            worst["python"] = max(worst["python"], ratio)
            if fn != "update-company":
                worst["python_no_rename"] = max(worst["python_no_rename"], ratio)
        statuses = answered(r)
        # Both sides must have done the same work: a function refused (403) or failing where its
        # peer succeeded measures the refusal, not the operation.
        if pp and status_classes(r) != status_classes(pp):
            worst["answered_otherwise"].append(LABELS.get(fn, fn))
        for mode, p in (("plain", pp), ("TLS", pt)):
            if p:
                statuses += f"; Python {mode} " + answered(p)
        w(f"| {LABELS.get(fn, fn)} | {r['init_ms']['p50']:.2f} | {init_x:.2f} ({base['init_ms']['p50']:.2f}) | {r['cold_start_ms']['p50']:.2f} | "
          f"{cold_x:.2f} ({base['cold_start_ms']['p50']:.2f}) | {faults} | {fmt(pp and pp['cold_start_ms']['p50'], 1)} | "
          f"{'1/%.0f' % (1 / py_plain) if not math.isnan(py_plain) else 'n/a'} | {t['cold_start_ms']['p50'] if t else float('nan'):.2f} | "
          f"{fmt(pt and pt['cold_start_ms']['p50'], 1)} | {'1/%.0f' % (1 / py_tls) if not math.isnan(py_tls) else 'n/a'} | {statuses} |")
    w("")
    if exists("tls-rust-get-company-ca-only.json") and runs.get(("tls", "rust", "get-company")):
        alone = load("tls-rust-get-company-ca-only.json")["cold_start_ms"]["p50"]
        bundle = runs[("tls", "rust", "get-company")]["cold_start_ms"]["p50"]
        w(f"**Trust without a bundle to parse** (TLS): get-company's cold start is {alone:.2f} ms when the")
        w(f"bundle it is given holds the throwaway CA alone, {bundle:.2f} ms with the system's bundle plus")
        w(f"that CA (above): {bundle - alone:+.2f} ms for reading and decoding ~145 certificates. On AWS no")
        w("bundle is named and the functions trust Mozilla's roots compiled in (nothing to read or")
        w("decode); the Python peer reads certifi's bundle there as it reads the system's here.")
        w("")
    call = runs.get(("plain", "floor-call"))
    beside = load("plain-rust-get-company-vs-call.json") if exists("plain-rust-get-company-vs-call.json") else None
    if call and beside and beside.get("baseline"):
        pair = beside["baseline"]["cold_start_ms"]["p50"]
        worst["call"] = beside["cold_start_ms"]["p50"] / pair
        w(f"**floor + GetItem** (plain): init {call['init_ms']['p50']:.2f} ms, cold start "
          f"{call['cold_start_ms']['p50']:.2f} ms, warm p50 {call['warm_ms']['p50']:.2f} ms. Started alternately with "
          f"get-company, its cold start was {pair:.2f} ms and get-company's {beside['cold_start_ms']['p50']:.2f} ms: "
          f"{worst['call']:.2f} × it (the floor's own cold start, without the call: {fl['cold_start_ms']['p50']:.2f} ms).")
        w("")
    w(f"![Cold start p50 of every function, the floor and Python, plain and TLS]({chart})")
    w("")
    w("Where start-up goes (plain mode, p50 ms; the functions report their phases on stderr when")
    w("the harness sets `COMPANIES_INIT_PHASES`, the rest is the harness's own timing):")
    w("")
    shown = [fn for fn in ["get-company", "create-company", "list-companies"] if ("plain", "rust", fn) in runs]
    w("| phase | " + " | ".join(f"{fn} plain" for fn in shown) + " | " + " | ".join(f"{fn} TLS" for fn in shown) + " |")
    w("|---|" + "---:|" * (2 * len(shown)))
    for key, label in PHASES:
        cells = []
        for mode in MODES:
            for fn in shown:
                r = runs.get((mode, "rust", fn))
                v = r.get("phases_ms", {}).get(key, {}).get("p50") if r else None
                cells.append(fmt(v, 3))
        w(f"| {label} | " + " | ".join(cells) + " |")
    w("")
    return worst


def main():
    results = {(impl, fn): load(f"plain-{impl}-{fn}.json") for impl in ("rust", "python") for fn in FUNCTIONS}
    # The Python peer's starts are those made alongside the Rust function's (`--peer`); its own run
    # measures warm latency and peak memory.
    for fn in FUNCTIONS:
        paired = results[("rust", fn)].get("peer")
        if paired:
            results[("python", fn)] = dict(results[("python", fn)], init_ms=paired["init_ms"],
                                           cold_start_ms=paired["cold_start_ms"])
    overhead = {fn: load(f"overhead-{fn}.json") for fn in FUNCTIONS}
    sizes = zipped_sizes() if FULL else {}
    crit = criterion() if FULL else {}
    m = machine()
    with open(CHART, "w") as f:
        f.write(svg_chart(results))
    floor_lines = []
    floor_worst = floor_section(floor_lines.append, sizes)

    lines = []
    w = lines.append
    w("# Benchmarks")
    w("")
    if not FULL:
        w("> Smoke run (`make bench-smoke`): debug builds and one or two samples, to prove the harness")
        w("> works. These figures mean nothing; `make bench` produces the real ones.")
        w("")
    w("Rust functions against the same handlers in Python 3 + boto3 (`bench/python/handlers.py`, run")
    w("under `awslambdaric`), on one machine, in one run, against the same DynamoDB Local table.")
    w("Generated by `make bench` (`bench/run.sh full`); rerun it to reproduce. Not run in CI (CI runs")
    w("one short iteration of the harness: `make bench-smoke`).")
    w("")
    w("## How")
    w("")
    w("- `bench/harness` (`lambda-bench`) plays the Lambda Runtime API on localhost: it starts the")
    w("  function's process with `AWS_LAMBDA_RUNTIME_API` pointing at itself and hands it the events")
    w("  of `bench/events/` (API Gateway HTTP API v2 events). **Init** is exec → first `next` call;")
    w("  **first invocation** is event handed out → response; **cold start** is their sum, measured")
    w(f"  over {results[('rust', 'get-company')]['cold_start_ms']['n']} fresh processes per function; **warm** is")
    w(f"  {results[('rust', 'get-company')]['warm_ms']['n']} further invocations of the last process;")
    w("  **peak RSS** is the process's `VmHWM`.")
    w("- Every invocation is traced as on Lambda with tracing active: the harness hands each one a")
    w("  sampled trace header (`Lambda-Runtime-Trace-Id`, `Sampled=1`) and names a UDP socket of its")
    w("  own as the X-Ray daemon (`AWS_XRAY_DAEMON_ADDRESS`), so each DynamoDB call of a Rust")
    w("  function sends its subsegment in the times below (docs/decisions/0008-xray-interceptor.md).")
    w("- Both implementations read and write the same item shape in the same table on DynamoDB Local")
    w(f"  {m['dynamodb_local']} (Java, in memory), so warm latency is dominated by that local server;")
    w("  it compares the clients' overhead, not DynamoDB's.")
    w("- Handler overhead without a database: the event parsed, routed, validated and answered on")
    w("  the in-memory store, in process — `lambda-bench overhead` (per-call p50/p99) and the")
    w("  Criterion benchmark `edge/benches/handlers.rs` (mean with confidence interval).")
    w("- Timing runs use native x86_64 release builds of the same code (this machine cannot execute")
    w("  arm64); artifact sizes are of the arm64 release bootstraps `cargo lambda build --release")
    w("  --arm64` produces, zipped as Lambda receives them.")
    w("")
    w("## Machine")
    w("")
    w(f"- {m['cpu']}, {m['cores']} cores, {m['memory']} RAM, {m['os']}")
    w(f"- {m['rustc']}; {m['python']}; DynamoDB Local {m['dynamodb_local']}")
    w("")
    w("## Results")
    w("")
    w("| function | measure | Rust | Python + boto3 | Python ÷ Rust |")
    w("|---|---|---:|---:|---:|")
    for fn in FUNCTIONS:
        r, p = results[("rust", fn)], results[("python", fn)]
        for key, label in (("init_ms", "init p50 (ms)"), ("cold_start_ms", "cold start p50 (ms)"),
                           ("cold_start_ms", "cold start p99 (ms)"), ("warm_ms", "warm p50 (ms)"),
                           ("warm_ms", "warm p99 (ms)"), ("peak_rss_kib", "peak RSS (MiB)")):
            stat = "p99" if "p99" in label else "p50"
            rv, pv = r[key][stat], p[key][stat]
            if key == "peak_rss_kib":
                rv, pv = rv / 1024, pv / 1024
            ratio = pv / rv if rv else float("nan")
            w(f"| {fn} | {label} | {fmt(rv, 2)} | {fmt(pv, 2)} | {fmt(ratio, 1)}× |")
    w("")
    w("![Cold start and warm latency distributions](bench/chart.svg)")
    w("")
    lines.extend(floor_lines)
    w("Handler overhead without the database (in process, in-memory store; the first call pays")
    w("the handler's one-time work, and is not in the percentiles):")
    w("")
    w("| function | first call (µs) | p50 (µs) | p99 (µs) | Criterion mean (µs) |")
    w("|---|---:|---:|---:|---:|")
    for fn in FUNCTIONS:
        o = overhead[fn]
        c = crit.get(fn)
        w(f"| {fn} | {fmt(o.get('first_us'), 1)} | {fmt(o['p50_us'], 1)} | {fmt(o['p99_us'], 1)} | {fmt(c[0], 1) if c else 'n/a'} |")
    w("")
    if sizes:
        w("Artifact sizes (arm64 release `bootstrap`):")
        w("")
        w("| function | binary (MB) | zipped (MB) |")
        w("|---|---:|---:|")
        for fn, (raw, zipped) in sizes.items():
            w(f"| {fn} | {raw / 1e6:.2f} | {zipped / 1e6:.2f} |")
        w("")

    w("## Cost on paper")
    w("")
    w(f"Lambda arm64 list prices: ${PRICE_GB_SECOND} per GB-second, ${PRICE_PER_MILLION_REQUESTS} per million")
    w("requests; duration billed per started millisecond; memory = the smallest common size with twice")
    w("the measured peak RSS. Warm p50 durations as measured here (DynamoDB Local); real DynamoDB")
    w("latency adds the same amount to both. With 1 % cold starts, the cold-start p50 is added for them.")
    w("")
    w("| function | implementation | memory (MB) | $ per 1M (warm) | $ per 1M (1 % cold) |")
    w("|---|---|---:|---:|---:|")
    for fn in FUNCTIONS:
        for impl in ("rust", "python"):
            r = results[(impl, fn)]
            mem = memory_needed(r["peak_rss_kib"]["max"])
            warm = cost_per_million(r["warm_ms"]["p50"], mem)
            cold = 0.99 * warm + 0.01 * cost_per_million(r["cold_start_ms"]["p50"], mem)
            w(f"| {fn} | {impl} | {mem} | {warm:.4f} | {cold:.4f} |")
    w("")

    w("## Targets")
    w("")
    rc = max(results[("rust", fn)]["cold_start_ms"]["p50"] / results[("python", fn)]["cold_start_ms"]["p50"] for fn in FUNCTIONS)
    op99 = max(overhead[fn]["p99_us"] for fn in FUNCTIONS)
    rss = max(results[("rust", fn)]["peak_rss_kib"]["max"] for fn in FUNCTIONS) / 1024
    zmax = max((z for _, z in sizes.values()), default=None)
    def verdict(ok):
        return "**met**" if ok else "**missed**"
    w("| target | measured | |")
    w("|---|---|---|")
    w(f"| cold start ≤ 1/10 of the Python peer (p50) | worst Rust/Python ratio {rc:.3f} (1/{1 / rc:.1f}) | {verdict(rc <= TARGETS['cold_ratio'])} |")
    w(f"| warm handler overhead p99 ≤ 100 µs without the database | worst p99 {op99:.1f} µs | {verdict(op99 <= TARGETS['overhead_p99_us'])} |")
    if zmax is not None:
        w(f"| zipped bootstrap ≤ 2.5 MB | largest {zmax / 1e6:.2f} MB | {verdict(zmax <= TARGETS['zip_bytes'])} |")
    else:
        w("| zipped bootstrap ≤ 2.5 MB | not measured in this run | |")
    w(f"| peak RSS ≤ 24 MB | largest {rss:.1f} MiB | {verdict(rss <= TARGETS['rss_mib'])} |")
    if floor_worst:
        fi, fc, fp = floor_worst["init"], floor_worst["cold"], floor_worst["python"]
        w(f"| init ≤ 1.5 × the floor's (p50, every table function, plain, against the floor's starts alongside) | worst {fi:.2f} × | {verdict(fi <= FLOOR_TARGETS['init'])} |")
        w(f"| cold start ≤ 2 × the floor's (p50, every table function, plain, against the floor's starts alongside) | worst {fc:.2f} × | {verdict(fc <= FLOOR_TARGETS['cold'])} |")
        if "call" in floor_worst:
            w(f"| get-company cold start ≤ 1.5 × floor-call, the floor + the same GetItem (p50, plain, sampled, a daemon address set; their starts alternating) | {floor_worst['call']:.2f} × | {verdict(floor_worst['call'] <= FLOOR_TARGETS['cold_call'])} |")
        if "get-company" in floor_worst.get("init_by_function", {}):
            gi = floor_worst["init_by_function"]["get-company"]
            w(f"| get-company init ≤ 1.5 × the floor's (p50, plain, sampled, a daemon address set) | {gi:.2f} × | {verdict(gi <= FLOOR_TARGETS['init'])} |")
        fk, unpaired = floor_worst["python_no_rename"], floor_worst["unpaired"]

        def python_verdict(ratio):
            # Judged only when every function had its peer in both modes.
            return f"**not measured** for {', '.join(unpaired)}" if unpaired else verdict(ratio <= FLOOR_TARGETS['python'])
        w(f"| cold start ≤ 1/30 of Python + boto3 (p50, plain and TLS; each function against its Python peer's starts alongside) | worst 1/{1 / fp:.0f} | {python_verdict(fp)} |")
        w(f"| the same, leaving out update-company's rename (its name index moves: some 40 items in one transaction) | worst 1/{1 / fk:.0f} | {python_verdict(fk)} |")
        if zmax is not None:
            w(f"| zipped bootstrap ≤ 2.0 MB | largest {zmax / 1e6:.2f} MB | {verdict(zmax <= FLOOR_TARGETS['zip_bytes'])} |")
    w("")
    bloat = os.path.join(OUT, "bloat.md")
    if os.path.exists(bloat):
        with open(bloat) as f:
            w(f.read().rstrip())
        w("")
    # Results of bench/scale.sh (part of make bench) and of bench/write-latency.sh runs.
    extras = [os.path.join("bench", "scale.md"), os.path.join("bench", "sam-local.md")]
    extras += sorted(glob.glob(os.path.join("bench", "write-latency-*.md")))
    for extra in extras:
        if FULL and os.path.exists(extra):
            with open(extra) as f:
                w(f.read().rstrip())
            w("")
    w("## Why the numbers are what they are")
    w("")
    w("The release profile, the HTTP connector, the compiled-in roots, the name index and the")
    w("start-up work left in place were each chosen on measurements recorded in")
    w("[docs/decisions/](docs/decisions/README.md).")
    w("")
    with open(REPORT, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {REPORT} and {CHART}")
    if floor_worst and floor_worst["answered_otherwise"]:
        sys.exit("bench: these functions answered otherwise than their Python peer (the run "
                 "measured something else than the operation): "
                 + ", ".join(floor_worst["answered_otherwise"]))


if __name__ == "__main__":
    main()
