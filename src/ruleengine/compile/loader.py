"""Loading a policy: read every file, check everything, compile once, all or nothing.

The stages, in order: reading (files → documents), declarations (manifest, parameters,
sources, definitions), rule building (rules), then the Policy.

Every problem in every file is collected and reported together, sorted by
location; a policy with any error is never returned, so a caller (or a
running service) either gets a complete new policy or keeps its old one.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from ..allocation import collections_paused
from ..errors import PolicyError
from ..lang.codegen import runtime_globals
from ..lang.functions import make_calendar
from ..lang.ir import Environment
from ..limits import DEFAULT_LIMITS, Limits
from ..runtime.conversion import build_converter
from ..runtime.policy import Policy
from .compilation import Compilation, without_cascades
from .declarations import compile_definitions, fact_types, find_policy_citations, read_manifest, read_parameters, read_sources
from .policyfolder import choose
from .policyfolder import display_path as _display
from .reading import policy_digest, read_files
from .rule_building import build_rules
from .tables import table_rules


def load(c: Compilation) -> Policy:
    with collections_paused():
        return _load(c)


def _load(c: Compilation) -> Policy:
    files = read_files(c)
    manifest = read_manifest(c)
    facts_type, decision_type = fact_types(c.enums)
    params = read_parameters(c)
    c.word_values = {name: (p.value, p.declaration.kind) for name, p in params.items()}
    env = Environment(facts_type, decision_type, {n: (p.type, p.value) for n, p in params.items()}, limits=c.limits)
    env.broken |= c.broken_names
    zone = manifest.get("timezone", "Asia/Shanghai")
    globals_ = runtime_globals(make_calendar(zone))
    compile_definitions(c, env)
    stages = tuple(manifest.get("stages", ()))
    rules = build_rules(c, env, globals_, stages, table_rules)
    sources = read_sources(c)
    citations = find_policy_citations(c, sources)
    if c.diagnostics:
        raise PolicyError(without_cascades(c))
    digest = policy_digest(c, files)
    return Policy._build(
        name=str(manifest["name"]),
        version=str(manifest["version"]),
        digest=digest,
        timezone=zone,
        stages=stages,
        rules=tuple(sorted(rules, key=lambda r: r.sort_key)),
        parameters=params,
        definitions=env.definitions,
        root=c.root,
        files=tuple(_display(f) for f in files),
        environment=env,
        convert_facts=build_converter(facts_type),
        limits=c.limits,
        contents={f.relative_to(c.root).as_posix(): c.contents[f] for f in files},
        overrides=dict(c.overrides),
        sources=sources,
        citations=citations,
        vocabulary=c.vocabulary,
        enums=c.enums,
        loaded_at=dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        rebuild=with_parameters,
    )


def load_policy(
    path: str | os.PathLike[str] | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
    parameters: dict[str, Any] | None = None,
) -> Policy:
    """Load, check and compile a policy folder.

    Without ``path``: the folder named by ``RULEENGINE_RULES``, else ``./rules`` when
    it holds a policy manifest, else the bundled default policy (:mod:`ruleengine.compile.policyfolder`).
    ``parameters`` overrides parameter values by name (a what-if), without
    touching any file. Raises :class:`PolicyError` listing every problem.
    """
    root = choose(path).path
    return load(Compilation(root, limits, parameters or {}))


def with_parameters(policy: Policy, parameters: dict[str, Any]) -> Policy:
    """The same policy with some parameter values changed: rebuilt from the bytes it was loaded from.

    The files on disk are not read again, so a what-if always starts from the
    running policy, even while its folder is being edited.
    """
    return policy_from_contents(policy.contents, policy.root, limits=policy.limits, parameters=parameters)


def policy_from_contents(
    contents: dict[str, bytes], root: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS, parameters: dict[str, Any] | None = None
) -> Policy:
    """A policy built from the bytes of its files (``Policy.contents``: relative path → bytes), reading no folder.

    How a process that cannot see the folder gets the policy (a Dask worker on another machine);
    ``root`` only names the files in messages. The same bytes and overrides give the same digest.
    """
    return load(Compilation(Path(root), limits, dict(parameters or {}), sources=contents))
