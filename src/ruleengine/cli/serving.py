"""Commands that run a policy in production: serve (the HTTP service), publish (a checked release)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import PolicyError
from ..runtime.decision import dumps
from .shell import (
    POLICY_ERROR,
    RULES_HELP,
    choose_folder,
    current_limits,
    load_or_exit,
    main,
    report_policy_error,
    rules_option,
    usage_error,
)


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
@click.option(
    "--editing",
    is_flag=True,
    help="Let admin tokens edit, check, publish and revert the policy's files from the playground (needs --auth-token-file "
    "with an admin token and --rules).",
)
@click.option(
    "--publish-log",
    type=click.Path(dir_okay=False),
    help="With --editing: where publishes and reverts are recorded (default: FOLDER.publish-log.jsonl beside the policy folder).",
)
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
    editing: bool,
    publish_log: str | None,
) -> None:
    """Run the HTTP decision service (needs: pip install 'ruleengine[server]').

    POST /v1/decisions with an order, GET /v1/policy, /metrics, /openapi.json;
    the playground page is at /. A policy edit goes live once the folder is
    quiet, loads and passes its own cases; otherwise it is reported and the
    last good policy keeps serving. With --decision-log, a decision is
    answered only after its record is written.
    """
    try:
        from ..service import ConfigError, ServerConfig
        from ..service import serve as run_server
        from ..service.decisionlog import DecisionLogError
    except ImportError as exc:
        usage_error(f"the service needs its extra: pip install 'ruleengine[server]' ({exc})")
    chosen = choose_folder(rules)
    load_or_exit(chosen, "text")  # says which policy it serves; a policy that does not load exits here with its errors
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
            limits=current_limits(),
            access_log=access_log,
            allow_origins=allow_origins,
            auth_token_file=Path(auth_token_file) if auth_token_file else None,
            ssl_certfile=Path(ssl_certfile) if ssl_certfile else None,
            ssl_keyfile=Path(ssl_keyfile) if ssl_keyfile else None,
            editing=editing,
            publish_log=Path(publish_log) if publish_log else None,
        )
        run_server(config)
    except PolicyError as exc:
        report_policy_error(exc, "text")
        sys.exit(POLICY_ERROR)
    except ConfigError as exc:
        usage_error(str(exc))
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
    from ..authoring import publish as releasing

    chosen = choose_folder(rules)
    try:
        if rollback:
            done = releasing.rollback(Path(releases), limits=current_limits())
        else:
            done = releasing.publish(chosen.path, Path(releases), keep=keep, limits=current_limits())
    except PolicyError as exc:
        report_policy_error(exc, fmt, None if rollback else chosen)
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
