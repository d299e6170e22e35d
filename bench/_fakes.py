"""The test suite's loopback fakes of X (FakeX) and a Bluesky PDS (FakePDS), served from
their own process so that neither the daemon nor the bare loop shares a GIL with them.

    python -m bench._fakes LATENCY_SECONDS REQUESTS

Prints one JSON line with the base URLs and credentials, then serves until stdin closes.
The fakes are imported from the repository's tests/ directory (on sys.path, as in _common);
tests/fakes is not modified. For the benchmark:
- X's posting limits are lifted: FakeX's daily_post_limit argument, and its module-level
  15-minute window table WINDOW_LIMITS[CREATE_TWEET] (100 by default) is raised in this
  process only, so no 429 interferes.
- Latency uses the fakes' own delay facility: delay_next(LATENCY, n=REQUESTS) on the
  create endpoints, i.e. every create is handled, then answered LATENCY seconds later.
"""

from __future__ import annotations

import json
import sys

from bench._common import REPO

sys.path.insert(0, str(REPO / "tests"))

from fakes import x_api
from fakes.pds import CREATE_RECORD, FakePDS
from fakes.x_api import CREATE_TWEET, FakeX


def main() -> None:
    latency = float(sys.argv[1])
    requests = int(sys.argv[2])
    x_api.WINDOW_LIMITS[CREATE_TWEET] = 10**9
    with FakeX(daily_post_limit=10**9) as fx, FakePDS() as pds:
        if latency > 0:
            fx.delay_next(latency, n=requests, endpoint=CREATE_TWEET)
            pds.delay_next(latency, n=requests, endpoint=CREATE_RECORD)
        print(
            json.dumps(
                {
                    "x_url": fx.base_url,
                    "x_api_key": fx.api_key,
                    "x_access_token": fx.access_token,
                    "pds_url": pds.base_url,
                    "bsky_handle": pds.handle,
                    "bsky_password": pds.password,
                }
            ),
            flush=True,
        )
        sys.stdin.read()  # until the benchmark closes our stdin
        print(json.dumps({"tweets": len(fx.tweets), "records": len(pds.records)}), flush=True)


if __name__ == "__main__":
    main()
