"""The benchmark of issue 4: our gateway side by side with nginx, on scale data.

Run it as `bench/run [--quick]` (which installs wrk and nginx and the venv
first); BENCHMARKS.md explains the configurations and the figures.

Outline: seed a temporary data folder (`flask init`, then `flask seed`),
start the system with the seed formation through tests/system.py's System,
start two nginx instances over the same service instances (plain auth_request,
and auth_request with a 5 s cache), log the bench users in, and drive every
(scenario, connections) cell with wrk against each configuration in turn
(ours, nginx, nginx-cached, direct), `rounds` times, taking the median.
Everything started here is stopped on the way out, also on errors and Ctrl-C.
"""
import argparse
import base64
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from microblog.embedded import signal_group, stop_process, wait_listening  # noqa: E402
from tests.system import FORMATION, System, free_port  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")
CONFIGS = ("ours", "nginx", "nginx_cached", "direct")
CONFIG_TITLES = {"ours": "ours", "nginx": "nginx", "nginx_cached": "nginx-cached", "direct": "direct"}
POOL_KIND = {pool: kind for kind, (pool, _count) in FORMATION.items()}  # pool -> Procfile process
PASSWORD = "benchpass"


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    lua: str          # the scenario's name in bench/wrk.lua
    pool: str         # the pool that answers it (the direct configuration calls its first instance)
    credentials: str  # "bearer" or "basic"
    method: str
    path: str         # for the one-request sanity check; <u> and <self> as in wrk.lua

    @property
    def direct_twin(self) -> str:
        """The scenario whose direct figures stand for this one: a direct call
        carries no credentials, so Basic and Bearer are the same request there."""
        return self.name.removesuffix("_basic")


SCENARIOS = [
    Scenario("publicTimeline", "GET /publicTimeline", "public_timeline", "timeline", "bearer", "GET", "/publicTimeline"),
    Scenario("homeTimeline", "GET /homeTimeline", "home_timeline", "timeline", "bearer", "GET", "/homeTimeline"),
    Scenario("userTimeline", "GET /userTimeline/<u>", "user_timeline", "timeline", "bearer", "GET", "/userTimeline/<u>"),
    Scenario("listmsg", "GET /listmsg/<self>", "listmsg", "messages", "bearer", "GET", "/listmsg/<self>"),
    Scenario("postTweet", "POST /postTweet", "post_tweet", "timeline", "bearer", "POST", "/postTweet"),
    Scenario("sendmsg", "POST /sendmsg", "sendmsg", "messages", "bearer", "POST", "/sendmsg"),
    Scenario("login", "POST /login", "login", "auth", "bearer", "POST", "/login"),
    Scenario("publicTimeline_basic", "GET /publicTimeline (Basic)", "public_timeline", "timeline", "basic", "GET", "/publicTimeline"),
    Scenario("homeTimeline_basic", "GET /homeTimeline (Basic)", "home_timeline", "timeline", "basic", "GET", "/homeTimeline"),
    Scenario("userTimeline_basic", "GET /userTimeline/<u> (Basic)", "user_timeline", "timeline", "basic", "GET", "/userTimeline/<u>"),
]
BY_NAME = {s.name: s for s in SCENARIOS}

MODES = {
    "full": dict(users=10_000, tweets=1_000_000, messages=200_000, duration=5, warmup=1, rounds=2,
                 concurrency=[1, 16, 64], scenarios=[s.name for s in SCENARIOS], soak=60,
                 quiet_budget=60, logins=100),
    "quick": dict(users=2_000, tweets=100_000, messages=20_000, duration=2, warmup=1, rounds=2,
                  concurrency=[16, 64], scenarios=["homeTimeline", "userTimeline_basic", "postTweet"],
                  soak=5, quiet_budget=8, logins=25),
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# /proc: CPU time and memory of process trees


def children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry))
    return kids


def process_tree(pid: int, kids: dict[int, list[int]]) -> list[int]:
    tree = [pid]
    for p in tree:
        tree.extend(kids.get(p, []))
    return tree


def cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def busy_ticks() -> int:
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    # Not irq/softirq: loopback traffic is handled there, in no process's account.
    user, nice, system = values[:3]
    return user + nice + system


# The harness


class Bench:
    def __init__(self, args):
        self.args = args
        self.system: System | None = None
        self.nginx: dict[str, subprocess.Popen] = {}
        self.nginx_ports: dict[str, int] = {}
        self.wrk: subprocess.Popen | None = None
        self.children: list[subprocess.Popen] = []
        self.work = Path(tempfile.mkdtemp(prefix="microblog-bench-"))
        self.data_dir = Path(args.data_dir).resolve() if args.data_dir else self.work / "data"
        self.tokens: dict[str, str] = {}
        self.secret = ""
        self.identity_mode = ""
        self.notes: list[str] = []
        self.quiet_budget = float(args.quiet_budget)
        self.waited_total = 0.0
        self.primes: list[float] = []

    # Setup

    def seed(self) -> dict:
        """flask init, then flask seed, unless this data folder was seeded alike before."""
        a = self.args
        wanted = {"users": a.users, "tweets": a.tweets, "messages": a.messages}
        marker = self.data_dir / "bench-seed.json"
        if marker.exists() and json.loads(marker.read_text()).get("seed") == wanted:
            log(f"data in {self.data_dir} was seeded with {wanted} already; reusing it")
            return json.loads(marker.read_text())
        if marker.exists() or (self.data_dir / "microblog.sqlite").exists():
            raise SystemExit(f"{self.data_dir} holds other data; give an empty or new --data-dir")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.system.env}
        self.system.start("dynamodb")
        started = time.monotonic()
        self.run_child([sys.executable, "-m", "flask", "init"], env)
        log(f"flask seed --users {a.users} --tweets {a.tweets} --messages {a.messages}")
        self.run_child([sys.executable, "-m", "flask", "seed", "--users", str(a.users),
                        "--tweets", str(a.tweets), "--messages", str(a.messages)], env)
        seconds = round(time.monotonic() - started, 1)
        self.system.stop("dynamodb")
        record = {"seed": wanted, "seconds": seconds}
        marker.write_text(json.dumps(record))
        log(f"seeded in {seconds} s")
        return record

    def run_child(self, command: list[str], env: dict) -> None:
        process = subprocess.Popen(command, cwd=ROOT, env=env)
        self.children.append(process)
        try:
            if process.wait() != 0:
                raise SystemExit(f"{' '.join(command)} failed with {process.returncode}")
        finally:
            self.children.remove(process)

    def counts(self) -> dict:
        db = sqlite3.connect(self.data_dir / "microblog.sqlite")
        try:
            return {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                    for table in ("users", "follows", "tweets")}
        finally:
            db.close()

    def start_system(self) -> None:
        before = self.counts()
        log(f"starting the system (seed formation) on {self.data_dir}")
        self.system.start_all()  # runs `flask init` again: idempotent, must change nothing
        after = self.counts()
        if after != before:
            raise SystemExit(f"System.start_all's flask init changed the seeded data: {before} -> {after}")
        log(f"system up; start_all's init left the data alone: {after}")
        self.secret = (self.data_dir / "gateway.secret").read_text().strip()

    def log_in(self) -> None:
        def one(i: int) -> tuple[str, str]:
            name = f"bench_{i}"
            answer = requests.post(self.system.url + "/login", auth=(name, PASSWORD), timeout=60)
            answer.raise_for_status()
            return name, answer.json()["token"]

        with ThreadPoolExecutor(4) as pool:
            self.tokens = dict(pool.map(one, range(self.args.logins)))
        log(f"logged in {len(self.tokens)} users through our gateway")

    def detect_identity(self) -> None:
        """Does /verify name the user in a header nginx can read (X-Microblog-User)?"""
        auth = f"http://127.0.0.1:{self.system.ports['auth'][0]}/verify"
        answer = requests.get(auth, timeout=10, headers={
            "Authorization": f"Bearer {self.tokens['bench_0']}", "X-Microblog-Secret": self.secret})
        if answer.status_code != 200:
            raise SystemExit(f"auth /verify refused a fresh token: {answer.status_code} {answer.text}")
        if answer.headers.get("X-Microblog-User") == "bench_0":
            self.identity_mode = "header"
            log("auth /verify names the user in X-Microblog-User: nginx passes that on")
        else:
            self.identity_mode = "fallback-map"
            note = ("auth /verify does not send X-Microblog-User, so nginx cannot learn the user from "
                    "it (the JSON body is not readable without a scripting module); nginx takes the "
                    "name from a map of the bench's own Bearer tokens and from $remote_user for Basic. "
                    "Fix: auth.py's /verify should also send X-Microblog-User on its 200.")
            self.notes.append(note)
            log("WARNING: " + note)

    # nginx

    def render_nginx(self, variant: str) -> Path:
        import gateway  # its ROUTES are the routing table nginx mirrors

        prefix = self.work / variant
        prefix.mkdir(parents=True, exist_ok=True)
        port = self.nginx_ports[variant] = free_port()
        upstreams = []
        for kind, (pool, _count) in FORMATION.items():
            servers = "".join(f"        server 127.0.0.1:{p};\n" for p in self.system.ports[kind])
            upstreams.append(f"    upstream microblog_{pool} {{\n{servers}        keepalive 64;\n    }}\n")
        if self.identity_mode == "header":
            fallback = '        default "";'
            identity_note = "auth.py sends it, so nothing else is needed."
        else:
            lines = ['        default $remote_user;']
            lines += [f'        "Bearer {token}" {name};' for name, token in self.tokens.items()]
            fallback = "\n".join(lines)
            identity_note = ("auth.py does NOT send it: a stand-in maps the bench's Bearer tokens "
                             "and Basic user names ($remote_user) to users.")
        cached = variant == "nginx_cached"
        text = (BENCH / "nginx.conf.template").read_text()
        replacements = {
            "@PREFIX@": str(prefix),
            "@PORT@": str(port),
            "@SECRET@": self.secret,
            "@VARIANT@": ("Variant nginx_cached: successful auth answers are cached for 5 s, "
                          "keyed on the Authorization header." if cached else
                          "Variant nginx: every protected request asks the auth service."),
            "@UPSTREAMS@": "\n".join(upstreams),
            "@IDENTITY_NOTE@": identity_note,
            "@IDENTITY_FALLBACK@": fallback,
            "@CACHE_PATH@": (f"    proxy_cache_path {prefix}/auth_cache levels=1:2 keys_zone=auth_cache:10m"
                             " max_size=64m inactive=60s use_temp_path=off;" if cached else ""),
            "@AUTH_CACHE@": ("            proxy_cache auth_cache;\n"
                             "            proxy_cache_key $http_authorization;\n"
                             "            proxy_cache_valid 200 5s;\n"
                             "            proxy_cache_methods GET HEAD POST;\n"
                             "            proxy_ignore_headers Cache-Control Expires Set-Cookie Vary X-Accel-Expires;"
                             if cached else ""),
            "@LOCATIONS@": nginx_locations(gateway.ROUTES, self.secret),
        }
        for key, value in replacements.items():
            text = text.replace(key, value)
        conf = prefix / "nginx.conf"
        conf.write_text(text)
        conf.chmod(0o600)  # it holds the shared secret; --keep keeps it, to read
        return conf

    def start_nginx(self, variant: str) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        conf = self.render_nginx(variant)
        prefix = conf.parent
        base = [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
        check = subprocess.run(base + ["-t", "-q"], capture_output=True, text=True)
        if check.returncode != 0:
            raise SystemExit(f"nginx -t failed for {conf}:\n{check.stderr}")
        with open(prefix / "stdout.log", "ab") as out:
            self.nginx[variant] = subprocess.Popen(base, stdout=out, stderr=subprocess.STDOUT,
                                                   start_new_session=True)
        wait_listening("127.0.0.1", self.nginx_ports[variant])
        log(f"{variant} listening on 127.0.0.1:{self.nginx_ports[variant]} ({conf})")

    # Load generation

    def base_url(self, config: str, scenario: Scenario) -> str:
        if config == "ours":
            return self.system.url
        if config in self.nginx_ports:
            return f"http://127.0.0.1:{self.nginx_ports[config]}"
        return f"http://127.0.0.1:{self.system.ports[POOL_KIND[scenario.pool]][0]}"

    def credential_headers(self, config: str, scenario: Scenario, name: str) -> dict:
        if config == "direct":
            if scenario.pool == "auth":  # the auth service learns the user from the credentials
                return {"Authorization": f"Bearer {self.tokens[name]}", "X-Microblog-Secret": self.secret}
            return {"X-Microblog-User": name, "X-Microblog-Secret": self.secret}
        if scenario.credentials == "basic":
            basic = base64.b64encode(f"{name}:{PASSWORD}".encode()).decode()
            return {"Authorization": f"Basic {basic}"}
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def credentials_file(self, config: str, scenario: Scenario) -> Path:
        kind = "direct-auth" if config == "direct" and scenario.pool == "auth" else (
            "direct" if config == "direct" else scenario.credentials)
        path = self.work / f"credentials-{kind}.tsv"
        if not path.exists():
            lines = []
            for name in self.tokens:
                headers = self.credential_headers(config, scenario, name)
                lines.append("\t".join([name] + [f"{k}: {v}" for k, v in headers.items()]))
            path.write_text("\n".join(lines) + "\n")
            path.chmod(0o600)
        return path

    def sanity_check(self, scenarios: list[Scenario]) -> dict:
        """One request per scenario and configuration, as wrk.lua sends it."""
        names = list(self.tokens)
        seen = {}
        for scenario in scenarios:
            for config in CONFIGS:
                me, other = names[0], names[17 % len(names)]
                path = scenario.path.replace("<u>", other).replace("<self>", me)
                headers = self.credential_headers(config, scenario, me)
                body = None
                if scenario.lua == "post_tweet":
                    body = {"tweet": "bench sanity check"}
                elif scenario.lua == "sendmsg":
                    body = {"to": other, "msg": "bench sanity check"}
                answer = requests.request(scenario.method, self.base_url(config, scenario) + path,
                                          headers=headers, json=body, timeout=30)
                seen[f"{scenario.name}/{config}"] = answer.status_code
                if not 200 <= answer.status_code < 400:
                    log(f"SANITY: {scenario.name} via {config} answered {answer.status_code}: "
                        f"{answer.text[:200]}")
        bad = {k: v for k, v in seen.items() if not 200 <= v < 400}
        log("sanity check: every configuration answers every scenario" if not bad
            else f"sanity check failures: {bad}")
        return seen

    def groups(self) -> dict[str, list[int]]:
        """Root pids of everything measured, by role."""
        roots: dict[str, list[int]] = {}
        for (kind, _index), process in self.system.processes.items():
            roots.setdefault(kind, []).append(process.pid)
        for variant, process in self.nginx.items():
            roots[variant] = [process.pid]
        return roots

    def cpu_snapshot(self) -> dict[str, int]:
        kids = children_map()
        return {group: sum(cpu_ticks(p) for root in roots for p in process_tree(root, kids))
                for group, roots in self.groups().items()}

    def wait_quiet(self) -> float:
        """Wait (within the run's budget) while other processes keep the CPU busy;
        the seconds waited. Nothing of ours is busy between runs."""
        waited, limit = 0.0, min(self.args.quiet_wait, self.quiet_budget)
        while True:
            before, t0 = busy_ticks(), time.monotonic()
            time.sleep(0.2)
            cores = (busy_ticks() - before) / HZ / (time.monotonic() - t0)
            if cores < 0.5 or waited >= limit:
                self.quiet_budget -= waited
                self.waited_total += waited
                return waited
            time.sleep(0.7)
            waited += 1.0

    def wrk_run(self, config: str, scenario: Scenario, connections: int, seconds: int,
                tag: str) -> dict:
        command = ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds}s",
                   "--timeout", "10s", "-s", str(BENCH / "wrk.lua"), self.base_url(config, scenario),
                   "--", scenario.lua, str(self.credentials_file(config, scenario)), tag]
        cpu_before, busy_before = self.cpu_snapshot(), busy_ticks()
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        self.wrk = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, start_new_session=True)
        try:
            out, err = self.wrk.communicate(timeout=seconds + 60)
        finally:
            if self.wrk.poll() is None:
                signal_group(self.wrk, signal.SIGKILL)
                self.wrk.wait()
            self.wrk = None
        elapsed = time.monotonic() - started
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_after, busy_after = self.cpu_snapshot(), busy_ticks()
        found = [line for line in out.splitlines() if line.startswith("BENCH_JSON ")]
        if not found:
            raise RuntimeError(f"wrk printed no result ({' '.join(command)}):\n{out}\n{err}")
        raw = json.loads(found[-1].removeprefix("BENCH_JSON "))
        errors = sum(raw[k] for k in raw if k.startswith("errors_"))
        requests_done = max(raw["requests"], 1)
        cpu = {g: (cpu_after.get(g, 0) - cpu_before.get(g, 0)) * 1000 / HZ for g in cpu_after}
        wrk_cpu = ((children_after.ru_utime + children_after.ru_stime)
                   - (children_before.ru_utime + children_before.ru_stime)) * 1000
        ours_cpu = sum(cpu.values()) + wrk_cpu
        busy = (busy_after - busy_before) * 1000 / HZ
        gateway_cpu = {"ours": cpu.get("gateway", 0), "nginx": cpu.get("nginx", 0),
                       "nginx_cached": cpu.get("nginx_cached", 0), "direct": 0.0}[config]
        return {
            "rps": raw["requests"] / (raw["duration_us"] / 1e6),
            "requests": raw["requests"],
            "bytes_per_req": raw["bytes"] / requests_done,  # status line, headers and body
            "p50_ms": raw["p50_us"] / 1000, "p90_ms": raw["p90_us"] / 1000,
            "p99_ms": raw["p99_us"] / 1000, "max_ms": raw["max_us"] / 1000,
            "errors": errors,
            "error_kinds": {k.removeprefix("errors_"): raw[k] for k in raw
                            if k.startswith("errors_") and raw[k]},
            "gateway_cpu_ms_per_req": gateway_cpu / requests_done,
            "cpu_ms_per_req": {g: round(v / requests_done, 4) for g, v in cpu.items() if v},
            "wrk_cpu_ms_per_req": wrk_cpu / requests_done,
            # CPU used meanwhile by processes this benchmark did not start (other
            # people's tests, ...), in cores: it should be near 0 for clean figures.
            "foreign_cores": max(0.0, busy - ours_cpu) / 1000 / elapsed,
        }

    def matrix(self, scenarios: list[Scenario]) -> list[dict]:
        a = self.args
        cells = [(s, c) for s in scenarios for c in a.concurrency]
        configs_of = {s.name: [c for c in CONFIGS
                               if not (c == "direct" and s.direct_twin != s.name and BY_NAME.get(
                                   s.direct_twin) in scenarios)]
                      for s in scenarios}
        total = sum(len(configs_of[s.name]) for s, _c in cells) * a.rounds
        warmups = len(scenarios) * len(CONFIGS) * a.warmup
        log(f"{total} wrk runs of {a.duration} s (+{a.warmup} s warm-up for each scenario and "
            f"configuration): about {(total * (a.duration + 0.5) + warmups) / 60:.1f} minutes")
        done, records, started = 0, [], time.monotonic()
        warm: set[tuple[str, str]] = set()
        for scenario, connections in cells:
            runs: dict[str, list[dict]] = {c: [] for c in configs_of[scenario.name]}
            if scenario.credentials == "basic":
                self.prime_basic()
            for round_number in range(1, a.rounds + 1):
                for config in configs_of[scenario.name]:  # alternated: ours, nginx, cached, direct, again
                    tag = f"{config[:2]}{connections}r{round_number}x{int(time.time())}"
                    self.wait_quiet()
                    if a.warmup and (scenario.name, config) not in warm:
                        self.wrk_run(config, scenario, connections, a.warmup, tag + "w")
                        warm.add((scenario.name, config))
                    run = self.wrk_run(config, scenario, connections, a.duration, tag)
                    runs[config].append(run)
                    done += 1
                    left = (time.monotonic() - started) / done * (total - done)
                    log(f"[{done}/{total}] {scenario.name} c={connections} {config} r{round_number}: "
                        f"{run['rps']:.0f} rps p50 {run['p50_ms']:.1f} p99 {run['p99_ms']:.1f} ms "
                        f"err {run['errors']} gw {run['gateway_cpu_ms_per_req']:.2f} ms cpu/req "
                        f"foreign {run['foreign_cores']:.2f} cores (~{left / 60:.1f} min left)")
            records.append(self.record(scenario, connections, runs, records))
            self.save_partial(records)
        return records

    def prime_basic(self) -> None:
        """Let the password memory warm up before a Basic cell: each user's
        credentials once per users instance, straight to the auth service's
        /verify (our gateway would answer repeats from its own cache, and
        auth spreads its checks round-robin over the users instances, each of
        which remembers a good password for a while). A cold start of all users
        at once is an artefact of starting a benchmark, not the steady state;
        expiry during a cell is left as it is."""
        scenario = BY_NAME["publicTimeline_basic"]
        names = list(self.tokens) * len(self.system.ports["api_users"])
        verify = f"http://127.0.0.1:{self.system.ports['auth'][0]}/verify"

        def one(name):
            headers = {**self.credential_headers("ours", scenario, name),
                       "X-Microblog-Secret": self.secret}
            return requests.get(verify, headers=headers, timeout=60).status_code

        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(one, names))
        seconds = time.monotonic() - started
        self.primes.append(round(seconds, 2))
        log(f"primed Basic credentials: {len(names)} requests in {seconds:.1f} s"
            + ("" if all(s == 200 for s in statuses) else f" (statuses {sorted(set(statuses))})"))

    @staticmethod
    def combine(runs: list[dict]) -> dict:
        answered = [r for r in runs if r["requests"]] or runs
        med = lambda key: statistics.median(r[key] for r in answered)  # noqa: E731
        return {
            "rps": round(statistics.median(r["rps"] for r in runs), 1), "p50_ms": round(med("p50_ms"), 3),
            "p99_ms": round(med("p99_ms"), 3), "errors": sum(r["errors"] for r in runs),
            "requests": sum(r["requests"] for r in runs),
            "gateway_cpu_ms_per_req": round(med("gateway_cpu_ms_per_req"), 4),
            "foreign_cores": round(max(r["foreign_cores"] for r in runs), 3),
            "rounds": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                       for r in runs],
        }

    def record(self, scenario: Scenario, connections: int, runs: dict, earlier: list[dict]) -> dict:
        record = {"scenario": scenario.name, "label": scenario.label,
                  "credentials": scenario.credentials, "concurrency": connections}
        for config, its_runs in runs.items():
            record[config] = self.combine(its_runs)
        if "direct" not in runs:
            twin = next(r for r in earlier if r["scenario"] == scenario.direct_twin
                        and r["concurrency"] == connections)
            record["direct"] = {**twin["direct"], "same_as": scenario.direct_twin}
        ours = record["ours"]["rps"]
        record["ratio_vs_nginx"] = round(ours / record["nginx"]["rps"], 3) if record["nginx"]["rps"] else None
        record["ratio_vs_nginx_cached"] = (round(ours / record["nginx_cached"]["rps"], 3)
                                           if record["nginx_cached"]["rps"] else None)
        record["added_p50_ms_vs_direct"] = round(record["ours"]["p50_ms"] - record["direct"]["p50_ms"], 3)
        return record

    def save_partial(self, records: list[dict]) -> None:
        path = BENCH / "results" / f"{self.args.mode}.partial.tmp"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(records, indent=1))

    # Memory

    def memory(self) -> dict:
        kids = children_map()
        processes = []
        for group, roots in self.groups().items():
            for root in roots:
                wrapped = "scripts/keep-running" in cmdline(root)  # then its child is the master
                masters = kids.get(root, []) if wrapped else [root]
                for pid in process_tree(root, kids):
                    role = ("keep-running" if wrapped and pid == root else
                            "master" if pid in masters else "worker")
                    processes.append({"process": group, "pid": pid, "role": role,
                                      "rss_mb": round(rss_mb(pid) or 0, 1),
                                      "command": cmdline(pid)[:120]})
        return {"processes": processes}

    def soak(self, seconds: int) -> dict:
        """Our gateway under steady load for `seconds`: its RSS at the start and the end."""
        scenario = BY_NAME["homeTimeline"]
        gateway_root = self.system.processes["gateway", 0].pid
        samples: list[tuple[float, float]] = []
        stop = threading.Event()

        def sample():
            start = time.monotonic()
            while not stop.is_set():
                pids = process_tree(gateway_root, children_map())
                total = sum(rss_mb(p) or 0 for p in pids)
                samples.append((round(time.monotonic() - start, 1), round(total, 2)))
                stop.wait(1.0)

        log(f"soak: {scenario.label} at 16 connections through our gateway for {seconds} s")
        self.wait_quiet()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            run = self.wrk_run("ours", scenario, 16, seconds, f"soak{int(time.time())}")
        finally:
            stop.set()
            sampler.join()
        under_load = [s for s in samples if 1.0 <= s[0] <= seconds] or samples
        result = {"seconds": seconds, "scenario": scenario.name, "connections": 16,
                  "rps": round(run["rps"], 1), "errors": run["errors"],
                  "gateway_rss_mb_start": under_load[0][1], "gateway_rss_mb_end": under_load[-1][1],
                  "gateway_rss_mb_max": max(s[1] for s in under_load),
                  "gateway_rss_growth_mb": round(under_load[-1][1] - under_load[0][1], 2),
                  "samples": samples}
        log(f"soak: gateway RSS (master + worker) {result['gateway_rss_mb_start']} MB at the start, "
            f"{result['gateway_rss_mb_end']} MB at the end; {result['rps']} rps, {run['errors']} errors")
        return result

    # Stopping

    def cleanup(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # let nothing interrupt the stopping
        if self.wrk is not None and self.wrk.poll() is None:
            stop_process(self.wrk, wait=3)
        for process in list(self.children):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)  # flask seed stops its own helpers on SIGINT
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for variant, process in self.nginx.items():
            stop_process(process, wait=5)
        self.nginx.clear()
        if self.system is not None:
            self.system.stop_all()
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            log(f"kept {self.work} (logs, nginx configs, data)")


def nginx_locations(routes, secret: str) -> str:
    """gateway.ROUTES as nginx locations: same paths, methods and pools."""
    blocks = []
    for rule, methods, pool, public in routes:
        if "<" in rule:
            parts = re.split(r"(<[^>]+>)", rule)
            regex = "".join(("[0-9]+" if p.startswith("<int:") else "[^/]+") if p.startswith("<")
                            else re.escape(p) for p in parts if p)
            head = f"location ~ ^{regex}$ {{"
        else:
            head = f"location = {rule} {{"
        allowed = set(methods) | ({"HEAD"} if "GET" in methods else set()) | {"OPTIONS"}
        lines = [head,
                 f"    if ($request_method !~ ^({'|'.join(sorted(allowed))})$) {{ return 405; }}"]
        if not public:
            lines += ["    auth_request /_verify;",
                      "    auth_request_set $auth_user $upstream_http_x_microblog_user;"]
        lines += [f"    proxy_pass http://microblog_{pool};",
                  "    proxy_set_header Host $http_host;",
                  '    proxy_set_header Connection "";',
                  '    proxy_set_header Proxy-Authorization "";',
                  '    proxy_set_header Trailer "";',
                  "    proxy_set_header X-Request-ID $request_id_out;",
                  "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
                  f'    proxy_set_header X-Microblog-Secret "{secret}";']
        if pool != "auth":
            lines.append('    proxy_set_header Authorization "";')
        lines.append("    proxy_set_header X-Microblog-User "
                     + ('"";' if public else "$microblog_user;"))
        lines.append("}")
        blocks.append("\n".join("        " + line for line in lines))
    return "\n\n".join(blocks)


# Reporting


def machine() -> dict:
    info = {"cores": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = re.search(r"Model name:\s*(.+)", lscpu)
        info["cpu"] = model.group(1).strip() if model else ""
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        info["memory_gb"] = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    for tool, command in (("nginx", ["nginx", "-v"]), ("wrk", ["wrk", "-v"])):
        try:
            out = subprocess.run(command, capture_output=True, text=True)
            info[tool] = (out.stdout + out.stderr).splitlines()[0].strip()
        except (OSError, IndexError):
            info[tool] = "?"
    try:
        import gunicorn
        info["gunicorn"] = gunicorn.__version__
    except ImportError:
        pass
    info["gunicorn_conf"] = {k: v for k, v in re.findall(r"^(\w+) = (.+)$",
                                                         (ROOT / "gunicorn.conf.py").read_text(), re.M)}
    return info


def git_state() -> dict:
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.rstrip("\n")
    changed = [line for line in git("status", "--porcelain").splitlines()
               if not line[3:].startswith("bench/") and line[3:] != "BENCHMARKS.md"]
    digests = {}
    for line in changed:  # what exactly ran, when the work tree differs from the commit
        path = ROOT / line[3:]
        if path.is_file():
            digests[line[3:]] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return {"commit": git("rev-parse", "HEAD"), "subject": git("log", "-1", "--format=%s"),
            "changed": changed, "changed_sha256": digests}


def targets(records: list[dict], memory: dict, soak: dict | None) -> dict:
    checks = []

    def check(name: str, value, ok: bool) -> None:
        checks.append({"target": name, "value": value, "met": ok})

    for r in records:
        where = f"{r['scenario']} c={r['concurrency']}"
        if r["concurrency"] >= 16:
            check(f"{where}: ours/nginx >= 0.8", r["ratio_vs_nginx"], (r["ratio_vs_nginx"] or 0) >= 0.8)
            check(f"{where}: ours/nginx-cached >= 0.6", r["ratio_vs_nginx_cached"],
                  (r["ratio_vs_nginx_cached"] or 0) >= 0.6)
            check(f"{where}: zero errors through ours", r["ours"]["errors"], r["ours"]["errors"] == 0)
        if r["concurrency"] == 1:
            check(f"{where}: p50 added over direct <= 2 ms", r["added_p50_ms_vs_direct"],
                  r["added_p50_ms_vs_direct"] <= 2)
    by_key = {(r["scenario"], r["concurrency"]): r for r in records}
    for r in records:
        if r["credentials"] == "basic":
            bearer = by_key.get((r["scenario"].removesuffix("_basic"), r["concurrency"]))
            if bearer:
                ratio = round(r["ours"]["rps"] / bearer["ours"]["rps"], 3)
                check(f"{r['scenario']} c={r['concurrency']}: Basic/Bearer throughput >= 0.8", ratio,
                      ratio >= 0.8)
    for p in memory["processes"]:
        if p["process"] not in ("nginx", "nginx_cached", "dynamodb"):  # dynalite stands in for AWS
            check(f"RSS of {p['process']} {p['role']} pid {p['pid']} < 100 MB", p["rss_mb"],
                  p["rss_mb"] < 100)
    if soak:
        growth = soak["gateway_rss_growth_mb"]
        check(f"gateway RSS growth over a {soak['seconds']} s run (MB; met if < 2 MB)", growth, growth < 2)
    return {"met": sum(c["met"] for c in checks), "missed": sum(not c["met"] for c in checks),
            "checks": checks}


def md_escape(text: str) -> str:
    return text.replace("<", "&lt;").replace(">", "&gt;")  # <u> is an HTML tag to Markdown


def fmt(x, digits=1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def table(records: list[dict], markdown: bool = False) -> str:
    head = ["scenario", "c"]
    for c in CONFIGS:
        t = CONFIG_TITLES[c]
        head += [f"{t} rps", "p50", "p99", "err"]
    head += ["vs nginx", "vs cached"]
    rows = []
    for r in records:
        row = [md_escape(r["label"]) if markdown else r["label"], str(r["concurrency"])]
        for c in CONFIGS:
            x = r[c]
            row += [fmt(x["rps"], 0), fmt(x["p50_ms"]), fmt(x["p99_ms"]), str(x["errors"])]
        row += [fmt(r["ratio_vs_nginx"], 2), fmt(r["ratio_vs_nginx_cached"], 2)]
        rows.append(row)
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|"]
        out += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(out) + "\n\nrps: requests/s; p50, p99: latency in ms; err: errors (socket errors, timeouts and non-2xx/3xx answers); vs nginx, vs cached: our throughput / theirs.\n"
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(row) for row in rows]) + \
        "\n(rps: requests/s; p50/p99: latency in ms; err: socket errors, timeouts and non-2xx/3xx answers)"


def cpu_table(records: list[dict], markdown: bool = False) -> str:
    """The gateway's CPU per request (median of the rounds) and the other load meanwhile."""
    head = ["scenario", "c", "ours ms", "nginx ms", "nginx-cached ms", "foreign cores (max)"]
    rows = [[md_escape(r["label"]) if markdown else r["label"], str(r["concurrency"])]
            + [fmt(r[c]["gateway_cpu_ms_per_req"], 3) for c in ("ours", "nginx", "nginx_cached")]
            + [fmt(max(r[c]["foreign_cores"] for c in CONFIGS if "same_as" not in r[c]), 2)]
            for r in records]
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|---|---:|---:|---:|---:|---:|"]
        return "\n".join(out + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "gateway CPU per request (ms, all its processes) and CPU used by others meanwhile:\n" + \
        "\n".join([line(head), line(["-" * w for w in widths])] + [line(row) for row in rows])


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(path)


def run_facts(mode: str, started_at: datetime, started: float, git_at_start: dict) -> dict:
    """What every results file opens with: which run, when, how long, where, what code."""
    return {"mode": mode, "started_at": started_at.isoformat(timespec="seconds"),
            "elapsed_s": round(time.monotonic() - started, 1), "machine": machine(),
            "git": git_at_start}


def raise_on_signals() -> None:
    """Ctrl-C, SIGTERM and SIGHUP raise KeyboardInterrupt, so the `finally` that
    stops every process runs (Bench.cleanup ignores them while it stops)."""
    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGINT too: `cmd &` starts it ignored
        signal.signal(sig, interrupted)


def main() -> None:
    parser = argparse.ArgumentParser(description="Our gateway against nginx, on scale data (issue 4).")
    parser.add_argument("--quick", action="store_true", help="a subset that runs in under 3 minutes")
    parser.add_argument("--duration", type=int, help="seconds of each measured wrk run")
    parser.add_argument("--warmup", type=int, help="seconds of warm-up before each cell's first round")
    parser.add_argument("--rounds", type=int, help="how often the configurations are alternated")
    parser.add_argument("--concurrency", help="comma-separated connection counts")
    parser.add_argument("--scenarios", help="comma-separated: " + ",".join(BY_NAME))
    parser.add_argument("--users", type=int)
    parser.add_argument("--tweets", type=int)
    parser.add_argument("--messages", type=int)
    parser.add_argument("--logins", type=int,
                        help="rotate over this many seed users (bench_0 .., at most 100, flask seed's --logins)")
    parser.add_argument("--soak", type=int, help="seconds of the gateway memory run (0: none)")
    parser.add_argument("--quiet-wait", type=float, default=5,
                        help="before a run, wait up to this many seconds while other processes use >0.5 cores")
    parser.add_argument("--quiet-budget", type=float,
                        help="total seconds of such waiting allowed in the whole run")
    parser.add_argument("--data-dir", help="seed here (or reuse what an earlier run seeded here); kept")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, configs)")
    parser.add_argument("--output", help="results file (default bench/results/latest.json)")
    args = parser.parse_args()
    args.mode = "quick" if args.quick else "full"
    for key, value in MODES[args.mode].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if isinstance(args.concurrency, str):
        args.concurrency = [int(c) for c in args.concurrency.split(",")]
    if isinstance(args.scenarios, str):
        args.scenarios = args.scenarios.split(",")
    unknown = [s for s in args.scenarios if s not in BY_NAME]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; choose from {list(BY_NAME)}")
    scenarios = [s for s in SCENARIOS if s.name in args.scenarios]  # Bearer before its Basic twin
    for tool in ("wrk",):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: run bench/run, which installs it")

    raise_on_signals()
    started_at, started = datetime.now(timezone.utc), time.monotonic()
    load_start = os.getloadavg()
    git_at_start = git_state()  # the code the processes load now; others may change it meanwhile
    bench = Bench(args)
    try:
        bench.system = System(bench.data_dir)
        seeded = bench.seed()
        bench.start_system()
        bench.log_in()
        bench.detect_identity()
        for variant in ("nginx", "nginx_cached"):
            bench.start_nginx(variant)
        sanity = bench.sanity_check(scenarios)
        records = bench.matrix(scenarios)
        soak = bench.soak(args.soak) if args.soak else None
        memory = bench.memory()
        auth_log = bench.system.instance_log("auth")
        result = {
            **run_facts(args.mode, started_at, started, git_at_start),
            "settings": {"duration_s": args.duration, "warmup_s": args.warmup, "rounds": args.rounds,
                         "concurrency": args.concurrency, "scenarios": args.scenarios,
                         "combine": "median of the rounds (errors: sum)",
                         "order": "per cell: ours, nginx, nginx_cached, direct, then again"},
            "seed": seeded,
            "identity_to_nginx": bench.identity_mode,
            "notes": bench.notes + [
                "Other sessions may be using the same 2 cores: each run's foreign_cores is the CPU "
                "that processes not started by the benchmark used meanwhile."],
            "load": {"loadavg_start": load_start, "loadavg_end": os.getloadavg(),
                     "waited_for_quiet_s": round(bench.waited_total, 1),
                     "foreign_cores_max": max((r[c]["foreign_cores"] for r in records for c in CONFIGS
                                               if "same_as" not in r[c]), default=0)},
            "sanity": sanity,
            "basic_priming_s": bench.primes,
            "records": records,
            "memory_end": memory,
            "gateway_soak": soak,
            "auth_log_lines": auth_log.count("\n"),
        }
        result["targets"] = targets(records, memory, soak)
        markdown = table(records, markdown=True) + "\n" + cpu_table(records, markdown=True)
        if args.output:  # only there: a trial run leaves bench/results alone
            output = Path(args.output)
            write_json(output, result)
            output.with_suffix(".md").write_text(markdown)
        else:
            output = BENCH / "results" / "latest.json"
            write_json(output, result)
            write_json(BENCH / "results" / f"{args.mode}.json", result)
            (BENCH / "results" / f"{args.mode}.md").write_text(markdown)
        (BENCH / "results" / f"{args.mode}.partial.tmp").unlink(missing_ok=True)
        print()
        print(table(records))
        print()
        print(cpu_table(records))
        print()
        t = result["targets"]
        print(f"targets: {t['met']} met, {t['missed']} missed")
        for c in t["checks"]:
            if not c["met"]:
                print(f"  missed: {c['target']}: {c['value']}")
        if soak:
            print(f"gateway RSS over {soak['seconds']} s: {soak['gateway_rss_mb_start']} -> "
                  f"{soak['gateway_rss_mb_end']} MB")
        print(f"foreign CPU (other processes) at most {result['load']['foreign_cores_max']} cores during a run; "
              f"load average {load_start[0]:.2f} -> {os.getloadavg()[0]:.2f}")
        for note in bench.notes:
            print("note: " + note)
        print(f"wrote {output} in {result['elapsed_s']} s")
    except KeyboardInterrupt:
        log("interrupted; stopping everything")
        raise SystemExit(130)
    finally:
        bench.cleanup()


if __name__ == "__main__":
    main()
