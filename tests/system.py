"""The real system for tests: every Procfile process on free loopback ports,
SQLite and the embedded DynamoDB's files in a temporary folder."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from microblog.config import ROOT
from microblog.embedded import signal_group, start_process, stop_process, wait_listening

# Procfile process -> (gateway pool, instances)
FORMATION = {"auth": ("auth", 1), "api_users": ("users", 3), "api_timeline": ("timeline", 3),
             "app": ("messages", 1)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class System:
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.ports = {kind: [free_port() for _ in range(count)]
                      for kind, (_pool, count) in FORMATION.items()}
        self.ports["gateway"] = [free_port()]
        self.ports["dynamodb"] = [free_port()]
        self.url = f"http://127.0.0.1:{self.ports['gateway'][0]}"
        self.env = {
            "MICROBLOG_DATA": str(data_dir),
            "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{self.ports['dynamodb'][0]}",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "FLASK_APP": "api_users.py",
            # The suite fails many logins on purpose from one address; the
            # brute-force test runs its own auth service with the real limits.
            "MICROBLOG_LOGIN_FAILURES_IN_A_ROW": "100000",
            "MICROBLOG_LOGIN_FAILURES_PER_MINUTE": "100000",
        }
        for kind, (pool, _count) in FORMATION.items():
            self.env[f"UPSTREAMS_{pool.upper()}"] = ",".join(
                f"http://127.0.0.1:{port}" for port in self.ports[kind])
        self.processes: dict[tuple[str, int], subprocess.Popen] = {}

    # Processes

    def start(self, kind: str, index: int = 0, wait: bool = True, **env: str) -> None:
        """Start instance `index` of a Procfile process; env adds settings for it alone."""
        port = self.ports[kind][index]
        with open(self.data_dir / f"{kind}.{index}.log", "ab") as log:
            self.processes[kind, index] = start_process(kind, port, {**self.env, **env},
                                                        stdout=log, stderr=subprocess.STDOUT)
        if wait:
            wait_listening("127.0.0.1", port)

    def stop(self, kind: str, index: int = 0, sig: int = signal.SIGTERM) -> None:
        process = self.processes.pop((kind, index), None)
        if process is not None:
            stop_process(process, sig)

    def kill(self, kind: str, index: int = 0) -> None:
        self.stop(kind, index, signal.SIGKILL)

    def start_all(self) -> None:
        self.start("dynamodb")
        subprocess.run([sys.executable, "-m", "flask", "init"], cwd=ROOT, check=True,
                       env={**os.environ, **self.env}, capture_output=True)
        services = [(kind, i) for kind, (_pool, n) in FORMATION.items() for i in range(n)]
        for kind, index in services + [("gateway", 0)]:
            self.start(kind, index, wait=False)
        for kind, index in services + [("gateway", 0)]:
            wait_listening("127.0.0.1", self.ports[kind][index])
        self.wait_healthy()

    def stop_all(self) -> None:
        """Signal every process at once, then reap them (killing any that linger)."""
        processes = list(self.processes.values())
        self.processes.clear()
        for process in processes:
            signal_group(process, signal.SIGTERM)
        for process in processes:
            stop_process(process)

    def wait_healthy(self, timeout: float = 20) -> dict:
        """Wait until the gateway sees every instance up; its /health answer."""
        deadline = time.monotonic() + timeout
        while True:
            health = requests.get(self.url + "/health", timeout=5).json()
            if all(i["up"] for pool in health["pools"].values() for i in pool):
                return health
            if time.monotonic() > deadline:
                raise TimeoutError(f"not every instance came up: {health}")
            time.sleep(0.1)

    def instance_log(self, kind: str, index: int = 0) -> str:
        return (self.data_dir / f"{kind}.{index}.log").read_text(errors="replace")
