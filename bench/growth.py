"""The growth benchmark of issue 4: the read paths' p50 on small data against
large data, measured in one run with the two sizes alternated.

Run it as `bench/run --growth [--quick]` (bench/run installs wrk and the venv
first); BENCHMARKS.md ("Growth") explains the figures.

Outline: seed two data folders with the same users and follows (`flask init`,
then `flask seed` with the same --users and flask seed's default random seed):
small (10,000 tweets, 20,000 messages) and large (1,000,000 tweets, 200,000
messages). Start both systems at once (two tests.system.System formations on
their own ports), log the bench users in on each, fetch one page per user and
scenario from each to count what a page holds, and then for each scenario
(GET /homeTimeline, GET /userTimeline/<another bench user>, GET /listmsg/<self>)
run wrk at 1 connection against small, large, small, large, ... (through the
gateway, and straight to the service's first instance), `rounds` times each,
taking the median. The target: large p50 / small p50 <= 1.5.

It reuses bench.py's harness (seeding with a marker file, logins, the wrk Lua
script, wait_quiet, CPU accounting, cleanup): one bench.Bench per size.
"""
import argparse
import os
import sqlite3
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import bench  # noqa: E402  (puts the project root on sys.path too)
from bench import BENCH, BY_NAME, Bench, fmt, git_state, log, md_escape, run_facts, write_json  # noqa: E402

import requests  # noqa: E402

from microblog.dynamo import client as dynamodb_client  # noqa: E402
from microblog.stores import tweets as tweet_store  # noqa: E402
from tests.system import System  # noqa: E402

SIZES = ("small", "large")
SCENARIOS = [BY_NAME[name] for name in ("homeTimeline", "userTimeline", "listmsg")]
TARGET = 1.5
TABLE_PREFIX = "microblog-"  # System does not set MICROBLOG_TABLE_PREFIX: the default

MODES = {
    "full": dict(users=10_000, small_tweets=10_000, large_tweets=1_000_000,
                 small_messages=20_000, large_messages=200_000,
                 duration=4, warmup=2, rounds=5, logins=20, quiet_budget=60),
    "quick": dict(users=2_000, small_tweets=5_000, large_tweets=100_000,
                  small_messages=2_000, large_messages=20_000,
                  duration=2, warmup=1, rounds=2, logins=10, quiet_budget=10),
}


class SizeBench(Bench):
    """bench.Bench for one of the two data sizes. Its CPU accounting counts the
    other size's processes as its own too ("<size>:<kind>"), so that they are not
    taken for other people's load."""

    def __init__(self, args, size: str):
        super().__init__(args)
        self.size = size
        self.siblings: list["SizeBench"] = []

    def groups(self) -> dict[str, list[int]]:
        roots = super().groups()
        for other in self.siblings:
            if other.system is not None:
                for group, pids in Bench.groups(other).items():
                    roots[f"{other.size}:{group}"] = pids
        return roots

    # What the data holds

    def dynamodb(self):
        return dynamodb_client(self.system.env["AWS_ENDPOINT_URL_DYNAMODB"], "us-east-1")

    def facts(self) -> dict:
        """Row and item counts of the folder, and what the bench users' requests read."""
        names = list(self.tokens)
        db = sqlite3.connect(self.data_dir / "microblog.sqlite")
        try:
            counts = self.counts()
            ids = {name: db.execute("SELECT id FROM users WHERE lower(username) = ?",
                                    (name,)).fetchone()[0] for name in names}
            own = {name: db.execute("SELECT count(*) FROM tweets WHERE user_id = ?",
                                    (ids[name],)).fetchone()[0] for name in names}
            home = {name: db.execute(
                "SELECT count(*) FROM tweets WHERE user_id IN"
                " (SELECT ? UNION ALL SELECT followed_id FROM follows WHERE follower_id = ?)",
                (ids[name], ids[name])).fetchone()[0] for name in names}
            following = {name: db.execute("SELECT count(*) FROM follows WHERE follower_id = ?",
                                          (ids[name],)).fetchone()[0] for name in names}
            size_mb = (self.data_dir / "microblog.sqlite").stat().st_size / 1e6
        finally:
            db.close()
        dynamo = self.dynamodb()
        counter = dynamo.get_item(TableName=TABLE_PREFIX + "counters", Key={"name": {"S": "message"}},
                                  ConsistentRead=True).get("Item", {})

        def inbox_count(name: str) -> int:
            request = {"TableName": TABLE_PREFIX + "messages", "IndexName": "inbox", "Select": "COUNT",
                       "KeyConditionExpression": "recipient_key = :k",
                       "ExpressionAttributeValues": {":k": {"S": name}}}
            total = 0
            while True:
                answer = dynamo.query(**request)
                total += answer["Count"]
                if "LastEvaluatedKey" not in answer:
                    return total
                request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

        inbox = {name: inbox_count(name) for name in names}
        spread = lambda values: {"min": min(values), "median": statistics.median(values),  # noqa: E731
                                 "max": max(values)}
        return {
            "sqlite_rows": counts, "sqlite_file_mb": round(size_mb, 1),
            "dynamodb_messages": int(counter["value"]["N"]) if counter else None,
            "dynamodb_messages_source": "the atomic id counter (ids are reserved consecutively, "
                                        "so it equals the number of messages stored)",
            "bench_users": {
                "tweets_of_user": spread(list(own.values())),
                "home_timeline_candidates": spread(list(home.values())),
                "following": spread(list(following.values())),
                "inbox_messages": spread(list(inbox.values())),
            },
        }

    def query_plans(self) -> dict:
        """EXPLAIN QUERY PLAN of the timeline statements on this folder's data (for
        bench_0), and the SQLite VM instructions each bench user's first page takes:
        work that does not grow with the table is the same count in both folders."""
        db = sqlite3.connect(self.data_dir / "microblog.sqlite")
        db.row_factory = sqlite3.Row
        found = {}
        try:
            ids = [db.execute("SELECT id FROM users WHERE lower(username) = ?", (name,)).fetchone()[0]
                   for name in self.tokens]
            for name, function in (("user_timeline", tweet_store.user_timeline),
                                   ("home_timeline", tweet_store.home_timeline)):
                statements: list[str] = []
                db.set_trace_callback(statements.append)
                function(db, ids[0], None, 26)  # a page of 25 asks for 26 rows
                db.set_trace_callback(None)
                steps = []
                for user_id in ids:
                    counter = [0]

                    def tick(counter=counter) -> int:
                        counter[0] += 1
                        return 0
                    db.set_progress_handler(tick, 1)
                    function(db, user_id, None, 26)
                    db.set_progress_handler(None, 1)
                    steps.append(counter[0])
                found[name] = {
                    "plan": [" | ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + s))
                             for s in statements],
                    "vm_steps": {"min": min(steps), "median": statistics.median(steps), "max": max(steps)}}
        finally:
            db.close()
        return found

    def pages(self) -> dict:
        """One page per bench user and scenario, as wrk asks for it: items and bytes."""
        names = list(self.tokens)
        found = {}
        for scenario in SCENARIOS:
            key = "messages" if scenario.name == "listmsg" else "tweets"

            def one(i: int) -> tuple[int, int, bool]:
                me, other = names[i], names[(i + 17) % len(names)]  # as wrk.lua picks them
                path = scenario.path.replace("<u>", other).replace("<self>", me)
                answer = requests.get(self.system.url + path, timeout=30,
                                      headers={"Authorization": f"Bearer {self.tokens[me]}"})
                answer.raise_for_status()
                return len(answer.json()[key]), len(answer.content), answer.json()["next"] is not None

            with ThreadPoolExecutor(4) as pool:
                results = list(pool.map(one, range(len(names))))
            items = [r[0] for r in results]
            found[scenario.name] = {"items_min": min(items), "items_mean": round(statistics.mean(items), 1),
                                    "items_max": max(items),
                                    "body_bytes_mean": round(statistics.mean(r[1] for r in results)),
                                    "pages_with_next": sum(r[2] for r in results), "pages": len(results)}
        return found


def size_args(args, size: str) -> SimpleNamespace:
    """What bench.Bench reads from its args, for one size."""
    return SimpleNamespace(users=args.users, tweets=getattr(args, f"{size}_tweets"),
                           messages=getattr(args, f"{size}_messages"), logins=args.logins,
                           data_dir=getattr(args, f"data_dir_{size}"), keep=args.keep,
                           quiet_wait=args.quiet_wait, quiet_budget=args.quiet_budget, mode=args.mode)


def new_systems(benches: dict[str, SizeBench]) -> None:
    """A System per size, on ports that do not clash (free_port only asks the kernel)."""
    for _attempt in range(20):
        systems = {size: System(b.data_dir) for size, b in benches.items()}
        ports = [p for s in systems.values() for ps in s.ports.values() for p in ps]
        if len(set(ports)) == len(ports):
            for size, b in benches.items():
                b.system = systems[size]
            return
    raise SystemExit("could not find distinct free ports for two systems")


def measure(benches: dict[str, SizeBench], args) -> list[dict]:
    configs = ["ours", "direct"] if args.direct else ["ours"]
    order = [(config, size) for config in configs for size in SIZES]
    quiet = benches["small"]  # wait_quiet and its budget are about the machine, not a system
    total = len(SCENARIOS) * len(order) * args.rounds
    log(f"{total} wrk runs of {args.duration} s at 1 connection (+{args.warmup} s warm-up each "
        f"scenario, configuration and size): about "
        f"{(total * (args.duration + 0.6) + len(SCENARIOS) * len(order) * args.warmup) / 60:.1f} minutes")
    records, done, started = [], 0, time.monotonic()
    for scenario in SCENARIOS:
        runs = {(c, s): [] for c, s in order}
        for config, size in order:
            if args.warmup:
                quiet.wait_quiet()
                benches[size].wrk_run(config, scenario, 1, args.warmup, f"w{size[0]}{config[:2]}")
        for round_number in range(1, args.rounds + 1):
            for config, size in order:  # alternated: small, large, small, large, ...
                quiet.wait_quiet()
                tag = f"g{size[0]}{config[:2]}r{round_number}x{int(time.time())}"
                run = benches[size].wrk_run(config, scenario, 1, args.duration, tag)
                runs[config, size].append(run)
                done += 1
                left = (time.monotonic() - started) / done * (total - done)
                log(f"[{done}/{total}] {scenario.name} {config} {size} r{round_number}: "
                    f"{run['rps']:.0f} rps p50 {run['p50_ms']:.2f} p99 {run['p99_ms']:.2f} ms "
                    f"err {run['errors']} foreign {run['foreign_cores']:.2f} cores "
                    f"(~{left / 60:.1f} min left)")
        record = {"scenario": scenario.name, "label": scenario.label, "concurrency": 1}
        for config in configs:
            by_size = {size: combine(runs[config, size]) for size in SIZES}
            small, large = by_size["small"]["p50_ms"], by_size["large"]["p50_ms"]
            per_round = [round(lg["p50_ms"] / sm["p50_ms"], 3)
                         for sm, lg in zip(runs[config, "small"], runs[config, "large"])]
            record[config] = {**by_size, "ratio_p50": round(large / small, 3),
                              "ratio_p50_per_round": per_round,
                              "ratio_p99": round(by_size["large"]["p99_ms"] / by_size["small"]["p99_ms"], 3)}
        records.append(record)
    return records


def combine(runs: list[dict]) -> dict:
    combined = Bench.combine(runs)
    med = lambda key: statistics.median(r[key] for r in runs)  # noqa: E731
    combined["bytes_per_req"] = round(med("bytes_per_req"), 1)
    groups = {g for r in runs for g in r["cpu_ms_per_req"]}
    combined["cpu_ms_per_req"] = {g: round(statistics.median(r["cpu_ms_per_req"].get(g, 0) for r in runs), 4)
                                  for g in sorted(groups)}
    return combined


def targets(records: list[dict]) -> dict:
    checks = [{"target": f"{r['scenario']}: p50 large / small <= {TARGET} (through the gateway, 1 connection)",
               "value": r["ours"]["ratio_p50"], "met": r["ours"]["ratio_p50"] <= TARGET}
              for r in records]
    return {"met": sum(c["met"] for c in checks), "missed": sum(not c["met"] for c in checks),
            "checks": checks}


def table(records: list[dict], pages: dict, markdown: bool = False) -> str:
    head = ["scenario", "via", "small p50", "large p50", "ratio", "per round",
            "small p99", "large p99", "small rps", "large rps", "err", "items/page s/l", "bytes s/l"]
    rows = []
    for r in records:
        for config in ("ours", "direct"):
            if config not in r:
                continue
            x = r[config]
            s, lg = x["small"], x["large"]
            ps, pl = pages["small"][r["scenario"]], pages["large"][r["scenario"]]
            rows.append([md_escape(r["label"]) if markdown else r["label"],
                         "gateway" if config == "ours" else "direct",
                         fmt(s["p50_ms"], 2), fmt(lg["p50_ms"], 2), fmt(x["ratio_p50"], 2),
                         "-".join([fmt(min(x["ratio_p50_per_round"]), 2), fmt(max(x["ratio_p50_per_round"]), 2)]),
                         fmt(s["p99_ms"], 2), fmt(lg["p99_ms"], 2), fmt(s["rps"], 0), fmt(lg["rps"], 0),
                         str(s["errors"] + lg["errors"]),
                         f"{ps['items_mean']:g}/{pl['items_mean']:g}",
                         f"{ps['body_bytes_mean']}/{pl['body_bytes_mean']}"])
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
        out += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(out) + (
            "\n\np50, p99: latency in ms at 1 connection (median of the rounds); ratio: large p50 / small"
            " p50 (target <= 1.5 through the gateway); per round: the lowest and highest ratio of one"
            " round's pair; err: errors in all rounds; items/page, bytes: mean items and body bytes of"
            " one page per bench user, small / large.\n")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) if i < 2 else c.rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(row) for row in rows]) + \
        "\n(p50/p99 in ms at 1 connection; ratio = large p50 / small p50; per round: min-max of the rounds' ratios)"


def data_lines(sizes: dict) -> list[str]:
    """What each folder holds, and what the bench users' requests read there."""
    lines = []
    for size, x in sizes.items():
        rows, users = x["sqlite_rows"], x["bench_users"]
        lines.append(
            f"{size}: {rows['users']:,} users, {rows['follows']:,} follows, {rows['tweets']:,} tweets "
            f"(SQLite {x['sqlite_file_mb']} MB), {x['dynamodb_messages']:,} messages; seeded in "
            f"{x['seed']['seconds']} s. Per bench user (median): {users['tweets_of_user']['median']:g} "
            f"own tweets, {users['home_timeline_candidates']['median']:g} tweets in the home timeline, "
            f"{users['inbox_messages']['median']:g} messages in the inbox; SQLite VM steps for a first "
            f"page: home {x['query_plans']['home_timeline']['vm_steps']['median']:g}, "
            f"user {x['query_plans']['user_timeline']['vm_steps']['median']:g}.")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Timeline and message p50 on small against large data, alternated in one run (issue 4).")
    parser.add_argument("--quick", action="store_true", help="smaller data and shorter runs, to try it out")
    parser.add_argument("--users", type=int, help="users in both folders (same follows: same random seed)")
    parser.add_argument("--small-tweets", type=int)
    parser.add_argument("--large-tweets", type=int)
    parser.add_argument("--small-messages", type=int)
    parser.add_argument("--large-messages", type=int)
    parser.add_argument("--logins", type=int,
                        help="rotate over this many bench users (bench_0 ..; the most active ones, so "
                             "pages are full in the small folder too)")
    parser.add_argument("--duration", type=int, help="seconds of each measured wrk run")
    parser.add_argument("--warmup", type=int, help="seconds of warm-up per scenario, configuration and size")
    parser.add_argument("--rounds", type=int, help="how often small and large are alternated")
    parser.add_argument("--no-direct", dest="direct", action="store_false",
                        help="only through the gateway (by default also straight to the service)")
    parser.add_argument("--quiet-wait", type=float, default=5,
                        help="before a run, wait up to this many seconds while other processes use >0.5 cores")
    parser.add_argument("--quiet-budget", type=float, help="total seconds of such waiting allowed")
    parser.add_argument("--data-dir-small", help="seed the small data here (or reuse what was seeded here); kept")
    parser.add_argument("--data-dir-large", help="seed the large data here (or reuse what was seeded here); kept")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders (logs, data)")
    parser.add_argument("--output", help="results file (default bench/results/growth.json, "
                                         "growth-quick.json with --quick)")
    args = parser.parse_args()
    args.mode = "quick" if args.quick else "full"
    for key, value in MODES[args.mode].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.logins > 100:
        parser.error("flask seed gives the password to the first 100 users only")
    if args.data_dir_small and args.data_dir_large and \
            Path(args.data_dir_small).resolve() == Path(args.data_dir_large).resolve():
        parser.error("the small and the large data need two folders")
    if not bench.shutil.which("wrk"):
        raise SystemExit("wrk is missing: run bench/run --growth, which installs it")
    bench.raise_on_signals()

    started_at, started = datetime.now(timezone.utc), time.monotonic()
    load_start = os.getloadavg()
    git_at_start = git_state()
    benches: dict[str, SizeBench] = {}
    try:
        for size in SIZES:
            benches[size] = SizeBench(size_args(args, size), size)
        for size, b in benches.items():
            b.siblings = [o for o in benches.values() if o is not b]
        new_systems(benches)
        seeded = {}
        for size in SIZES:  # one after the other: the seeding times are comparable
            log(f"{size} data in {benches[size].data_dir}")
            seeded[size] = benches[size].seed()
        for size in SIZES:
            benches[size].start_system()
        for size in SIZES:
            benches[size].log_in()
        facts = {size: benches[size].facts() for size in SIZES}
        plans = {size: benches[size].query_plans() for size in SIZES}
        pages = {size: benches[size].pages() for size in SIZES}
        for size in SIZES:
            log(f"{size}: {facts[size]['sqlite_rows']}, {facts[size]['dynamodb_messages']} messages; "
                f"page items " + ", ".join(f"{k} {v['items_mean']:g}" for k, v in pages[size].items()))
        records = measure(benches, args)
        notes = [
            "Other sessions may be using the same 2 cores: each run's foreign_cores is the CPU used "
            "meanwhile by processes this benchmark did not start (both systems count as its own).",
            "Both folders have the same users and follows (same --users, flask seed's default "
            "--random-seed 1); tweets and messages are drawn after the follows, so they differ.",
        ]
        short = [f"{size} {name}: {p['items_min']}-{p['items_max']} items a page"
                 for size in SIZES for name, p in pages[size].items() if p["items_min"] < 25]
        if short:
            notes.append("Not every page compared is a full page (25 items): " + "; ".join(short))
        result = {
            **run_facts(args.mode, started_at, started, git_at_start),
            "settings": {"duration_s": args.duration, "warmup_s": args.warmup, "rounds": args.rounds,
                         "connections": 1, "wrk_threads": 1, "logins": args.logins,
                         "configurations": ["ours", "direct"] if args.direct else ["ours"],
                         "combine": "median of the rounds (errors: sum)",
                         "order": "per scenario: (ours small, ours large, direct small, direct large), "
                                  "then again, `rounds` times"},
            "sizes": {size: {"seed": seeded[size], "data_dir": str(benches[size].data_dir)
                             if getattr(args, f"data_dir_{size}") else None,
                             **facts[size], "pages": pages[size], "query_plans": plans[size]}
                      for size in SIZES},
            "notes": notes,
            "load": {"loadavg_start": load_start, "loadavg_end": os.getloadavg(),
                     "waited_for_quiet_s": round(benches["small"].waited_total, 1),
                     "foreign_cores_max": max(r[c][s]["foreign_cores"] for r in records
                                              for c in result_configs(args) for s in SIZES)},
            "records": records,
        }
        result["targets"] = targets(records)
        markdown = table(records, pages, markdown=True) + "\n" + "\n\n".join(data_lines(result["sizes"])) + "\n"
        output = Path(args.output) if args.output else \
            BENCH / "results" / ("growth.json" if args.mode == "full" else "growth-quick.json")
        write_json(output, result)
        output.with_suffix(".md").write_text(markdown)
        print()
        print(table(records, pages))
        print()
        for line in data_lines(result["sizes"]):
            print(line)
        t = result["targets"]
        print(f"targets: {t['met']} met, {t['missed']} missed")
        for c in t["checks"]:
            print(f"  {'met' if c['met'] else 'MISSED'}: {c['target']}: {c['value']}")
        print(f"foreign CPU (other processes) at most {result['load']['foreign_cores_max']:.2f} cores "
              f"during a run; load average {load_start[0]:.2f} -> {os.getloadavg()[0]:.2f}")
        for note in notes[2:]:
            print("note: " + note)
        print(f"wrote {output} in {result['elapsed_s']} s")
    except KeyboardInterrupt:
        log("interrupted; stopping everything")
        raise SystemExit(130)
    finally:
        for b in benches.values():
            b.cleanup()


def result_configs(args) -> list[str]:
    return ["ours", "direct"] if args.direct else ["ours"]


if __name__ == "__main__":
    main()
