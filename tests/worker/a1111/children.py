"""Small real programs for the supervisor's tests, and ways to look at processes from outside."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

# A1111 stand-in: takes the real flag list, listens at once, reports its checkpoint loaded after
# STANDIN_LOAD_S seconds (never if negative), like A1111 loading its model in a background thread.
STANDIN = r"""
import argparse, json, os, signal, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
args, _ = parser.parse_known_args()
if os.environ.get("STANDIN_ARGV_FILE"):
    with open(os.environ["STANDIN_ARGV_FILE"], "w") as out:
        json.dump({"argv": sys.argv[1:], "cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}, out)
load_s = float(os.environ.get("STANDIN_LOAD_S", "0.2"))
started = time.monotonic()

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        loaded = load_s >= 0 and time.monotonic() - started >= load_s
        if not loaded:
            print("standin: still loading the checkpoint", flush=True)
        body = json.dumps({"loaded": loaded}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(f"standin: listening on {args.port}", flush=True)
server.serve_forever()
"""

EXIT_3 = r"""
import sys, time
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0.0)
print("Traceback (most recent call last):", flush=True)
print("RuntimeError: CUDA error: an illegal memory access was encountered", flush=True)
sys.exit(3)
"""

SIGKILL_SELF = r"""
import os, signal, sys, time
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0.0)
print("about to be killed", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""

IGNORES_SIGTERM = r"""
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ignoring SIGTERM", flush=True)
while True:
    time.sleep(1)
"""

# Starts a grandchild (which knows nothing of pdeathsig) and writes "<pid> <grandchild pid>" to argv[1].
WITH_GRANDCHILD = r"""
import os, subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
tmp = sys.argv[1] + ".tmp"
with open(tmp, "w") as out:
    out.write(f"{os.getpid()} {grandchild.pid}")
os.replace(tmp, sys.argv[1])
while True:
    time.sleep(1)
"""

# A worker process: supervises WITH_GRANDCHILD from its main thread, then waits to be killed.
# argv: repo root, child script, pid file, "sentinel" or "no-sentinel".
WORKER = r"""
import functools, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from worker.a1111.process import spawn_group
from worker.a1111.supervisor import Supervisor

spawn = functools.partial(spawn_group, sentinel=sys.argv[4] == "sentinel")
cmd = [sys.executable, sys.argv[2], sys.argv[3]]
supervisor = Supervisor(cmd, {}, Path(sys.argv[3] + ".log"), spawn=spawn, startup_deadline_s=30.0)
supervisor.start()
while True:
    time.sleep(1)
"""


def write_script(folder: Path, name: str, source: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(source)
    return path


def python(script: Path, *args: str) -> list[str]:
    return [sys.executable, str(script), *args]


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()  # fields from "state" on; the name may hold spaces


def is_gone(pid: int) -> bool:
    """Dead: no such process, or a zombie nobody reaped yet (this container's PID 1 never reaps)."""
    fields = _stat(pid)
    return fields is None or fields[0] in ("Z", "X")


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is `pgid`."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
                members.append(int(entry))
    return members


def wait_for(condition: object, timeout_s: float = 5.0) -> bool:
    assert callable(condition)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def read_pids(pid_file: Path, timeout_s: float = 10.0) -> tuple[int, int]:
    assert wait_for(pid_file.exists, timeout_s), f"{pid_file} was not written"
    child, grandchild = pid_file.read_text().split()
    return int(child), int(grandchild)
