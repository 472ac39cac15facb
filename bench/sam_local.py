#!/usr/bin/env python3
"""Measures get-company through `sam local` (run by bench/sam-local.sh, inside sam-local.sh run)."""
import http.client
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

COLD, WARM = int(sys.argv[1]), int(sys.argv[2])
ARCH, IMAGE = os.environ["SAM_ARCH"], os.environ["SAM_IMAGE"]
# Without AWS credentials: given some, SAM asks AWS's STS who the caller is.
SAM = ["env", "-u", "AWS_ACCESS_KEY_ID", "-u", "AWS_SECRET_ACCESS_KEY", "-u", "AWS_SESSION_TOKEN",
       "-u", "AWS_PROFILE", "scripts/tools.sh", "sam", "python3", "scripts/sam_host_network.py", "local"]
COMMON = ["--docker-network", "host", "--skip-pull-image", "--invoke-image", IMAGE,
          "--env-vars", "target/sam-local/env.json"]
COMPANY = "/companies/0193a5b2-7c1d-7e4f-9a10-3b5c7d9e1f20"


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def cold():
    walls, inits, durations = [], [], []
    for _ in range(COLD):
        started = time.monotonic()
        out = subprocess.run(SAM + ["invoke", *COMMON, "GetCompanyFunction", "-e", "events/get-company.json"],
                             capture_output=True, text=True, check=True)
        walls.append((time.monotonic() - started) * 1000)
        assert '"statusCode": 200' in out.stdout, out.stdout + out.stderr
        report = re.search(r"Init Duration: ([\d.]+) ms\s+Duration: ([\d.]+) ms", out.stderr + out.stdout)
        if report:
            inits.append(float(report.group(1)))
            durations.append(float(report.group(2)))
    return walls, inits, durations


def warm():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    log = open("target/sam-local/bench-start-api.log", "w")
    api = subprocess.Popen(SAM + ["start-api", *COMMON, "--host", "127.0.0.1", "--port", str(port),
                                  "--warm-containers", "EAGER"], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                conn.request("GET", COMPANY)
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("start-api did not answer (target/sam-local/bench-start-api.log)")
            time.sleep(0.25)
        times = []
        for _ in range(WARM):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            started = time.monotonic()
            conn.request("GET", COMPANY)
            response = conn.getresponse()
            response.read()
            times.append((time.monotonic() - started) * 1000)
            conn.close()
            assert response.status == 200
        return times
    finally:
        api.send_signal(signal.SIGINT)
        api.wait(timeout=60)


walls, inits, durations = cold()
times = warm()
cpu = "unknown"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
emulated = ARCH == "arm64" and platform.machine() != "aarch64"
lines = [
    "## get-company through `sam local`",
    "",
    f"`bench/sam-local.sh {COLD} {WARM}` on this machine ({cpu}, {os.cpu_count()} cores), the {ARCH} "
    f"bootstrap{' under qemu-user-static' if emulated else ''}, in a container of the local base image, "
    "against DynamoDB Local; quick release profile (no fat LTO), as `make sam-local` builds it. "
    "Not a target: what a user of `sam local` should expect. Emulation makes the function's own "
    "time many times what it is on Lambda (see the cold-start table above for native figures).",
    "",
    "| measure | runs | p50 (ms) | p90 (ms) | max (ms) |",
    "|---|---:|---:|---:|---:|",
    f"| cold: `sam local invoke`, wall time (new container, SAM start included) | {len(walls)} | "
    f"{statistics.median(walls):.0f} | {pct(walls, 90):.0f} | {max(walls):.0f} |",
]
if inits:
    lines.append(f"| cold: the function's Init Duration (RIE report) | {len(inits)} | {statistics.median(inits):.1f} | "
                 f"{pct(inits, 90):.1f} | {max(inits):.1f} |")
    lines.append(f"| cold: the function's first Duration (RIE report) | {len(durations)} | "
                 f"{statistics.median(durations):.1f} | {pct(durations, 90):.1f} | {max(durations):.1f} |")
lines.append(f"| warm: `sam local start-api`, GET over HTTP, warm container | {len(times)} | "
             f"{statistics.median(times):.1f} | {pct(times, 90):.1f} | {max(times):.1f} |")
open("bench/sam-local.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
