"""Deciding an order with a loaded policy: facts read and converted, the generated program run, the decision built.

The traced variant of the same program emits the evaluation events that explanations, coverage and
decision logs read. Nothing here reads a policy file: that is ``compile``.
"""
