"""pytest plugin: collect regression case files (``cases/*.yaml``) as test items, one per case.

Registered as a ``pytest11`` entry point, so plain ``pytest`` runs a policy's
cases wherever they are under its test paths. Problems are reported as
``ruleengine test`` reports them: a case file with problems is one failing item
listing each at ``file:line:col`` (its cases do not run); a policy that does not
load is one failing item listing each error once (none of its cases run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..compile.policyfolder import PolicyFolder
from ..errors import PolicyError
from .case_files import Case, is_case_file, load_cases, policy_folder_for
from .cases import CaseResult, PolicyCache, check_against_policy, policy_error_text, problems_text, run_case

_CACHE = PolicyCache()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_case_file(file_path) and b"cases:" in file_path.read_bytes()[:65536]:
        collector: pytest.Collector = CaseFile.from_parent(parent, path=file_path)
        return collector
    return None


class CaseFile(pytest.File):
    def collect(self) -> Any:
        folder = policy_folder_for(self.path)
        try:
            cases = load_cases(self.path)
        except PolicyError as exc:
            yield Broken.from_parent(self, name="(case file)", text=problems_text(exc.diagnostics, "its cases did not run"))
            return
        try:
            _CACHE.policy(folder)
        except PolicyError as exc:
            # One item for the policy, in the first of its case files collected; its other files add nothing.
            key = folder.path.resolve()
            if key not in _CACHE.reported:
                _CACHE.reported.add(key)
                yield Broken.from_parent(self, name="(policy)", text=policy_error_text(folder, exc, "none of its cases ran"))
            return
        problems = check_against_policy(cases, folder, _CACHE)
        if problems:
            yield Broken.from_parent(self, name="(case file)", text=problems_text(problems, "its cases did not run"))
            return
        for case in cases:
            yield CaseItem.from_parent(self, name=case.name, case=case, folder=folder)


class CaseFailure(Exception):
    def __init__(self, result: CaseResult | str) -> None:
        super().__init__(result.report() if isinstance(result, CaseResult) else result)


class CaseItem(pytest.Item):
    def __init__(self, *, case: Case, folder: PolicyFolder, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.folder = folder

    def runtest(self) -> None:
        result = run_case(self.case, _CACHE.get(self.folder, self.case.parameters))
        if not result.passed:
            raise CaseFailure(result)

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"case: {self.case.name}"


class Broken(pytest.Item):
    """A case file with problems, or a policy that does not load: one failure listing each problem once."""

    def __init__(self, *, text: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.text = text

    def runtest(self) -> None:
        raise CaseFailure(self.text)

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, self.name
