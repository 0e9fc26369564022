"""Procfile processes started from Python: the embedded DynamoDB server for
one command (`flask init` before the system runs), and the test harness."""
import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlsplit

from honcho.environ import parse_procfile

from .config import ROOT

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def procfile_commands() -> dict[str, str]:
    return dict(parse_procfile((ROOT / "Procfile").read_text()).processes)


def start_process(kind: str, port: int, env: dict | None = None, **popen) -> subprocess.Popen:
    """Run the Procfile's line for `kind` with PORT set, in its own process group."""
    return subprocess.Popen(procfile_commands()[kind], shell=True, cwd=ROOT,
                            env={**os.environ, **(env or {}), "PORT": str(port)},
                            start_new_session=True, **popen)


def signal_group(process: subprocess.Popen, sig: int) -> None:
    """Signal the process's whole group: the shell and what it started."""
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM, wait: float = 10) -> None:
    """Stop the process group, killing it if it lingers past `wait` seconds."""
    signal_group(process, sig)
    try:
        process.wait(wait)
    except subprocess.TimeoutExpired:
        signal_group(process, signal.SIGKILL)
        process.wait()


def listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_listening(host: str, port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not listening(host, port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s")
        time.sleep(0.05)


@contextmanager
def embedded_dynamodb(endpoint: str) -> Iterator[None]:
    """Make a local endpoint answer for the length of the block, starting the
    Procfile's dynamodb process when nothing listens there yet."""
    parts = urlsplit(endpoint)
    if parts.hostname not in LOOPBACK or listening(parts.hostname, parts.port or 80):
        yield
        return
    process = start_process("dynamodb", parts.port, stdout=subprocess.DEVNULL)
    try:
        wait_listening(parts.hostname, parts.port)
        yield
    finally:
        stop_process(process)
