"""Reports of a regression-case run that ran: pytest-style text, JUnit XML for CI, JSON.

A run stopped before any case (case-file problems, a policy that does not load) is
reported by the command as errors, not here.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import defaultdict

from .cases import CaseResult, Run
from .coverage import CoverageReport


def run_text(run: Run, seconds: float, coverage: CoverageReport | None = None) -> str:
    lines: list[str] = []
    by_file: dict[str, list[CaseResult]] = defaultdict(list)
    for result in run.results:
        by_file[result.case.file].append(result)
    for name, results in by_file.items():
        marks = "".join("." if r.passed else ("F" if r.status == "failed" else "E") for r in results)
        lines.append(f"{name} {marks}")
    problems = [r for r in run.results if not r.passed]
    if problems:
        lines += ["", "=" * 30 + " FAILURES " + "=" * 30]
        for result in problems:
            lines += ["", result.report()]
    if coverage is not None:
        lines += ["", coverage.text()]
    if not run.results:
        lines.append("no cases found")
    lines += ["", f"{run.passed} passed, {run.failed} failed"]
    lines.append(f"in {seconds:.2f}s")
    return "\n".join(lines)


def junit_xml(run: Run, seconds: float) -> str:
    suites = ET.Element(
        "testsuites",
        name="ruleengine",
        tests=str(len(run.results)),
        failures=str(sum(1 for r in run.results if r.status == "failed")),
        errors=str(sum(1 for r in run.results if r.status == "error")),
        time=f"{seconds:.3f}",
    )
    by_file: dict[str, list[CaseResult]] = defaultdict(list)
    for result in run.results:
        by_file[result.case.file].append(result)
    for name, results in by_file.items():
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=name,
            tests=str(len(results)),
            failures=str(sum(1 for r in results if r.status == "failed")),
            errors=str(sum(1 for r in results if r.status == "error")),
        )
        for result in results:
            case = ET.SubElement(suite, "testcase", classname=name, name=result.case.name, file=name, line=str(result.case.line))
            if result.status != "passed":
                tag = "failure" if result.status == "failed" else "error"
                element = ET.SubElement(case, tag, message=(result.message or "expectation not met").splitlines()[0][:200])
                element.text = result.report()
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


def run_json(run: Run, coverage: CoverageReport | None = None) -> str:
    data = {
        "passed": run.passed,
        "failed": run.failed,
        "cases": [
            {"file": r.case.file, "line": r.case.line, "name": r.case.name, "status": r.status, "report": "" if r.passed else r.report()}
            for r in run.results
        ],
        "policies": [folder.to_dict(policy) for folder, policy in run.policies],
    }
    if coverage is not None:
        data["coverage"] = coverage.to_dict()
    return json.dumps(data, ensure_ascii=False, indent=2)
