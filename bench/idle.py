"""An idle daemon (`campaign run`) with 100,000 future posts: RSS and CPU%.

    python -m bench.idle [--seconds 60] [--posts 100000] [--warmup 10]
                         [--db sqlite|postgresql|both]

For each database, two daemons run side by side over the same window: one over a
database holding `--posts` posts due tomorrow, and the baseline, one over an empty
database. Both have credentials for the loopback fakes of X and Bluesky (bench._fakes),
so they run as a user's would; nothing is due, so nothing is sent. After `--warmup`
seconds (imports, first tick) /proc/PID/stat and VmRSS are sampled every second for
`--seconds`; CPU% is reported as the median of three equal sub-windows (the ">= 3
runs"), RSS as the maximum seen. The daemons are then stopped with SIGTERM and must
exit 0. Targets: RSS <= 150 MB, CPU <= 1%.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench._common import (
    Fakes,
    campaign_exe,
    clean_env,
    databases,
    fill_queue,
    fresh_database,
    machine_note,
    median,
    table,
    verdict,
    workdir,
)

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.idle", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args(argv)
    print(machine_note())
    kinds = databases(args.db)
    rows = []
    with workdir("idle") as tmp, contextlib.ExitStack() as stack:
        fakes = Fakes(0.0, 0)
        stack.callback(fakes.stop)
        daemons: dict[str, subprocess.Popen[bytes]] = {}
        for kind in kinds:
            for posts in (args.posts, 0):
                url = stack.enter_context(fresh_database(kind, tmp))
                if posts:
                    tomorrow = datetime.now(UTC) + timedelta(days=1)
                    fill_queue(url, posts, tomorrow, timedelta(seconds=1))
                env = clean_env(tmp / f"data-{kind}-{posts}", url, **fakes.env())
                log = (tmp / f"daemon-{kind}-{posts}.log").open("wb")
                stack.callback(log.close)
                daemons[f"{kind}, {posts:,} posts"] = subprocess.Popen(
                    [*campaign_exe(), "run"],
                    env=env,
                    cwd=tmp,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
        try:
            time.sleep(args.warmup)
            thirds = [args.seconds / 3 * i for i in range(4)]
            marks: dict[str, list[float]] = {k: [] for k in daemons}
            peak: dict[str, float] = dict.fromkeys(daemons, 0.0)
            start = time.monotonic()
            stamps = []
            for third in thirds:
                while time.monotonic() - start < third:
                    for label, proc in daemons.items():
                        peak[label] = max(peak[label], rss_mb(proc.pid))
                    time.sleep(1.0)
                stamps.append(time.monotonic())
                for label, proc in daemons.items():
                    marks[label].append(cpu_seconds(proc.pid))
        finally:
            codes = {}
            for proc in daemons.values():
                proc.send_signal(signal.SIGTERM)
            for label, proc in daemons.items():
                try:
                    codes[label] = proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    codes[label] = proc.wait()
    for label in daemons:
        percents = [
            100 * (marks[label][i + 1] - marks[label][i]) / (stamps[i + 1] - stamps[i])
            for i in range(3)
        ]
        cpu = median(percents)
        total = 100 * (marks[label][-1] - marks[label][0]) / (stamps[-1] - stamps[0])
        loaded = not label.endswith(" 0 posts")
        rows.append(
            (
                label + ("" if loaded else " (baseline)"),
                peak[label],
                cpu,
                total,
                " / ".join(f"{p:.2f}" for p in percents),
                codes[label],
                f"RSS {verdict(peak[label] <= 150)}, CPU {verdict(cpu <= 1.0)}" if loaded else "",
            )
        )
    print(
        table(
            (
                "daemon",
                "peak RSS MB",
                "CPU % (median)",
                "CPU % (whole)",
                "CPU % thirds",
                "exit",
                "targets",
            ),
            rows,
            title=f"idle: {args.seconds:g} s after {args.warmup:g} s warm-up; poll 5 s",
        )
    )


if __name__ == "__main__":
    main()
