"""The ``ruleengine`` command: validate a policy, evaluate orders (one, many, or a JSON-lines batch).

Exit codes: 0 ok; 1 a facts or evaluation error (or a failing case); 2 a policy or usage error.
Errors print as ``file:line:col: code: message`` (or JSON with ``--format json``),
never as a Python traceback. Every command finds its policy folder by the same
rule (:mod:`ruleengine.compile.policyfolder`) and says which one it used.

The commands live by what they do: checking, deciding, serving; ``shell`` holds the group,
the console script and what every command shares.
"""

from . import checking, deciding, serving
from .shell import entry, main

__all__ = ["checking", "deciding", "entry", "main", "serving"]
