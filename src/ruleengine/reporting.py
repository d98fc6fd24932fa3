"""Reports of a regression-case run: pytest-style text, JUnit XML for CI, JSON."""

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
    for name, _ in run.broken_files:
        lines.append(f"{name} E")
    problems = [r for r in run.results if not r.passed]
    if problems or run.broken_files:
        lines += ["", "=" * 30 + " FAILURES " + "=" * 30]
        for name, error in run.broken_files:
            lines.append(f"ERROR {name}: the case file does not load")
            lines += ["  " + str(d) for d in error.diagnostics]
        for result in problems:
            lines += ["", result.report()]
    if coverage is not None:
        lines += ["", coverage.text()]
    if not run.results and not run.broken_files:
        lines.append("no cases found")
    lines += ["", f"{run.passed} passed, {run.failed} failed"]
    lines.append(f"in {seconds:.2f}s")
    return "\n".join(lines)


def junit_xml(run: Run, seconds: float) -> str:
    suites = ET.Element(
        "testsuites",
        name="ruleengine",
        tests=str(len(run.results) + len(run.broken_files)),
        failures=str(sum(1 for r in run.results if r.status == "failed")),
        errors=str(sum(1 for r in run.results if r.status == "error") + len(run.broken_files)),
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
    for name, error in run.broken_files:
        suite = ET.SubElement(suites, "testsuite", name=name, tests="1", failures="0", errors="1")
        case = ET.SubElement(suite, "testcase", classname=name, name="(case file)")
        element = ET.SubElement(case, "error", message="the case file does not load")
        element.text = str(error)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


def run_json(run: Run, coverage: CoverageReport | None = None) -> str:
    data = {
        "passed": run.passed,
        "failed": run.failed,
        "cases": [
            {"file": r.case.file, "line": r.case.line, "name": r.case.name, "status": r.status, "report": "" if r.passed else r.report()}
            for r in run.results
        ],
        "broken_files": [{"file": name, "diagnostics": [d.to_dict() for d in error.diagnostics]} for name, error in run.broken_files],
    }
    if coverage is not None:
        data["coverage"] = coverage.to_dict()
    return json.dumps(data, ensure_ascii=False, indent=2)
