"""Run rucio client calls in the Rucio server's venv: JSON calls in, JSON results out.

Each line on stdin is ``[[method, args, kwargs], ...]``; each call is
``getattr(Client(), method)(...)`` (generators are listed), and one line goes back:
``{"results": [...]}`` or ``{"error": "..."}``. A call whose name starts with ``!`` expects an
exception and returns its class name. Run as ``$LAKECAT_TEST_RUCIO_VENV/bin/python
rucio_side.py`` with ``RUCIO_CONFIG`` set; it stays up, so the client is imported once.
"""

import datetime as dt
import json
import sys
import types

from rucio.client import Client


def plain(value):
    if isinstance(value, types.GeneratorType | map | filter):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def run(client, calls):
    results = []
    for method, args, kwargs in calls:
        expect_error = method.startswith("!")
        try:
            value = plain(getattr(client, method.lstrip("!"))(*args, **kwargs))
        except Exception as exc:
            if not expect_error:
                raise
            value = type(exc).__name__
        else:
            if expect_error:
                raise SystemExit(f"{method} did not fail")
        results.append(value)
    return results


def main():
    client = Client()
    for line in sys.stdin:
        try:
            answer = {"results": run(client, json.loads(line))}
        except BaseException as exc:  # noqa: BLE001 - reported to the test, which fails
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
