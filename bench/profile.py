"""Where the gateway's CPU goes: py-spy samples its gunicorn workers while wrk
drives one call through it, and this sums the samples by layer and by function.

Run it as `bench/run --profile [--path /homeTimeline] [--seconds 10]`.
Only samples holding the GIL count (py-spy --gil), so waiting is left out and
the shares are shares of the gateway's Python CPU. Each sample goes to the
innermost layer on its stack (the upstream client, the proxy, Flask and
werkzeug, the access log, gunicorn), so the layers add up to 100%.
"""
import argparse
import collections
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bench import HZ, children_map, cpu_ticks, process_tree  # noqa: E402  (puts the root on sys.path)

import requests  # noqa: E402

from microblog.embedded import signal_group  # noqa: E402
from tests.system import System  # noqa: E402

# (layer, pattern of a frame's file): the first that matches, innermost frame first.
LAYERS = [
    ("upstream client (microblog/upstream.py)", re.compile(r"(^|/)microblog/upstream\.py")),
    ("proxy (microblog/proxy.py, gateway.py)",
     re.compile(r"(^|/)(microblog/proxy|gateway|microblog/authcache)\.py")),
    ("access log", re.compile(r"(^|/)(microblog/serving\.py|gunicorn/glogging\.py|logging/)")),
    ("Flask and werkzeug", re.compile(r"(^|/)(flask|werkzeug)/")),
    ("gunicorn and gevent (parsing, writing, scheduling)",
     re.compile(r"(^|/)(gunicorn/|gevent/|concurrent/futures/|threading\.py|selectors\.py)")),
]
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^:()]+)(?::\d+)?\)$")


def frames(stack: str) -> list[tuple[str, str]]:
    """(function, file) per frame, outermost first."""
    found = []
    for frame in stack.split(";"):
        match = FRAME.match(frame)
        found.append((match["function"], match["file"]) if match else (frame, ""))
    return found


def layer_of(stack: list[tuple[str, str]]) -> str:
    for function, file in reversed(stack):
        for layer, pattern in LAYERS:
            if pattern.search(file):
                return layer
    return "other (the interpreter, C calls outside these)"


def summarise(raw: Path, top: int, cpu_ms_per_request: float | None = None) -> str:
    layers, inclusive, total = collections.Counter(), collections.Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n, parsed = int(count), frames(stack)
        total += n
        layers[layer_of(parsed)] += n
        for key in {f"{function} ({Path(file).name})" for function, file in parsed}:
            inclusive[key] += n
    lines = [f"{total} samples holding the GIL", "", "by layer (innermost on the stack):"]
    for layer, n in layers.most_common():
        ms = f"  {cpu_ms_per_request * n / total:.3f} ms/request" if cpu_ms_per_request else ""
        lines.append(f"  {100 * n / total:5.1f}%{ms}  {layer}")
    lines += ["", f"top {top} functions, inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {key}" for key, n in inclusive.most_common(top)
              if not key.startswith(("Thread.", "_bootstrap", "_worker (", "process "))]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="py-spy profile of the gateway under wrk load.")
    parser.add_argument("--path", default="/homeTimeline", help="the GET call to drive (as mj, Bearer)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--output", default=str(BENCH / "results" / "profile.txt"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="microblog-profile-"))
    system = System(work)
    wrk = None
    try:
        system.start_all()
        token = requests.post(system.url + "/login", auth=("mj", "bulls"), timeout=10).json()["token"]
        wrapper = system.processes["gateway", 0].pid
        master = int(subprocess.run(["pgrep", "-P", str(wrapper)], capture_output=True,
                                    text=True, check=True).stdout.split()[0])
        gateway = process_tree(master, children_map())
        ticks_before = sum(map(cpu_ticks, gateway))
        wrk = subprocess.Popen(["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds + 3}s",
                                "-H", f"Authorization: Bearer {token}", system.url + args.path],
                               stdout=subprocess.PIPE, text=True, start_new_session=True)
        time.sleep(1)  # past the first connections
        raw = work / "gateway.raw"
        subprocess.run([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(master), "--subprocesses",
                        "--gil", "--nonblocking", "--rate", str(args.rate), "--duration", str(args.seconds),
                        "--format", "raw", "--output", str(raw)], check=True, capture_output=True)
        out, _ = wrk.communicate(timeout=30)
        cpu_ms = (sum(map(cpu_ticks, gateway)) - ticks_before) * 1000 / HZ
        done = int(re.search(r"(\d+) requests in", out)[1])
        rps = re.search(r"Requests/sec:\s+([\d.]+)", out)[1]
        report = (f"GET {args.path} at {args.connections} connections for {args.seconds} s "
                  f"({rps} requests/s), py-spy --gil at {args.rate} Hz; gateway CPU "
                  f"{cpu_ms / done:.3f} ms per request (all its processes, the whole wrk run)\n\n"
                  + summarise(raw, args.top, cpu_ms / done))
        Path(args.output).write_text(report + "\n")
        print(report)
        print(f"\nwrote {args.output}")
    finally:
        if wrk and wrk.poll() is None:
            signal_group(wrk, 9)
        system.stop_all()


if __name__ == "__main__":
    main()
