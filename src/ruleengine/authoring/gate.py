"""The check a policy passes before it is served or published: it loads completely and its own cases pass.

Loading catches a policy that is malformed; the regression cases under the
folder (``cases/``, ``*.cases.yaml``) catch one that is well-formed but not
what its authors meant — a rule file cut short by a save still in progress,
a file deleted for a moment. The cases run against the policy just loaded
(the same bytes; a case with parameters against that policy with them
changed), never against the folder read again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..compile.loader import load_policy
from ..compile.policyfolder import CASE_FILES, PolicyFolder, policy_files
from ..errors import Diagnostic, PolicyError
from ..limits import DEFAULT_LIMITS, Limits
from ..runtime.policy import Policy
from .case_files import Case, load_cases
from .cases import CaseResult, PolicyCache, check_against_policy, run_case

__all__ = ["CaseFailure", "CasesFailed", "CasesSummary", "Checked", "case_files_of", "check_policy", "run_policy_cases"]


@dataclass(frozen=True)
class CaseFailure:
    """A case that did not pass (failed: another decision; error: it could not run), or a problem of a case file.

    A problem (status ``problem``) is what ``ruleengine test`` reports before it runs anything: a case
    file that does not read, or names a rule or a parameter the policy does not have; ``code`` is its own.
    """

    file: str
    line: int
    name: str
    status: str
    message: str
    column: int = 1
    code: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "name": self.name, "status": self.status, "message": self.message}

    def diagnostic(self) -> Diagnostic:
        if self.status == "problem":
            return Diagnostic(self.file, self.line, self.column, self.code, f"回归用例文件有误 case file problem: {self.message}")
        what = "回归用例未通过 regression case failed" if self.status == "failed" else "回归用例无法运行 regression case could not run"
        return Diagnostic(self.file, self.line, self.column, "case_" + self.status, f"{what}: {self.name}\n{self.message}".rstrip())


@dataclass(frozen=True)
class CasesSummary:
    files: int = 0
    passed: int = 0
    failures: tuple[CaseFailure, ...] = ()

    @property
    def failed(self) -> int:
        return len(self.failures)

    def to_dict(self) -> dict[str, Any]:
        return {"files": self.files, "passed": self.passed, "failed": self.failed, "failures": [f.to_dict() for f in self.failures]}


class CasesFailed(PolicyError):
    """The policy loads, but some of its own regression cases do not pass: it is not served or published."""

    def __init__(self, summary: CasesSummary) -> None:
        self.summary = summary
        super().__init__([f.diagnostic() for f in summary.failures])

    def _summary(self) -> str:
        s = self.summary
        if any(f.status == "problem" for f in s.failures):
            head = f"the regression case files have {s.failed} problem{'s' if s.failed != 1 else ''}, so no case ran (回归用例文件有误)"
        else:
            head = f"{s.failed} of {s.passed + s.failed} regression cases do not pass (回归用例未通过)"
        return head + ":\n" + "\n".join(str(d) for d in self.diagnostics)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "error": "cases", "message": str(self), "cases": self.summary.to_dict()}


@dataclass(frozen=True)
class Checked:
    policy: Policy
    cases: CasesSummary = field(default_factory=CasesSummary)


def case_files_of(folder: Path) -> list[Path]:
    """The regression case files of a policy folder: its YAML files that are not policy files."""
    policy = set(policy_files(folder))
    found = (p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file() and p not in policy)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def run_policy_cases(policy: Policy, folder: Path, *, each: list[CaseResult] | None = None) -> CasesSummary:
    """Run every case file of ``folder`` against ``policy``, as ``ruleengine test`` runs them.

    The case files are read and checked first (against ``policy``: the rules and
    parameters they name); any problem is a failure and then no case runs.
    ``each``, when given, receives every case's result, passed ones too (the editor lists them all).
    """
    files = case_files_of(folder)
    where = PolicyFolder(folder, CASE_FILES)
    cache = _Candidate(policy)
    problems: list[Diagnostic] = []
    cases: list[Case] = []
    for path in files:
        try:
            cases += load_cases(path)
        except PolicyError as exc:
            problems += exc.diagnostics
    problems += check_against_policy(cases, where, cache)
    if problems:
        failures = [CaseFailure(d.file, d.line, Path(d.file).name, "problem", d.message, d.column, d.code) for d in problems]
        return CasesSummary(len(files), 0, tuple(failures))
    passed = 0
    found: list[CaseFailure] = []
    for case in cases:
        result = run_case(case, cache.get(where, case.parameters))
        if each is not None:
            each.append(result)
        if result.passed:
            passed += 1
        else:
            found.append(_failure(result))
    return CasesSummary(len(files), passed, tuple(found))


class _Candidate(PolicyCache):
    """The cases' policy is the one just loaded (its what-if variants built from its bytes), never the folder read again."""

    def __init__(self, policy: Policy) -> None:
        super().__init__()
        self._candidate = policy

    def policy(self, folder: PolicyFolder) -> Policy:
        return self._candidate


def _failure(result: CaseResult) -> CaseFailure:
    case = result.case
    detail = "\n".join(result.report().splitlines()[1:])  # the report's first line repeats the status and the name
    return CaseFailure(case.file, case.line, case.name, result.status, detail.strip())


def check_policy(folder: Path | None, limits: Limits = DEFAULT_LIMITS, *, compile_all: bool = False) -> Checked:
    """Load ``folder`` (None: the bundled policy) and run its own cases. Raises PolicyError when it does not load.

    Failing cases are returned, not raised: the caller decides (the service
    refuses the policy unless told to serve it anyway; ``publish`` refuses it).
    A symbolic link (a release pointer) is followed once, here: the policy and
    its cases are read from the same release.
    """
    if folder is not None:
        folder = Path(os.path.realpath(folder))
    policy = load_policy(folder, limits=limits)
    if compile_all:
        policy.compile_all()
    return Checked(policy, run_policy_cases(policy, policy.root))
