"""pytest plugin: collect regression case files (``cases/*.yaml``) as test items, one per case.

Registered as a ``pytest11`` entry point, so plain ``pytest`` runs a policy's
cases wherever they are under its test paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .cases import Case, CaseResult, PolicyCache, is_case_file, load_cases, policy_root_for, run_case
from .errors import PolicyError

_CACHE = PolicyCache()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_case_file(file_path) and b"cases:" in file_path.read_bytes()[:65536]:
        collector: pytest.Collector = CaseFile.from_parent(parent, path=file_path)
        return collector
    return None


class CaseFile(pytest.File):
    def collect(self) -> Any:
        try:
            cases = load_cases(self.path)
        except PolicyError as exc:
            yield BrokenCaseFile.from_parent(self, name="(case file)", error=exc)
            return
        for case in cases:
            yield CaseItem.from_parent(self, name=case.name, case=case)


class CaseFailure(Exception):
    def __init__(self, result: CaseResult | str) -> None:
        super().__init__(result.report() if isinstance(result, CaseResult) else result)


class CaseItem(pytest.Item):
    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        try:
            policy = _CACHE.get(policy_root_for(self.path), self.case.parameters)
        except PolicyError as exc:
            raise CaseFailure(f"the policy does not load:\n{exc}") from None
        result = run_case(self.case, policy)
        if not result.passed:
            raise CaseFailure(result)

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"case: {self.case.name}"


class BrokenCaseFile(pytest.Item):
    def __init__(self, *, error: PolicyError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise CaseFailure(str(self.error))

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        return str(excinfo.value)
