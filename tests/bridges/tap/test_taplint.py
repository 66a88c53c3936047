"""STILTS taplint against the live service: zero errors is the bar (docs/vo.md lists warnings).

The LOC stage (ObsLocTAP, ``ivoa.obsplan``: planned observations of a facility) is left out:
the lake holds data, not observing plans, and publishing an empty ``ivoa.obsplan`` to
please the linter would tell clients something false.
"""

from __future__ import annotations

import re
import subprocess

from tests.bridges.tap.conftest import stilts
from tests.support.live import LiveService

_TOTALS = re.compile(r"Totals:\s+Errors:\s*(\d+);\s*Warnings:\s*(\d+);\s*Failures:\s*(\d+)")


def test_taplint_reports_no_errors(live: LiveService) -> None:
    completed = subprocess.run(
        [stilts(), "taplint", f"tapurl={live.tap}", "report=EWF", "maxrepeat=3", "stages=-LOC"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = completed.stdout
    totals = _TOTALS.search(report)
    assert totals is not None, report[-3000:] + completed.stderr[-2000:]
    errors = [line for line in report.splitlines() if line.startswith("E-")]
    failures = [line for line in report.splitlines() if line.startswith("F-")]
    warnings = [line for line in report.splitlines() if line.startswith("W-")]
    print("\n".join(warnings))  # noqa: T201 - the warnings, for docs/vo.md
    assert errors == [], "\n".join(errors)
    assert failures == [], "\n".join(failures)
    assert int(totals.group(1)) == 0
    assert int(totals.group(3)) == 0
