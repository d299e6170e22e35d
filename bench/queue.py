"""`campaign queue` of 10,000 and 100,000 posts in one call: seconds and peak memory.

    python -m bench.queue [--runs 3] [--posts 10000,100000] [--db sqlite|postgresql|both]

The article is generated so that every sentence is one post (150-240 characters, so two
never fit one post), for X only, `--every 1s`, threaded. The baseline, measured in the
same run, is `campaign split` of the same article (`--json`): the same reading and
splitting without the database, so `queue - split` is the cost of storing.
CAMPAIGN_MAX_ARTICLE_BYTES is raised to 64 MiB: 100,000 such posts need ~19 MB of text.
Peak memory is the child's ru_maxrss. Each run queues into a new database (the first
use creates the schema, as on a new machine). Both output forms are timed: the default
table (a summary for large campaigns) and `--json` (every post).
Targets: 10,000 posts <= 2 s on SQLite, <= 3 s on PostgreSQL, in both forms.
"""

from __future__ import annotations

import argparse
import json

from bench._common import (
    campaign_exe,
    check,
    clean_env,
    databases,
    fresh_database,
    machine_note,
    median,
    one_post_per_sentence_article,
    run_child,
    table,
    verdict,
    workdir,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.queue", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--posts", default="10000,100000")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args(argv)
    print(machine_note())
    kinds = databases(args.db)
    cli = campaign_exe()
    rows = []
    with workdir("queue") as tmp:
        for count in [int(n) for n in args.posts.split(",")]:
            article = tmp / f"article-{count}.txt"
            article.write_text(one_post_per_sentence_article(count))
            base_env = clean_env(
                tmp / "data",
                f"sqlite:///{tmp / 'unused.db'}",
                CAMPAIGN_MAX_ARTICLE_BYTES="67108864",
            )
            split_cmd = [*cli, "split", str(article), "-p", "x", "-t", "Artsakh", "--json"]
            timeout = 60 + count * 0.05
            modes = ["table", "--json"]
            figures: dict[str, list[tuple[float, float, int]]] = {}
            for _ in range(args.runs):
                split = check(run_child(split_cmd, base_env, tmp, timeout), "campaign split")
                n = len(json.loads(split.stdout))
                figures.setdefault("split --json (baseline)", []).append(
                    (split.wall, split.maxrss_mb, n)
                )
                for kind in kinds:
                    for mode in modes:
                        with fresh_database(kind, tmp) as url:
                            env = {**base_env, "CAMPAIGN_DATABASE_URL": url}
                            cmd = [
                                *cli, "queue", str(article), "-p", "x", "-t", "Artsakh",
                                "--start", "+1h", "--every", "1s", "--campaign", "bench",
                            ]  # fmt: skip
                            if mode == "--json":
                                cmd.append("--json")
                            result = check(run_child(cmd, env, tmp, timeout), "campaign queue")
                            n = len(json.loads(result.stdout)["posts"]) if mode == "--json" else n
                            figures.setdefault(f"queue {mode} ({kind})", []).append(
                                (result.wall, result.maxrss_mb, n)
                            )
            base = median([w for w, _, _ in figures["split --json (baseline)"]])
            for label, values in figures.items():
                wall = median([w for w, _, _ in values])
                rss = max(m for _, m, _ in values)
                posts = values[-1][2]
                target = ok = ""
                if label.startswith("queue") and count <= 10_000:
                    limit = 3.0 if "postgresql" in label else 2.0
                    target, ok = f"<= {limit:g} s", verdict(wall <= limit)
                rows.append(
                    (
                        f"{posts:,}",
                        label,
                        len(values),
                        wall,
                        wall - base if label.startswith("queue") else 0.0,
                        wall / base,
                        rss,
                        target,
                        ok,
                    )
                )
    print(
        table(
            (
                "posts",
                "command",
                "runs",
                "median s",
                "minus split s",
                "x split",
                "peak RSS MB",
                "target",
                "",
            ),
            rows,
            title="queue: medians; peak RSS is the max ru_maxrss over the runs",
        )
    )


if __name__ == "__main__":
    main()
