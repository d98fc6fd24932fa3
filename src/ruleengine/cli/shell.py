"""The ``ruleengine`` command: validate a policy, evaluate orders (one, many, or a JSON-lines batch).

Exit codes: 0 ok; 1 a facts or evaluation error (or a failing case); 2 a policy or usage error.
Errors print as ``file:line:col: code: message`` (or JSON with ``--format json``),
never as a Python traceback. Every command finds its policy folder by the same
rule (:mod:`ruleengine.compile.policyfolder`) and says which one it used.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from ..compile.loader import load_policy
from ..compile.policyfolder import ENVIRONMENT_VARIABLE, PolicyFolder, choose, describe, where
from ..errors import FactsError, PolicyError, RuleEngineError
from ..limits import DEFAULT_LIMITS, Limits
from ..runtime.decision import dumps
from ..runtime.policy import Policy

OK, FACTS_ERROR, POLICY_ERROR = 0, 1, 2

_F = TypeVar("_F", bound=Callable[..., Any])

SCHEDULER_HELP = (
    "Run on a Dask cluster: its scheduler's address (tcp://host:8786). The workers need ruleengine installed, "
    "not the policy: its files' bytes are sent to them. Needs: pip install 'ruleengine[dask]'."
)
RULES_HELP = (
    f"Policy folder. Default: ${ENVIRONMENT_VARIABLE}, else ./rules when it holds a policy manifest, else the bundled default policy."
)


def rules_option(help_text: str = RULES_HELP) -> Callable[[_F], _F]:
    """The same ``--rules DIR`` for every command."""
    option: Callable[[_F], _F] = click.option("--rules", "rules", type=click.Path(file_okay=False), help=help_text)
    return option


def choose_folder(rules: str | None, alias: str | None = None) -> PolicyFolder:
    """The policy folder by the one rule; ``alias`` is a positional folder kept for the commands that had one."""
    if rules is not None and alias is not None and Path(rules) != Path(alias):
        usage_error(f"the policy folder is given twice ({alias} and --rules {rules}): give it once")
    return choose(rules if rules is not None else alias)


def load_or_exit(folder: PolicyFolder, fmt: str, *, announce: bool = True) -> Policy:
    """Load the chosen policy or exit 2 with its errors; ``announce``: say on standard error which policy it is."""
    try:
        policy = load_policy(folder.path, limits=current_limits())
    except PolicyError as exc:
        report_policy_error(exc, fmt, folder)
        sys.exit(POLICY_ERROR)
    if announce:
        click.echo(describe(folder, policy), err=True)
    return policy


def report_policy_error(exc: PolicyError, fmt: str, folder: PolicyFolder | None = None) -> None:
    if fmt == "json":
        data = exc.to_dict()
        if folder is not None:
            data["policy"] = folder.to_dict()
        click.echo(dumps(data, 2))
    else:
        for d in exc.diagnostics:
            click.echo(str(d), err=True)
        n = sum(1 for d in exc.diagnostics if d.severity == "error")
        shown = f": {where(folder)}" if folder is not None else ""
        click.echo(f"{n} error{'s' if n != 1 else ''}: the policy was not loaded{shown}", err=True)


def report_error(exc: RuleEngineError, source: str, fmt: str) -> None:
    if fmt == "json":
        data = exc.to_dict()
        if source and "source" not in data:
            data["source"] = source
        click.echo(dumps(data, 2))
        return
    if isinstance(exc, FactsError):
        for p in exc.problems:
            where = f"{source}:{p.line}:{p.column}" if p.line is not None else f"{source}#{p.pointer or '/'}"
            click.echo(f"{where}: {p.code}: {p.message}", err=True)
    else:
        click.echo(f"{source}: {exc}", err=True)


def io_error(source: str, action: str, exc: OSError, fmt: str) -> None:
    """A file that cannot be read or written: ``source: cannot read: reason``, or the same as JSON."""
    message = f"cannot {action}: {exc.strerror or exc}"
    if fmt == "json":
        click.echo(dumps({"error": "io", "source": source, "message": message}, 2))
    else:
        click.echo(f"{source}: {message}", err=True)


def _parse_limits(values: tuple[str, ...]) -> Limits:
    changes: dict[str, Any] = {}
    known = {f.name: f.type for f in dataclasses.fields(Limits)}
    for item in values:
        name, _, raw = item.partition("=")
        name = name.strip().replace("-", "_")
        if name not in known or not raw:
            usage_error(f"--limit takes NAME=VALUE with NAME one of: {', '.join(known)}")
        try:
            value: int | float = float(raw) if known[name] in (float, "float") else int(raw)
        except ValueError:
            usage_error(f"--limit {name}: '{raw}' is not a number")
        if value <= 0:
            usage_error(f"--limit {name} must be positive")
        changes[name] = value
    return dataclasses.replace(DEFAULT_LIMITS, **changes)


def current_limits() -> Limits:
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(Limits) if ctx is not None else None
    return found if found is not None else DEFAULT_LIMITS


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ruleengine")
@click.option(
    "--limit",
    "limit_values",
    multiple=True,
    metavar="NAME=VALUE",
    help="Change a limit on input size, nesting or evaluation (see README: Limits), e.g. --limit max_file_bytes=2097152.",
)
@click.pass_context
def main(ctx: click.Context, limit_values: tuple[str, ...]) -> None:
    """Declarative guarantee policies: validate rules, evaluate orders."""
    ctx.obj = _parse_limits(limit_values)


def entry() -> None:
    """The console script: bad input never shows a traceback; a bug says so, briefly.

    Usage errors click finds before a command runs are JSON too when the command line asks for ``--format json``.
    """
    args = sys.argv[1:]
    try:
        code = main.main(args, prog_name="ruleengine", standalone_mode=False)
    except click.ClickException as exc:
        if _asks_for_json(args):
            click.echo(dumps({"error": "usage", "message": exc.format_message()}, 2))
        else:
            exc.show()
        sys.exit(POLICY_ERROR if isinstance(exc, click.UsageError) else exc.exit_code)
    except click.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(FACTS_ERROR)
    except SystemExit:
        raise
    except Exception as exc:
        click.echo(f"ruleengine: internal error: {type(exc).__name__}: {str(exc)[:200]}", err=True)
        click.echo("This is a bug in ruleengine, not in your input; please report it (SECURITY.md).", err=True)
        sys.exit(3)
    sys.exit(code if isinstance(code, int) else OK)


def _asks_for_json(args: list[str]) -> bool:
    return "--format=json" in args or any(pair == ("--format", "json") for pair in itertools.pairwise(args))


def usage_error(message: str) -> NoReturn:
    """A usage error (exit 2): as JSON when the command was asked for ``--format json``."""
    ctx = click.get_current_context(silent=True)
    fmt = ctx.params.get("fmt") if ctx is not None else None
    if fmt == "json" or (fmt is None and _asks_for_json(sys.argv[1:])):
        click.echo(dumps({"error": "usage", "message": message}, 2))
    else:
        click.echo(f"usage error: {message}", err=True)
    sys.exit(POLICY_ERROR)
