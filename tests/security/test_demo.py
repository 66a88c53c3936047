"""The demo hands a newcomer a token its service accepts, so that writes can be tried."""

from __future__ import annotations

import os
import re
import subprocess
import time

import httpx

from tests.support.live import free_port, lakecat

CREATE = 'mutation { createDataset(scope: "sandbox", name: "first") { __typename } }'


def test_the_demo_prints_a_token_that_writes(tmp_path):
    port = free_port()
    env = {**os.environ, "LAKECAT_DATA_DIR": str(tmp_path)}
    env.pop("LAKECAT_DATABASE_URL", None)
    env.pop("LAKECAT_AUTH_LOCAL_ISSUER", None)
    process = subprocess.Popen(  # noqa: S603 - our own command
        lakecat("demo", "--port", str(port)),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        header = None
        assert process.stdout is not None
        for line in process.stdout:
            found = re.search(r'"Authorization": "(Bearer [^"]+)"', line)
            if found:
                header = found.group(1)
                break
        assert header is not None, "the demo printed no token"
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the demo did not start serving"
                time.sleep(0.2)
        anonymous = httpx.post(f"{url}/graphql", json={"query": CREATE})
        assert anonymous.status_code == 401
        written = httpx.post(
            f"{url}/graphql", json={"query": CREATE}, headers={"Authorization": header}
        )
        assert written.json() == {"data": {"createDataset": {"__typename": "DIDSuccess"}}}
    finally:
        process.terminate()
        process.wait(timeout=20)
