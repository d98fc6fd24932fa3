"""The ``ruleengine`` command: validate a policy, evaluate orders (one, many, or a JSON-lines batch).

Exit codes: 0 ok; 1 a facts or evaluation error (or a failing case); 2 a policy or usage error.
Errors print as ``file:line:col: code: message`` (or JSON with ``--format json``),
never as a Python traceback. Every command finds its policy folder by the same
rule (:mod:`ruleengine.compile.policyfolder`) and says which one it used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from .authoring.explanation import decision_text
from .compile.loader import load_policy
from .compile.policyfolder import ENVIRONMENT_VARIABLE, PolicyFolder, choose, describe, where
from .errors import EvaluationError, FactsError, PolicyError, RuleEngineError
from .limits import DEFAULT_LIMITS, Limits
from .runtime.decision import dumps
from .runtime.facts import read_facts
from .runtime.policy import Policy

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


def _choose(rules: str | None, alias: str | None = None) -> PolicyFolder:
    """The policy folder by the one rule; ``alias`` is a positional folder kept for the commands that had one."""
    if rules is not None and alias is not None and Path(rules) != Path(alias):
        _usage(f"the policy folder is given twice ({alias} and --rules {rules}): give it once")
    return choose(rules if rules is not None else alias)


def _load(folder: PolicyFolder, fmt: str, *, announce: bool = True) -> Policy:
    """Load the chosen policy or exit 2 with its errors; ``announce``: say on standard error which policy it is."""
    try:
        policy = load_policy(folder.path, limits=_limits())
    except PolicyError as exc:
        _report_policy_error(exc, fmt, folder)
        sys.exit(POLICY_ERROR)
    if announce:
        click.echo(describe(folder, policy), err=True)
    return policy


def _report_policy_error(exc: PolicyError, fmt: str, folder: PolicyFolder | None = None) -> None:
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


def _report_error(exc: RuleEngineError, source: str, fmt: str) -> None:
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


def _io_error(source: str, action: str, exc: OSError, fmt: str) -> None:
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
            _usage(f"--limit takes NAME=VALUE with NAME one of: {', '.join(known)}")
        try:
            value: int | float = float(raw) if known[name] in (float, "float") else int(raw)
        except ValueError:
            _usage(f"--limit {name}: '{raw}' is not a number")
        if value <= 0:
            _usage(f"--limit {name} must be positive")
        changes[name] = value
    return dataclasses.replace(DEFAULT_LIMITS, **changes)


def _limits() -> Limits:
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


@main.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False))
@rules_option()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def validate(folder: str | None, rules: str | None, fmt: str) -> None:
    """Check a policy folder and report every error (FOLDER: the same as --rules)."""
    chosen = _choose(rules, folder)
    policy = _load(chosen, fmt, announce=fmt == "text")
    if fmt == "json":
        click.echo(dumps({"ok": True, "policy": chosen.to_dict(policy), "rules": len(policy.rule_ids()), "files": list(policy.files)}, 2))
    else:
        click.echo(f"ok: {policy.name} {policy.version}: {len(policy.rule_ids())} rules in {len(policy.files)} files ({policy.digest})")


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
        _usage("give an order file, '-' for standard input, or --batch FILE.jsonl")
    if batch is not None and orders:
        _usage("give either order files or --batch, not both")
    if scheduler is not None and (batch is None or jobs > 1):
        _usage("--scheduler goes with --batch, instead of --jobs: the cluster's workers decide the orders")
    chosen = _choose(rules)
    policy = _load(chosen, fmt, announce=fmt == "text")  # a decision names its policy; it must not name the folder
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
        except OSError as exc:
            _io_error(source, "read", exc, fmt)
            status = FACTS_ERROR
            continue
        except (FactsError, EvaluationError) as exc:
            _report_error(exc, source, fmt)
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
    from .authoring.impact import UnknownBase, base_policy, compare, compare_on_cluster, read_documents, read_orders

    chosen = _choose(rules)
    new = _load(chosen, fmt, announce=fmt == "text")
    try:
        old, base_name = base_policy(base, chosen.path)
    except UnknownBase as exc:
        _usage(str(exc))
    except PolicyError as exc:
        _report_policy_error(exc, fmt)
        sys.exit(POLICY_ERROR)
    with contextlib.ExitStack() as stack:
        detail = None
        if changes_file is not None:
            try:
                handle = stack.enter_context(open(changes_file, "w", encoding="utf-8"))
            except OSError as exc:
                _io_error(changes_file, "write", exc, fmt)
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


@main.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False))
@rules_option()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--fail-on",
    type=click.Choice(["warning", "error"]),
    default="error",
    show_default=True,
    help="warning: exit 1 when there are warnings (for CI); errors always exit 2.",
)
def lint(folder: str | None, rules: str | None, fmt: str, fail_on: str) -> None:
    """Check a policy: every load error, plus warnings (unused names, rules that never match, likely conflicts)."""
    from .authoring.lint import lint as run_lint

    chosen = _choose(rules, folder)
    policy = _load(chosen, fmt, announce=fmt == "text")
    findings = run_lint(policy)
    failing = fail_on == "warning" and bool(findings)
    if fmt == "json":
        report = {"errors": 0, "warnings": len(findings), "failed": failing, "policy": chosen.to_dict(policy)}
        click.echo(dumps({**report, "diagnostics": [d.to_dict() for d in findings]}, 2))
    else:
        for d in findings:
            click.echo(str(d))
        verdict = " (--fail-on warning: failed)" if failing else ""
        click.echo(f"0 errors, {len(findings)} warning{'s' if len(findings) != 1 else ''}{verdict}")
    sys.exit(FACTS_ERROR if failing else OK)


@main.command()
@click.argument("order", type=click.Path(dir_okay=False, allow_dash=True))
@rules_option()
@click.option("--all", "show_all", is_flag=True, help="Also show rules that did not apply to this kind of order, and skipped ones.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def explain(order: str, rules: str | None, show_all: bool, fmt: str) -> None:
    """Why an order got its decision: for each guarantee, what applied and the condition that decided."""
    from .authoring.explanation import explanation_text

    policy = _load(_choose(rules), fmt, announce=fmt == "text")
    source = "<stdin>" if order == "-" else order
    try:
        data = sys.stdin.buffer.read() if order == "-" else Path(order).read_bytes()
        decision = policy.evaluate(read_facts(data, source, policy), explain=True).to_dict()
    except OSError as exc:
        _io_error(source, "read", exc, fmt)
        sys.exit(FACTS_ERROR)
    except (FactsError, EvaluationError) as exc:
        _report_error(exc, source, fmt)
        sys.exit(FACTS_ERROR)
    if fmt == "json":
        click.echo(dumps(decision, 2))
        return
    trace = decision.pop("trace")
    click.echo(decision_text(decision, policy))
    click.echo("")
    click.echo(explanation_text(trace, policy, show_all))


@main.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@rules_option(
    "Policy folder for every case. Default: for case files in a policy's cases/ folder, that policy; "
    f"else ${ENVIRONMENT_VARIABLE}, else ./rules when it holds a policy manifest, else the bundled default policy."
)
@click.option("--coverage", "with_coverage", is_flag=True, help="Report rule, condition-branch and parameter coverage.")
@click.option("--fail-under", type=click.FloatRange(0, 100), help="Fail when rule coverage is below this percentage.")
@click.option("--format", "fmt", type=click.Choice(["text", "junit", "json"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the junit/json report to this file.")
def test_command(
    paths: tuple[str, ...], rules: str | None, with_coverage: bool, fail_under: float | None, fmt: str, output: str | None
) -> None:
    """Run regression cases (PATHS: case files or folders; default: the cases/ folder of the chosen policy).

    Every case file is checked and every policy loaded before any case runs: a problem there
    is reported at file:line:col, each once, and nothing runs (exit 2).
    """
    import time

    from .authoring.case_reports import junit_xml, run_json, run_text
    from .authoring.cases import PolicyCache, policy_error_text, policy_folder_for, problems_text, run_files
    from .authoring.coverage import Coverage

    # Case files given without --rules run against the policy they live in; otherwise the one rule chooses.
    chosen = _choose(rules) if rules is not None or not paths else None
    targets = [Path(p) for p in paths]
    if not targets:
        assert chosen is not None
        targets = [chosen.path / "cases"]
    missing = [str(t) for t in targets if not t.exists()]
    if missing:
        _usage(f"no case files at {', '.join(missing)}")
    cache = PolicyCache()
    coverage: Coverage | None = None
    if with_coverage or fail_under is not None:
        folder = chosen or policy_folder_for(targets[0] if targets[0].is_file() else targets[0] / "x.yaml")
        with contextlib.suppress(PolicyError):  # reported below, with the run's other problems
            coverage = Coverage(cache.policy(folder))
    started = time.monotonic()
    run = run_files(targets, chosen, coverage, cache)
    elapsed = time.monotonic() - started
    if not run.ran:
        if fmt == "json":
            diagnostics = [d for _, exc in run.policy_errors for d in exc.diagnostics] + run.problems
            data = {
                "error": "policy" if run.policy_errors else "cases",
                "diagnostics": [d.to_dict() for d in diagnostics],
                "policies": [folder.to_dict() for folder, _ in run.policy_errors],
            }
            click.echo(dumps(data, 2))
        else:
            for folder, exc in run.policy_errors:
                click.echo(policy_error_text(folder, exc), err=True)
            if run.problems:
                click.echo(problems_text(run.problems), err=True)
        sys.exit(POLICY_ERROR)
    if fmt != "json":
        for folder, policy in run.policies:
            click.echo(describe(folder, policy), err=True)
    report = coverage.report() if coverage is not None else None
    if fmt == "junit":
        text = junit_xml(run, elapsed)
    elif fmt == "json":
        text = run_json(run, report)
    else:
        text = run_text(run, elapsed, report)
    if output and fmt != "text":
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            _io_error(output, "write", exc, "text")
            sys.exit(POLICY_ERROR)
        click.echo(f"{run.passed} passed, {run.failed} failed")
    else:
        click.echo(text)
    failed = run.failed > 0 or not run.results
    if report is not None and fail_under is not None and report.rule_percent < fail_under:
        click.echo(f"rule coverage {report.rule_percent:.1f}% is below --fail-under {fail_under}", err=True)
        failed = True
    sys.exit(FACTS_ERROR if failed else OK)


@main.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False))
@rules_option()
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file (default: standard output).")
def catalogue(folder: str | None, rules: str | None, output: str | None) -> None:
    """Write the policy catalogue (Markdown) for policy staff: guarantees, rules in plain words, parameters."""
    from .authoring.catalogue import markdown

    text = markdown(_load(_choose(rules, folder), "text"))
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        _io_error(output, "write", exc, "text")
        sys.exit(POLICY_ERROR)


@main.command()
@rules_option(f"Policy folder, watched for changes. {RULES_HELP.split('. ', 1)[1]}")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes, each with the policy loaded.")
@click.option("--decision-log", type=click.Path(dir_okay=False), help="One JSON line per decision (rotated by size).")
@click.option("--log-facts", is_flag=True, help="Also log the facts, with buyer ids masked (default: only their hash).")
@click.option("--log-max-bytes", type=click.IntRange(1024), default=64 << 20, show_default=True, help="Rotate the log at this size.")
@click.option(
    "--log-backups", type=click.IntRange(0, 1000), default=5, show_default=True, help="Rotated decision logs kept (0: no rotation by size)."
)
@click.option("--log-fsync", is_flag=True, help="fdatasync each group of records before answering (survives a power cut too).")
@click.option(
    "--log-fail-open",
    is_flag=True,
    help="When the decision log cannot be written, answer decisions anyway (counted as unrecorded) instead of 503.",
)
@click.option("--watch/--no-watch", default=True, show_default=True, help="Reload when a policy file changes (SIGHUP always reloads).")
@click.option(
    "--reload-quiet-ms",
    type=click.IntRange(0, 60_000),
    default=500,
    show_default=True,
    help="A reload waits until no policy file changed for this long (a save in progress is not read half-way).",
)
@click.option(
    "--serve-failing-cases",
    is_flag=True,
    help="Emergency: serve a policy even though some of its own regression cases fail (reported in /v1/policy, the log, the metrics).",
)
@click.option("--max-body-bytes", type=click.IntRange(1024), default=1 << 20, show_default=True, help="Larger requests get 413.")
@click.option("--max-batch", type=click.IntRange(1), default=1000, show_default=True, help="Orders per batch request.")
@click.option("--max-batch-bytes", type=click.IntRange(1024), default=16 << 20, show_default=True, help="Larger batch requests get 413.")
@click.option("--request-timeout", type=click.FloatRange(0.01), default=10.0, show_default=True, help="Seconds one request may take.")
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Threads per worker that parse, evaluate, explain and serialise (the event loop only does I/O); use --workers for more cores.",
)
@click.option(
    "--max-explain-bytes",
    type=click.IntRange(1024),
    default=8 << 20,
    show_default=True,
    help="An explained answer larger than this gets 422 explain_too_large.",
)
@click.option(
    "--grace-period",
    type=click.FloatRange(0, 3600),
    default=1.0,
    show_default=True,
    help="Seconds after SIGTERM during which /readyz answers 503 and requests are still served (closing their connections).",
)
@click.option(
    "--drain-timeout",
    type=click.FloatRange(0, 3600),
    default=30.0,
    show_default=True,
    help="Seconds the requests in flight may take to finish once the listener is closed.",
)
@click.option(
    "--worker-start-timeout",
    type=click.IntRange(1, 3600),
    default=30,
    show_default=True,
    help="With --workers: seconds a new worker may take to become ready on SIGHUP before the restart is given up.",
)
@click.option(
    "--header-timeout",
    type=click.FloatRange(0.1, 3600),
    default=10.0,
    show_default=True,
    help="Seconds a request's line and headers may take to arrive; slower clients get 408 and are disconnected.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="Open connections (and requests in progress) per worker; a request past it gets 503 at once.",
)
@click.option("--access-log/--no-access-log", default=False, show_default=True)
@click.option(
    "--allow-origin",
    "allow_origins",
    multiple=True,
    metavar="ORIGIN",
    help="A web origin (https://tools.example) whose pages may call the API; repeatable. Other cross-site requests get 403.",
)
@click.option(
    "--auth-token-file",
    type=click.Path(dir_okay=False, exists=True),
    help="Require bearer tokens: a YAML file of token names, SHA-256 digests and scopes (decide, read, admin).",
)
@click.option("--ssl-certfile", type=click.Path(dir_okay=False, exists=True), help="Serve HTTPS with this certificate (PEM).")
@click.option("--ssl-keyfile", type=click.Path(dir_okay=False, exists=True), help="The certificate's private key (PEM).")
def serve(
    rules: str | None,
    host: str,
    port: int,
    workers: int,
    decision_log: str | None,
    log_facts: bool,
    log_max_bytes: int,
    log_backups: int,
    log_fsync: bool,
    log_fail_open: bool,
    watch: bool,
    reload_quiet_ms: int,
    serve_failing_cases: bool,
    max_body_bytes: int,
    max_batch: int,
    max_batch_bytes: int,
    request_timeout: float,
    threads: int,
    max_explain_bytes: int,
    grace_period: float,
    drain_timeout: float,
    worker_start_timeout: int,
    header_timeout: float,
    max_connections: int,
    access_log: bool,
    allow_origins: tuple[str, ...],
    auth_token_file: str | None,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
) -> None:
    """Run the HTTP decision service (needs: pip install 'ruleengine[server]').

    POST /v1/decisions with an order, GET /v1/policy, /metrics, /openapi.json;
    the playground page is at /. A policy edit goes live once the folder is
    quiet, loads and passes its own cases; otherwise it is reported and the
    last good policy keeps serving. With --decision-log, a decision is
    answered only after its record is written.
    """
    try:
        from .service import ConfigError, ServerConfig
        from .service import serve as run_server
        from .service.decisionlog import DecisionLogError
    except ImportError as exc:
        _usage(f"the service needs its extra: pip install 'ruleengine[server]' ({exc})")
    chosen = _choose(rules)
    _load(chosen, "text")  # says which policy it serves; a policy that does not load exits here with its errors
    try:
        config = ServerConfig(
            rules=chosen.path,
            host=host,
            port=port,
            workers=workers,
            decision_log=Path(decision_log) if decision_log else None,
            log_facts=log_facts,
            log_max_bytes=log_max_bytes,
            log_backups=log_backups,
            log_fsync=log_fsync,
            log_fail_open=log_fail_open,
            watch=watch,
            reload_quiet_seconds=reload_quiet_ms / 1000,
            serve_failing_cases=serve_failing_cases,
            max_body_bytes=max_body_bytes,
            max_batch_items=max_batch,
            max_batch_bytes=max_batch_bytes,
            request_seconds=request_timeout,
            threads=threads,
            max_explain_bytes=max_explain_bytes,
            grace_seconds=grace_period,
            drain_seconds=drain_timeout,
            worker_start_seconds=worker_start_timeout,
            header_seconds=header_timeout,
            max_connections=max_connections,
            limits=_limits(),
            access_log=access_log,
            allow_origins=allow_origins,
            auth_token_file=Path(auth_token_file) if auth_token_file else None,
            ssl_certfile=Path(ssl_certfile) if ssl_certfile else None,
            ssl_keyfile=Path(ssl_keyfile) if ssl_keyfile else None,
        )
        run_server(config)
    except PolicyError as exc:
        _report_policy_error(exc, "text")
        sys.exit(POLICY_ERROR)
    except ConfigError as exc:
        _usage(str(exc))
    except DecisionLogError as exc:
        click.echo(f"ruleengine serve: {exc}", err=True)
        sys.exit(POLICY_ERROR)


@main.command()
@rules_option(f"The policy folder to publish. {RULES_HELP.split('. ', 1)[1]}")
@click.option(
    "--releases",
    required=True,
    type=click.Path(file_okay=False),
    help="The releases folder; its link 'current' names the live release (serve with --rules RELEASES/current).",
)
@click.option("--keep", type=click.IntRange(1, 1000), default=5, show_default=True, help="Releases kept (older ones are deleted).")
@click.option("--rollback", is_flag=True, help="Make the release before the current one current again (checked first); --rules is ignored.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def publish(rules: str | None, releases: str, keep: int, rollback: bool, fmt: str) -> None:
    """Check a policy (it loads, its own cases pass) and make it live atomically for a service that follows RELEASES/current."""
    from .authoring import publish as releasing

    chosen = _choose(rules)
    try:
        if rollback:
            done = releasing.rollback(Path(releases), limits=_limits())
        else:
            done = releasing.publish(chosen.path, Path(releases), keep=keep, limits=_limits())
    except PolicyError as exc:
        _report_policy_error(exc, fmt, None if rollback else chosen)
        click.echo("nothing was published; the current release is unchanged", err=True)
        sys.exit(POLICY_ERROR)
    except releasing.PublishError as exc:
        if fmt == "json":
            click.echo(dumps(exc.to_dict(), 2))
        click.echo(f"ruleengine publish: {exc}", err=True)
        sys.exit(POLICY_ERROR)
    if fmt == "json":
        click.echo(dumps(done.to_dict(), 2))
        return
    verb = "rolled back to" if rollback else "published"
    click.echo(
        f"{verb} {done.release}: {done.name} {done.version} ({done.digest}), {done.cases.passed} cases passed; "
        f"{Path(releases) / releasing.CURRENT} → {done.release}" + (f" (was {done.previous})" if done.previous else "")
    )
    if done.removed:
        click.echo(f"removed old releases: {', '.join(done.removed)}")


@contextlib.contextmanager
def _cluster(address: str | None, fmt: str) -> Iterator[Any]:
    """A Dask client for ``--scheduler ADDRESS`` while the command runs (None without one); exit 2 when there is none to be had."""
    if address is None:
        yield None
        return
    try:
        from .scale.distributed import connect
    except ImportError as exc:
        _usage(f"--scheduler needs the Dask extra: pip install 'ruleengine[dask]' ({exc})")
    try:
        client = connect(address)
    except ImportError as exc:
        _usage(f"--scheduler needs the Dask extra: pip install 'ruleengine[dask]' ({exc})")
    except OSError as exc:
        _io_error(address, "use the Dask scheduler", exc, fmt)
        sys.exit(POLICY_ERROR)
    try:
        yield client
    finally:
        client.close()


def _batch(policy: Policy, folder: PolicyFolder, path: str, explain: bool, jobs: int, progress: bool, fmt: str, client: Any = None) -> int:
    """Stream a JSON-lines file: one decision or one error object per input line, in order."""
    from .scale.batch import run

    source = "<stdin>" if path == "-" else path
    try:
        stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        _io_error(source, "read", exc, fmt)
        return FACTS_ERROR
    with stream:
        result = run(
            stream,
            sys.stdout,
            sys.stderr,
            rules=str(folder.path),
            limits=_limits(),
            source=source,
            jobs=jobs,
            explain=explain,
            progress=progress,
            policy=policy,
            client=client,
        )
    return FACTS_ERROR if result.refused else OK


def _usage(message: str) -> NoReturn:
    """A usage error (exit 2): as JSON when the command was asked for ``--format json``."""
    ctx = click.get_current_context(silent=True)
    fmt = ctx.params.get("fmt") if ctx is not None else None
    if fmt == "json" or (fmt is None and _asks_for_json(sys.argv[1:])):
        click.echo(dumps({"error": "usage", "message": message}, 2))
    else:
        click.echo(f"usage error: {message}", err=True)
    sys.exit(POLICY_ERROR)


if __name__ == "__main__":  # pragma: no cover
    entry()
