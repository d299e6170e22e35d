"""Splitting throughput on generated English articles of 1 KB, 100 KB, 1 MB and 5 MB.

    python -m bench.split [--runs 3] [--sizes 1,100,1024,5120]  (sizes in KiB)

In-process: parse_text (the .txt reader, the baseline) then split_article for X and for
Bluesky with two hashtags, balanced (the default) and greedy (`balanced=False`, every post
filled in turn: what the balanced packer costs over the simple one). Growth: time(size) /
time(previous size) against the size ratio; the target is 10x the input <= 12x the time
(i.e. growth / size ratio <= 1.2).
"""

from __future__ import annotations

import argparse
import time

from bench._common import article_text, machine_note, median, table, verdict


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.split", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1,100,1024,5120", help="KiB, comma-separated")
    args = parser.parse_args(argv)
    from posts.article import parse_text
    from posts.platform import Platform
    from posts.split import SplitOptions, split_article

    print(machine_note())
    sizes = [int(s) * 1024 for s in args.sizes.split(",")]
    rows = []
    previous: dict[str, tuple[int, float]] = {}
    for size in sizes:
        text = article_text(size)
        parse_times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            article = parse_text(text)
            parse_times.append(time.perf_counter() - start)
        for platform in (Platform.X, Platform.BLUESKY):
            options = SplitOptions(platform=platform, tags=("#Artsakh", "#Armenia"))
            times = []
            greedy_times = []
            posts = greedy_posts = 0
            for _ in range(args.runs):
                start = time.perf_counter()
                posts = len(split_article(article, options).posts)
                times.append(time.perf_counter() - start)
                start = time.perf_counter()
                greedy_posts = len(split_article(article, options, balanced=False).posts)
                greedy_times.append(time.perf_counter() - start)
            t = median(times)
            kib = len(text.encode()) / 1024
            growth = ""
            ok = ""
            if platform.value in previous:
                prev_size, prev_t = previous[platform.value]
                ratio = size / prev_size
                g = t / prev_t
                growth = f"{g:.1f}x for {ratio:.0f}x input"
                if ratio <= 20:  # the 1 KB -> 100 KB step is all fixed cost
                    ok = verdict(g / ratio <= 1.2)
            previous[platform.value] = (size, t)
            rows.append(
                (
                    f"{kib:,.0f} KiB",
                    platform.value,
                    posts,
                    greedy_posts,
                    median(parse_times),
                    median(greedy_times),
                    t,
                    kib / t,
                    t / median(parse_times),
                    growth,
                    ok,
                )
            )
    print(
        table(
            (
                "article",
                "platform",
                "posts",
                "greedy posts",
                "parse s (baseline)",
                "greedy s",
                "split s",
                "split KiB/s",
                "split / parse",
                "growth",
                "<= 1.2x linear",
            ),
            rows,
            title=f"split: medians of {args.runs} runs",
        )
    )


if __name__ == "__main__":
    main()
