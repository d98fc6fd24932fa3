"""Commands that decide orders: evaluate (one, many, a JSON-lines batch, on a Dask cluster), explain, diff."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from ..authoring.explanation import decision_text
from ..compile.policyfolder import PolicyFolder
from ..errors import EvaluationError, FactsError, PolicyError
from ..runtime.decision import dumps
from ..runtime.facts import read_facts
from ..runtime.policy import Policy
from .shell import (
    FACTS_ERROR,
    OK,
    POLICY_ERROR,
    RULES_HELP,
    SCHEDULER_HELP,
    choose_folder,
    current_limits,
    io_error,
    load_or_exit,
    main,
    report_error,
    report_policy_error,
    rules_option,
    usage_error,
)


@main.command()
@click.argument("orders", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True))
@rules_option()
@click.option("--explain", is_flag=True, help="Add the trace: every rule, matched or not, and why.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default=None,
    help="text: a summary for policy staff; json: the decision document. Default: json for --batch, else text.",
)
@click.option("--batch", type=click.Path(dir_okay=False, allow_dash=True), help="A JSON-lines file of orders: one decision per line.")
@click.option("--jobs", type=click.IntRange(1, 256), default=1, show_default=True, help="Worker processes for --batch.")
@click.option("--scheduler", metavar="ADDRESS", help=SCHEDULER_HELP)
@click.option("--progress/--no-progress", default=None, help="Show a counter on standard error (default: when it is a terminal).")
def evaluate(
    orders: tuple[str, ...],
    rules: str | None,
    explain: bool,
    fmt: str | None,
    batch: str | None,
    jobs: int,
    scheduler: str | None,
    progress: bool | None,
) -> None:
    """Decide orders (JSON or YAML files, '-' for standard input)."""
    fmt = fmt or ("json" if batch else "text")
    if batch is None and not orders:
        usage_error("give an order file, '-' for standard input, or --batch FILE.jsonl")
    if batch is not None and orders:
        usage_error("give either order files or --batch, not both")
    if scheduler is not None and (batch is None or jobs > 1):
        usage_error("--scheduler goes with --batch, instead of --jobs: the cluster's workers decide the orders")
    chosen = choose_folder(rules)
    policy = load_or_exit(chosen, fmt, announce=fmt == "text")  # a decision names its policy; it must not name the folder
    if batch is not None:
        show = sys.stderr.isatty() if progress is None else progress
        with _cluster(scheduler, fmt) as client:
            sys.exit(_batch(policy, chosen, batch, explain, jobs, show, fmt, client))
    status = OK
    for index, name in enumerate(orders):
        source = "<stdin>" if name == "-" else name
        try:
            data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
            decision = policy.evaluate(read_facts(data, source, policy), explain=explain)
            decision.data  # noqa: B018 - read inside the try: a reason's text is written when the decision is first read
        except OSError as exc:
            io_error(source, "read", exc, fmt)
            status = FACTS_ERROR
            continue
        except (FactsError, EvaluationError) as exc:
            report_error(exc, source, fmt)
            status = FACTS_ERROR
            continue
        if fmt == "json":
            click.echo(decision.to_json(indent=2))
        else:
            if index:
                click.echo("\n" + "─" * 60)
            click.echo(decision_text(decision.to_dict(), policy))
    sys.exit(status)


@main.command()
@click.argument("order", type=click.Path(dir_okay=False, allow_dash=True))
@rules_option()
@click.option("--all", "show_all", is_flag=True, help="Also show rules that did not apply to this kind of order, and skipped ones.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def explain(order: str, rules: str | None, show_all: bool, fmt: str) -> None:
    """Why an order got its decision: for each guarantee, what applied and the condition that decided."""
    from ..authoring.explanation import explanation_text

    policy = load_or_exit(choose_folder(rules), fmt, announce=fmt == "text")
    source = "<stdin>" if order == "-" else order
    try:
        data = sys.stdin.buffer.read() if order == "-" else Path(order).read_bytes()
        decision = policy.evaluate(read_facts(data, source, policy), explain=True).to_dict()
    except OSError as exc:
        io_error(source, "read", exc, fmt)
        sys.exit(FACTS_ERROR)
    except (FactsError, EvaluationError) as exc:
        report_error(exc, source, fmt)
        sys.exit(FACTS_ERROR)
    if fmt == "json":
        click.echo(dumps(decision, 2))
        return
    trace = decision.pop("trace")
    click.echo(decision_text(decision, policy))
    click.echo("")
    click.echo(explanation_text(trace, policy, show_all))


@main.command()
@click.argument("orders", type=click.Path(exists=True))
@click.option(
    "--base", required=True, help="The policy to compare against: a git revision (e.g. HEAD) of the policy folder, or another folder."
)
@rules_option(f"The changed policy folder. {RULES_HELP.split('. ', 1)[1]}")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--scheduler", metavar="ADDRESS", help=SCHEDULER_HELP)
@click.option(
    "--changes",
    "changes_file",
    type=click.Path(dir_okay=False),
    help="Also write every changed order's changes to this file, one JSON line per order, as they come.",
)
def diff(orders: str, base: str, rules: str | None, fmt: str, scheduler: str | None, changes_file: str | None) -> None:
    """Impact of a policy change: decide ORDERS (JSON lines, or a folder of .json) with both policies and compare.

    The text report sums the changes by guarantee and field; --format json lists the different changes with
    example orders (up to 256 per field); --changes FILE has every changed order. Memory stays flat however
    many orders there are.
    """
    from ..authoring.impact import UnknownBase, base_policy, compare, compare_on_cluster, read_documents, read_orders

    chosen = choose_folder(rules)
    new = load_or_exit(chosen, fmt, announce=fmt == "text")
    try:
        old, base_name = base_policy(base, chosen.path)
    except UnknownBase as exc:
        usage_error(str(exc))
    except PolicyError as exc:
        report_policy_error(exc, fmt)
        sys.exit(POLICY_ERROR)
    with contextlib.ExitStack() as stack:
        detail = None
        if changes_file is not None:
            try:
                handle = stack.enter_context(open(changes_file, "w", encoding="utf-8"))
            except OSError as exc:
                io_error(changes_file, "write", exc, fmt)
                sys.exit(POLICY_ERROR)
            detail = lambda line: handle.write(line + "\n")  # noqa: E731
        client = stack.enter_context(_cluster(scheduler, fmt))
        new_name = chosen.to_dict()["folder"]
        if client is None:
            impact = compare(old, new, read_orders(Path(orders)), base_name, new_name, detail=detail)
        else:
            impact = compare_on_cluster(client, old, new, read_documents(Path(orders)), base_name, new_name, detail=detail)
    if fmt == "json":
        click.echo(dumps({**impact.to_dict(), "policy": chosen.to_dict(new)}, 2))
    else:
        click.echo(impact.text())


@contextlib.contextmanager
def _cluster(address: str | None, fmt: str) -> Iterator[Any]:
    """A Dask client for ``--scheduler ADDRESS`` while the command runs (None without one); exit 2 when there is none to be had."""
    if address is None:
        yield None
        return
    try:
        from ..scale.distributed import connect
    except ImportError as exc:
        usage_error(f"--scheduler needs the Dask extra: pip install 'ruleengine[dask]' ({exc})")
    try:
        client = connect(address)
    except ImportError as exc:
        usage_error(f"--scheduler needs the Dask extra: pip install 'ruleengine[dask]' ({exc})")
    except OSError as exc:
        io_error(address, "use the Dask scheduler", exc, fmt)
        sys.exit(POLICY_ERROR)
    try:
        yield client
    finally:
        client.close()


def _batch(policy: Policy, folder: PolicyFolder, path: str, explain: bool, jobs: int, progress: bool, fmt: str, client: Any = None) -> int:
    """Stream a JSON-lines file: one decision or one error object per input line, in order."""
    from ..scale.batch import run

    source = "<stdin>" if path == "-" else path
    try:
        stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        io_error(source, "read", exc, fmt)
        return FACTS_ERROR
    with stream:
        result = run(
            stream,
            sys.stdout,
            sys.stderr,
            rules=str(folder.path),
            limits=current_limits(),
            source=source,
            jobs=jobs,
            explain=explain,
            progress=progress,
            policy=policy,
            client=client,
        )
    return FACTS_ERROR if result.refused else OK
