"""A policy the tests own, and the real ``ruleengine`` command to run against it.

The tiny policy has one stage and one rule: a no-reason return is approved and refunded
(in full, or by ``refund_share``), with a reason. Tests of the command line use it so that they pin
its numbers, never the default policy's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "orders"
RETURN_ORDER = EXAMPLES / "seven-day-return-last-minute-approved.json"
"""An example order with a no-reason return claim on a 219.00 line."""

MANIFEST = """\
policy:
  name: {name}
  version: "1"
  timezone: Asia/Shanghai
  stages: [claim]
"""

RULE = """\
rules:
  - id: tiny.approve
    title: {{zh: 批准无理由退货, en: approve no-reason returns}}
    description: 无理由退货一律批准并退款 / every no-reason return is approved and refunded
    guarantee: seven_day_return
    stage: claim
    priority: 10
    scope: claimed_line
    when: claim.type == 'no_reason_return'
    then:
      - set: {{claim.outcome: approved}}
      - set: {{claim.refund_amount: "item.paid_amount * {refund_share}"}}
      - reason: {{zh: 无理由退货, en: no-reason return}}
"""


def write_tiny_policy(folder: Path, name: str = "tiny", refund_share: str = "1") -> Path:
    """Write the tiny policy into ``folder`` (created); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.yaml").write_text(MANIFEST.format(name=name), encoding="utf-8")
    (folder / "claim.yaml").write_text(RULE.format(refund_share=refund_share), encoding="utf-8")
    return folder


def ruleengine_command() -> list[str]:
    """The console script installed next to this Python (what a user runs), else ``python -m ruleengine.cli``."""
    script = Path(sys.executable).parent / "ruleengine"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ruleengine.cli"]


def run_ruleengine(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``ruleengine ARGS`` in ``cwd`` with RULEENGINE_RULES unset unless ``env`` sets it."""
    environment = {k: v for k, v in os.environ.items() if k != "RULEENGINE_RULES"} | (env or {})
    return subprocess.run(
        [*ruleengine_command(), *args],
        cwd=cwd,
        env=environment,
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
