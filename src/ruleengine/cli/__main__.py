"""``python -m ruleengine.cli``: the same as the ``ruleengine`` console script."""

from .shell import entry

entry()
