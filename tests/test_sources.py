"""Sources a policy declares and cites: loading, lint, the catalogue, and nothing pointing outside the project.

The engine's behaviour is tested on a small policy this file owns (a law, a project document, one
parameter, one rule); the default policy is only checked for being consistent with itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import RULES
from hypothesis import given
from hypothesis import strategies as st

import ruleengine
from ruleengine.authoring.catalogue import catalogue_data, markdown
from ruleengine.authoring.lint import lint
from ruleengine.cli import main
from ruleengine.compile.sources import find_citations

ROOT = RULES.parent

MANIFEST = """\
policy:
  name: sources-test
  version: "1"
  timezone: Asia/Shanghai
  stages: [claim]
  description: 测试用策略 / a policy the tests own [DOC]
"""

PARAMETERS = """\
parameters:
  window_days:
    value: 7
    type: days
    description: 期限 / the window
    source: "[LAW Art 6]"
definitions:
  small_claim:
    expr: claim.quantity <= params.window_days
    description: 件数不超过期限天数 / a made-up test [DOC §1.1]
"""

RULE = """\
rules:
  - id: t.approve
    title: {zh: 批准, en: Approve}
    description: >-
      类目 [phone] 与 [1, 2] 不是引用；
      批准 [DOC §2]。Approves.
    source: "[LAW Art 6], [DOC §1]"
    stage: claim
    when: small_claim
    then:
      - set: {claim.outcome: approved}
"""

SOURCES = """\
sources:
  LAW:
    kind: law
    title: {zh: 某法, en: A law}
    issuer: {zh: 立法机关, en: a legislature}
    date: "2020-01-02"
    url: https://example.org/law
  DOC:
    kind: project
    title: {zh: 说明文档, en: The document}
    issuer: {zh: 本项目, en: this project}
    document: docs/spec.md
"""

SPEC = "# Spec\n\n## 1. One\n\n### 1.1 One point one\n\n## 2. Two\n"


@pytest.fixture
def small(tmp_path: Path) -> Callable[..., Path]:
    """A project folder with a small policy in rules/ and its document in docs/; ``name=text`` replaces a file."""

    def make(**files: str | None) -> Path:
        rules = tmp_path / "project" / "rules"
        rules.mkdir(parents=True, exist_ok=True)
        (tmp_path / "project" / "docs").mkdir(exist_ok=True)
        (tmp_path / "project" / "docs" / "spec.md").write_text(SPEC, encoding="utf-8")
        default = {"policy.yaml": MANIFEST, "parameters.yaml": PARAMETERS, "rule.yaml": RULE, "sources.yaml": SOURCES}
        for name, text in {**default, **files}.items():
            path = rules / name
            if text is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(text, encoding="utf-8")
        return rules

    return make


def at(root: Path, name: str, marker: str, nth: int = 0) -> tuple[str, int, int]:
    """(file as reported, line, column) of the nth occurrence of ``marker`` in a policy file."""
    text = (root / name).read_text(encoding="utf-8")
    index = -1
    for _ in range(nth + 1):
        index = text.index(marker, index + 1)
    line = text.count("\n", 0, index) + 1
    return name, line, index - (text.rfind("\n", 0, index) + 1) + 1


def errors(root: Path) -> list[ruleengine.Diagnostic]:
    with pytest.raises(ruleengine.PolicyError) as caught:
        ruleengine.load_policy(root)
    return caught.value.diagnostics


def where(d: ruleengine.Diagnostic) -> tuple[str, int, int]:
    return Path(d.file).name, d.line, d.column


# ---------------------------------------------------------------- loading


def test_declared_sources_and_their_citations_load_as_plain_data(small: Callable[..., Path]) -> None:
    root = small()
    policy = ruleengine.load_policy(root)
    law = policy.sources["LAW"]
    assert (law.kind, law.title_zh, law.title_en, law.issuer_en, law.date, law.url) == (
        "law", "某法", "A law", "a legislature", "2020-01-02", "https://example.org/law",
    )
    assert law.to_dict() == {
        "id": "LAW", "kind": "law", "title": {"zh": "某法", "en": "A law"}, "issuer": {"zh": "立法机关", "en": "a legislature"},
        "date": "2020-01-02", "url": "https://example.org/law",
    }
    assert (Path(law.location.file).name, law.location.line, law.location.column) == at(root, "sources.yaml", "LAW:")
    assert policy.sources["DOC"].document == "docs/spec.md" and policy.sources["DOC"].date == ""
    found = {(c.source, c.locator, c.cited_by) for c in policy.citations}
    assert found == {
        ("DOC", "", "policy"),
        ("LAW", "Art 6", "parameter window_days"),
        ("DOC", "§1.1", "definition small_claim"),
        ("DOC", "§2", "rule t.approve"),
        ("LAW", "Art 6", "rule t.approve"),
        ("DOC", "§1", "rule t.approve"),
    }  # [phone] and [1, 2] are not citations
    cited = next(c for c in policy.citations if c.cited_by == "rule t.approve" and c.locator == "§1")
    assert (Path(cited.location.file).name, cited.location.line, cited.location.column) == at(root, "rule.yaml", "[DOC §1]")


def test_a_what_if_keeps_the_declared_sources(small: Callable[..., Path]) -> None:
    policy = ruleengine.load_policy(small())
    changed = policy.with_parameters({"window_days": 3})
    assert changed.sources == policy.sources and changed.citations == policy.citations


def test_a_citation_of_an_undeclared_source_is_an_error_at_its_text_with_did_you_mean(small: Callable[..., Path]) -> None:
    root = small(**{"rule.yaml": RULE.replace("批准 [DOC §2]", "批准 [DCO §2]")})
    (d,) = errors(root)
    assert d.code == "unknown_source" and d.severity == "error"
    assert where(d) == at(root, "rule.yaml", "[DCO §2]")  # inside a folded description
    assert "DCO" in d.message and "did you mean DOC?" in d.message and "未声明" in d.message


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("parameters.yaml", 'source: "[LAW Art 6]"', 'source: "[LAX Art 6]"'),
        ("parameters.yaml", "a made-up test [DOC §1.1]", "a made-up test [LAX §1.1]"),
        ("policy.yaml", "the tests own [DOC]", "the tests own [LAX]"),
    ],
)
def test_citations_in_parameters_definitions_and_the_manifest_are_checked_too(
    small: Callable[..., Path], name: str, old: str, new: str
) -> None:
    text = {"parameters.yaml": PARAMETERS, "policy.yaml": MANIFEST}[name]
    root = small(**{name: text.replace(old, new)})
    (d,) = errors(root)
    assert d.code == "unknown_source" and where(d) == at(root, name, "[LAX")
    assert "declared: DOC, LAW" in d.message or "did you mean LAW?" in d.message


def test_a_miscased_source_id_is_refused_with_the_right_spelling(small: Callable[..., Path]) -> None:
    root = small(**{"rule.yaml": RULE.replace('"[LAW Art 6], [DOC §1]"', '"[LAW Art 6], [doc §1]"')})
    (d,) = errors(root)
    assert d.code == "unknown_source" and where(d) == at(root, "rule.yaml", "[doc §1]")
    assert "did you mean [DOC §1]?" in d.message


def test_a_policy_without_sources_loads_with_its_citations_unchecked_and_lint_says_so(small: Callable[..., Path]) -> None:
    root = small(**{"sources.yaml": None})
    policy = ruleengine.load_policy(root)  # it has not taken up citations: bracketed text does not stop it loading
    assert policy.sources == {} and len(policy.citations) == 6
    found = lint(policy)
    assert [(d.code, d.severity) for d in found] == [("undeclared_source", "warning")] * 2
    assert sorted(where(d) for d in found) == sorted([at(root, "parameters.yaml", "[LAW"), at(root, "parameters.yaml", "[DOC")])
    assert "has no 'sources:' section" in found[0].message
    assert "来源 Sources" not in markdown(policy) and catalogue_data(policy)["sources"] == []


def test_an_empty_sources_section_checks_every_citation(small: Callable[..., Path]) -> None:
    found = errors(small(**{"sources.yaml": "sources: {}\n"}))
    assert {d.code for d in found} == {"unknown_source"} and len(found) == 6
    assert all("'sources:' declares none" in d.message for d in found)


def test_a_source_declared_twice_is_an_error_at_the_second(small: Callable[..., Path]) -> None:
    root = small(**{"zz_more.yaml": SOURCES.split("  DOC:")[0]})  # files load in path order: this one comes second
    (d,) = errors(root)
    assert d.code == "duplicate_source" and where(d) == at(root, "zz_more.yaml", "LAW:")
    assert "sources.yaml:2:3" in d.message


@pytest.mark.parametrize(
    ("old", "new", "marker", "words"),
    [
        ("kind: law", "kind: statute", "statute", "expected one of: law, regulation"),
        ("    title: {zh: 某法, en: A law}\n", "", "kind: law", "missing required field 'title'"),
        ("    url: https://example.org/law\n", "", "kind: law", "needs one of: url, document, note"),
        ("url: https://example.org/law", "url: http://example.org/law", "http://", "does not match"),
        ('date: "2020-01-02"', 'date: "2020-13-02"', '"2020-13-02"', "does not match"),
        ("document: docs/spec.md", "document: ../outside/spec.md", "../outside", "does not match"),
        ("  LAW:\n", "  law:\n", "law:", "'law' is not an allowed name here"),
    ],
)
def test_a_bad_source_entry_is_refused_at_its_field_and_its_citations_are_not_blamed(
    small: Callable[..., Path], old: str, new: str, marker: str, words: str
) -> None:
    root = small(**{"sources.yaml": SOURCES.replace(old, new)})
    found = errors(root)
    assert [d.code for d in found] == ["schema"], [str(d) for d in found]
    assert where(found[0]) == at(root, "sources.yaml", marker) and words in found[0].message


@pytest.mark.parametrize(("text", "code"), [("sources: [LAW, DOC]\n", "schema"), ("sources:\n  LAW: {kind: law\n", "yaml_syntax")])
def test_an_unreadable_sources_section_is_reported_once_not_at_every_citation(small: Callable[..., Path], text: str, code: str) -> None:
    found = [d for d in errors(small(**{"sources.yaml": text})) if d.severity == "error"]
    assert [(Path(d.file).name, d.code) for d in found] == [("sources.yaml", code)]


def test_the_command_line_reports_an_undeclared_citation_as_a_policy_error(small: Callable[..., Path]) -> None:
    root = small(**{"rule.yaml": RULE.replace("[DOC §1]", "[DOCS §1]")})
    for command in ("validate", "lint"):
        result = CliRunner().invoke(main, [command, str(root)])
        assert result.exit_code == 2
        file, line, column = at(root, "rule.yaml", "[DOCS §1]")
        assert f"{file}:{line}:{column}: unknown_source:" in result.stderr and "did you mean DOC?" in result.stderr


# ---------------------------------------------------------------- lint


def test_a_declared_source_nothing_cites_is_a_lint_warning(small: Callable[..., Path]) -> None:
    extra = (
        "  OLD:\n    kind: report\n    title: {zh: 旧报道, en: An old report}\n"
        "    issuer: {zh: 媒体, en: press}\n    note: {zh: 无, en: none}\n"
    )
    root = small(**{"sources.yaml": SOURCES + extra})
    (d,) = [d for d in lint(ruleengine.load_policy(root)) if d.code == "unused_source"]
    assert d.severity == "warning" and where(d) == at(root, "sources.yaml", "OLD:")
    assert "OLD" in d.message and "not cited" in d.message
    result = CliRunner().invoke(main, ["lint", str(root)])
    assert result.exit_code == 0 and "warning: unused_source" in result.stdout


def test_a_section_the_project_document_lacks_is_a_lint_warning(small: Callable[..., Path]) -> None:
    assert lint(ruleengine.load_policy(small())) == []  # §1, §1.1 and §2 are headings of docs/spec.md
    root = small(**{"rule.yaml": RULE.replace("[DOC §2]", "[DOC §3.1]")})
    (d,) = lint(ruleengine.load_policy(root))
    assert d.code == "unknown_section" and d.severity == "warning"
    assert where(d) == at(root, "rule.yaml", "[DOC §3.1]") and "docs/spec.md has no section 3.1" in d.message


def test_sections_are_not_checked_when_the_document_is_not_next_to_the_policy(small: Callable[..., Path]) -> None:
    root = small(**{"rule.yaml": RULE.replace("[DOC §2]", "[DOC §3.1]")})
    (root.parent / "docs" / "spec.md").unlink()
    assert lint(ruleengine.load_policy(root)) == []


# ---------------------------------------------------------------- the catalogue


def test_the_catalogue_shows_each_rules_and_parameters_sources_with_their_titles(small: Callable[..., Path]) -> None:
    policy = ruleengine.load_policy(small())
    text = markdown(policy)
    rule = text.split("### `t.approve`")[1].split("\n### ")[0]
    assert "- 来源 source: [LAW Art 6], [DOC §1]" in rule
    assert "  - [`LAW`](#source-law) 某法 / A law — Art 6\n  - [`DOC`](#source-doc) 说明文档 / The document — §1, §2" in rule
    row = next(line for line in text.splitlines() if line.startswith('| <a id="param-window-days">'))
    assert "[LAW Art 6]<br>[`LAW`](#source-law) 某法 / A law — Art 6" in row
    sources = text.split('<a id="sources"></a>')[1]
    assert "- [来源 Sources](#sources)" in text
    law = next(line for line in sources.splitlines() if '<a id="source-law"></a>' in line)
    assert "法律 law" in law and "某法<br>A law" in law and "2020-01-02" in law and "<https://example.org/law>" in law
    assert "规则 rules 1, 参数 parameters 1" in law
    doc = next(line for line in sources.splitlines() if '<a id="source-doc"></a>' in line)
    assert "`docs/spec.md`" in doc and "| — |" in doc  # no date recorded


def test_the_catalogue_data_lists_the_sources_and_what_cites_them(small: Callable[..., Path]) -> None:
    data = catalogue_data(ruleengine.load_policy(small()))
    assert [s["id"] for s in data["sources"]] == ["LAW", "DOC"]
    assert data["sources"][1]["cited_by"] == ["definition small_claim", "policy", "rule t.approve"]  # in file order
    assert data["sources"][1]["document"] == "docs/spec.md" and "url" not in data["sources"][1]
    (rule,) = data["guarantees"][0]["rules"]
    assert rule["citations"] == [  # its source text first, then its description
        {"source": "LAW", "locators": ["Art 6"], "title": {"zh": "某法", "en": "A law"}},
        {"source": "DOC", "locators": ["§1", "§2"], "title": {"zh": "说明文档", "en": "The document"}},
    ]
    (param,) = data["parameters"]
    assert param["citations"] == [{"source": "LAW", "locators": ["Art 6"], "title": {"zh": "某法", "en": "A law"}}]


# ---------------------------------------------------------------- the citation syntax


_PIECES = st.sampled_from(["[L2 Art 6]", "[T8]", "[SPEC §4.3]", "[phone]", "[1, 2]", "[", "]", " ", "中文", "x", "§", "\n", "[A1 a [B2]"])


@given(st.lists(_PIECES, max_size=12).map("".join))
def test_every_citation_found_starts_at_its_bracket_and_names_its_id(text: str) -> None:
    for source, locator, offset in find_citations(text):
        assert text[offset] == "[" and text[offset + 1 :].startswith(source)
        assert "[" not in locator and "]" not in locator and "\n" not in locator


# ---------------------------------------------------------------- the default policy and the project


def test_the_default_policy_cites_every_source_it_declares_and_every_section_exists() -> None:
    policy = ruleengine.load_policy(RULES)
    assert policy.sources, "the default policy declares its sources"
    assert [str(d) for d in lint(policy) if d.code in ("unused_source", "unknown_section")] == []
    for source in policy.sources.values():
        assert source.url or source.document or source.note_zh
        if source.document:
            assert (ROOT / source.document).is_file(), f"{source.id}: {source.document} is not in the project"


_SCANNED = ("README.md", "SECURITY.md", "pyproject.toml", ".ci", "docs", "rules", "schemas", "src", "examples", "benchmarks", "tests")
_TEXT = {".md", ".yaml", ".yml", ".json", ".py", ".js", ".html", ".css", ".toml", ".txt", ".jsonl", ""}
_OUTSIDE = [re.compile(p) for p in (r"\.\./shared", r"POLICY" + r"\.md", r"/wor" + r"k/")]  # split: this file is scanned too
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _project_files() -> list[Path]:
    found = []
    for name in _SCANNED:
        path = ROOT / name
        candidates = [path] if path.is_file() else sorted(path.rglob("*")) if path.is_dir() else []
        for file in candidates:
            skipped = any((part.startswith(".") and part != ".ci") or part == "__pycache__" for part in file.relative_to(ROOT).parts)
            if file.is_file() and not skipped and file.suffix in _TEXT:
                found.append(file)
    return found


def test_nothing_in_the_project_points_outside_it() -> None:
    files = _project_files()
    assert len(files) > 50
    for file in files:
        text = file.read_text(encoding="utf-8", errors="replace")
        for pattern in _OUTSIDE:
            assert not pattern.search(text), f"{file.relative_to(ROOT)} refers outside the project: {pattern.pattern}"
        if file.suffix != ".md":
            continue
        for target in _LINK.findall(text):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            resolved = (file.parent / target.split("#")[0]).resolve()
            assert resolved.is_relative_to(ROOT), f"{file.relative_to(ROOT)} links outside the project: {target}"
            assert resolved.exists(), f"{file.relative_to(ROOT)} links to a missing file: {target}"
