"""From a policy folder (or the bytes of its files) to a checked, compiled Policy: all or nothing.

Stages: ``reading`` (files → documents), ``declarations`` (manifest, parameters, sources, definitions),
``rule_building`` (rules), run in order by ``loader``; every problem of every stage is collected in one
``Compilation`` and reported together.
"""
