"""Commands that check a policy and its cases: validate, lint, test, catalogue."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from ..compile.policyfolder import ENVIRONMENT_VARIABLE, describe
from ..errors import PolicyError
from ..runtime.decision import dumps
from .shell import (
    FACTS_ERROR,
    OK,
    POLICY_ERROR,
    choose_folder,
    io_error,
    load_or_exit,
    main,
    rules_option,
    usage_error,
)


@main.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False))
@rules_option()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def validate(folder: str | None, rules: str | None, fmt: str) -> None:
    """Check a policy folder and report every error (FOLDER: the same as --rules)."""
    chosen = choose_folder(rules, folder)
    policy = load_or_exit(chosen, fmt, announce=fmt == "text")
    if fmt == "json":
        click.echo(dumps({"ok": True, "policy": chosen.to_dict(policy), "rules": len(policy.rule_ids()), "files": list(policy.files)}, 2))
    else:
        click.echo(f"ok: {policy.name} {policy.version}: {len(policy.rule_ids())} rules in {len(policy.files)} files ({policy.digest})")


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
    from ..authoring.lint import lint as run_lint

    chosen = choose_folder(rules, folder)
    policy = load_or_exit(chosen, fmt, announce=fmt == "text")
    findings = run_lint(policy)
    notes = sum(1 for d in findings if d.severity == "info")  # e.g. a table's gap: said, never failing
    warnings = len(findings) - notes
    failing = fail_on == "warning" and warnings > 0
    if fmt == "json":
        report = {"errors": 0, "warnings": warnings, "notes": notes, "failed": failing, "policy": chosen.to_dict(policy)}
        click.echo(dumps({**report, "diagnostics": [d.to_dict() for d in findings]}, 2))
    else:
        for d in findings:
            click.echo(str(d))
        verdict = " (--fail-on warning: failed)" if failing else ""
        noted = f", {notes} note{'s' if notes != 1 else ''}" if notes else ""
        click.echo(f"0 errors, {warnings} warning{'s' if warnings != 1 else ''}{noted}{verdict}")
    sys.exit(FACTS_ERROR if failing else OK)


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

    from ..authoring.case_files import policy_folder_for
    from ..authoring.case_reports import junit_xml, run_json, run_text
    from ..authoring.cases import PolicyCache, policy_error_text, problems_text, run_files
    from ..authoring.coverage import Coverage

    # Case files given without --rules run against the policy they live in; otherwise the one rule chooses.
    chosen = choose_folder(rules) if rules is not None or not paths else None
    targets = [Path(p) for p in paths]
    if not targets:
        assert chosen is not None
        targets = [chosen.path / "cases"]
    missing = [str(t) for t in targets if not t.exists()]
    if missing:
        usage_error(f"no case files at {', '.join(missing)}")
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
            io_error(output, "write", exc, "text")
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
    from ..authoring.catalogue import markdown

    text = markdown(load_or_exit(choose_folder(rules, folder), "text"))
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        io_error(output, "write", exc, "text")
        sys.exit(POLICY_ERROR)
