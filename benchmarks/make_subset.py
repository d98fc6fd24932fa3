"""Build the benchmark's subset policy: the default policy's manifest, parameters,
definitions and cross-cutting claim rules, plus four guarantees only.

The files are copied from ``rules/`` at run time (never committed as a copy, which
would go stale), keeping their relative paths so the engine orders the rules
exactly as it does in the full policy (files sorted by path, rules in file order).

    python benchmarks/make_subset.py [DEST]     # prints the folder it wrote
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules"

SUBSET_GUARANTEES = ("seven_day_return", "fast_refund", "authenticity", "on_time_shipment")
SUBSET_FILES = (
    "policy.yaml",
    "parameters.yaml",
    "definitions.yaml",
    "claims/common.yaml",
    *(f"guarantees/{name}.yaml" for name in SUBSET_GUARANTEES),
)


def make_subset(dest: Path | None = None, rules: Path = RULES) -> Path:
    """Copy the subset's files into ``dest`` (a new temporary folder if None); return the folder."""
    folder = Path(tempfile.mkdtemp(prefix="ruleengine-subset-")) if dest is None else Path(dest)
    for name in SUBSET_FILES:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(rules / name, target)
    return folder


def main(argv: list[str]) -> int:
    folder = make_subset(Path(argv[0]) if argv else None)
    import ruleengine

    policy = ruleengine.load_policy(folder)
    print(f"{folder}  ({len(policy.rules)} rule versions, {len(policy.rule_ids())} rule ids)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
