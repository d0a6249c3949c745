"""Shared helpers for the benchmark scripts: statistics, the machine header, docs/benchmarks.md sections.

Every script measures a subject against a baseline in the same run (interleaved where it can), reports medians
and p90 over its runs, and rewrites only its own marked block of docs/benchmarks.md.
"""

from __future__ import annotations

import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # scripts run as `python benchmarks/<name>.py`
    sys.path.insert(0, str(REPO_ROOT))

DOCS = REPO_ROOT / "docs" / "benchmarks.md"
COMFYUI = Path(os.environ.get("COMFYUI_PATH", REPO_ROOT / ".comfyui"))
TINY_CACHE = REPO_ROOT / ".cache" / "test-models" / "tiny-sd3-v1.safetensors"
TINY_NAME = "tiny_sd3.safetensors"


@dataclass(frozen=True)
class Summary:
    median: float
    p90: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        ordered = sorted(values)
        rank = max(1, math.ceil(0.9 * len(ordered)))  # nearest-rank p90
        return cls(statistics.median(ordered), ordered[rank - 1], len(ordered))


def fmt(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def ratio(subject: float, baseline: float) -> str:
    return f"{subject / baseline:.2f}x" if baseline > 0 else "n/a"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _comfyui_version() -> str:
    match = re.search(r"__version__\s*=\s*\"([^\"]+)\"", (COMFYUI / "comfyui_version.py").read_text())
    return match.group(1) if match else "unknown"


def _torch_version() -> str:
    out = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True, check=False
    )
    return out.stdout.strip() or "unknown"


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine_header() -> str:
    rows = [
        ("nproc", str(os.cpu_count())),
        ("CPU", _cpu_model()),
        ("RAM", _ram_gib()),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        ("torch", _torch_version()),
        ("ComfyUI", _comfyui_version()),
    ]
    return table(["", "development machine"], [list(row) for row in rows])


def _replace_block(text: str, key: str, body: str, section: str = "## Worker") -> str:
    """Replace the marked block ``key``; a new block goes at the end of ``section`` (before the next heading)."""
    start, end = f"<!-- bench:{key}:start -->", f"<!-- bench:{key}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        return pattern.sub(lambda _m: block, text)
    if section not in text:
        text = text.rstrip() + f"\n\n{section}\n"
    after = text.index(section) + len(section)
    following = re.compile(r"^## ", re.M).search(text, after)
    cut = following.start() if following else len(text)
    return text[:cut].rstrip() + "\n\n" + block + "\n" + ("\n" + text[cut:] if following else "")


_SKELETON = """# Benchmarks

Numbers measured on the development machine below (CPU only, no GPU). Every result is a median and p90 over
repeated runs, measured against a baseline in the same run; compare the ratios, not the absolute times, across
machines. Each section names the command that reproduces it. The machine is shared with other work, so absolute
times carry noise; the load average is recorded with each run.

## Machine

<!-- bench:machine:start -->
<!-- bench:machine:end -->

## Worker
"""


def update_docs(key: str, body: str, path: Path = DOCS) -> None:
    """Rewrite this script's block (and the machine header) in docs/benchmarks.md, leaving other sections alone."""
    text = path.read_text() if path.exists() else _SKELETON
    text = _replace_block(text, "machine", machine_header(), section="## Machine")
    text = _replace_block(text, key, body)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def write_marked(begin: str, end: str, body: str, heading: str | None = None, path: Path = DOCS) -> None:
    """Rewrite only the text between ``begin`` and ``end`` in docs/benchmarks.md (every script's one writer).

    A block not there yet is appended, under ``## heading`` when given; other sections stay as they are.
    """
    text = path.read_text() if path.exists() else _SKELETON
    block = f"{begin}\n{body.strip()}\n{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        title = f"## {heading}\n\n" if heading else ""
        text = text.rstrip("\n") + f"\n\n{title}{block}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def run_stamp(command: str, load_before: str) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"Run: `{command}` on {when}; load average before / after: {load_before} / {load()}."


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's ThreadedMotoServer on a loopback port, in its own process (S3 is remote in production; in this
    process its threads would compete with the code under test for the GIL)."""
    code = (
        "import logging, sys, time; from moto.server import ThreadedMotoServer; "
        "logging.getLogger('werkzeug').setLevel(logging.ERROR); "
        "s = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False); s.start(); "
        "print('%s:%d' % s.get_host_and_port(), flush=True); sys.stdin.read()"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield "http://" + proc.stdout.readline().strip()
    finally:
        proc.kill()
        proc.wait()


@contextmanager
def progress_receiver() -> Iterator[str]:
    """A loopback stand-in for RunPod's job-progress URL, so the worker's production progress sink
    (``runpod.serverless.progress_update``: a thread, an aiohttp session and a POST per report) really runs.

    Sets ``RUNPOD_WEBHOOK_POST_OUTPUT`` (read when runpod is first imported: enter this before that) and answers
    every POST with 200 from its own process."""
    code = (
        "import http.server, sys\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_POST(self):\n"
        "        self.rfile.read(int(self.headers.get('Content-Length', 0)))\n"
        "        self.send_response(200); self.send_header('Content-Length', '0'); self.end_headers()\n"
        "    def log_message(self, *a): pass\n"
        "s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
        "print(s.server_address[1], flush=True); s.serve_forever()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = f"http://127.0.0.1:{proc.stdout.readline().strip()}/job-done?id=$ID"
        os.environ["RUNPOD_WEBHOOK_POST_OUTPUT"] = url
        yield url
    finally:
        proc.kill()
        proc.wait()


def production_logs_to_devnull(level: str, json_lines: bool) -> None:
    """The worker's own log setup (one JSON line per job), written to /dev/null rather than a terminal."""
    import logging

    from handler import logs

    logs.configure(level, json_lines)
    devnull = open(os.devnull, "w")  # noqa: SIM115  lives as long as the process
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)


def s3_client(endpoint: str) -> object:
    import boto3

    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def tiny_checkpoint(models_dir: Path) -> str:
    """The tests' random-weight SD3-family checkpoint, linked into ``models_dir/checkpoints``."""
    if not TINY_CACHE.is_file():
        subprocess.run(
            [sys.executable, str(REPO_ROOT / "benchmarks" / "children.py"), "checkpoint", str(TINY_CACHE)], check=True
        )
    link = models_dir / "checkpoints" / TINY_NAME
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(TINY_CACHE)
    return TINY_NAME
