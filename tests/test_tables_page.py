"""The playground shows a decision table as staff write it: a grid, one line per row, and the row that decided.

Served: the default policy without its cases (its guarantees decide their claims by tables; the tests'
own policy has none). What is asserted is read from the catalogue route, not written here, so a policy
author's change to a table changes what is expected with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import EXAMPLES
from playground_support import axe_violations, by, document_width, expect, launch_browser, open_page
from server_support import Server, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("catalogue-page")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_browser()


@pytest.fixture(scope="module")
def catalogue(server: Server) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(server.url + "/v1/policy/catalogue").json()
    return data


def _tables(catalogue: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(g, tb) for g in catalogue["guarantees"] for tb in g.get("tables", [])]


def test_every_table_is_a_grid_of_its_rows_and_its_rows_are_not_repeated_as_rules(browser: Any, server: Server, catalogue: Any) -> None:
    tables = _tables(catalogue)
    assert tables, "the default policy decides claims by tables"
    for page in open_page(browser, server):
        by(page, "tab-policy").click()
        for guarantee, table in tables:
            grid = by(page, f"grid-{table['id']}")
            expect(grid.locator("tbody tr")).to_have_count(len(table["rows"]))
            actions = any(r["actions"] for r in table["rows"])  # one column more when some row has actions
            expect(grid.locator("thead th")).to_have_count(1 + len(table["inputs"]) + len(table["outputs"]) + actions)
            first = table["inputs"][0]
            expect(grid.locator("thead th.input").first).to_have_attribute("title", first["expr"])
            for row in table["rows"]:
                line = grid.locator(f"tbody tr[data-row='{row['row']}']")
                expect(line).to_have_attribute("data-rule", row["rule"])
                expect(line.locator("td")).to_have_count(len(row["cells"]) + len(row["outputs"]) + actions)
            rows = {row["rule"] for row in table["rows"]}
            section = by(page, f"catalogue-{guarantee['id']}")
            for rule in rows:  # a row is shown in its grid, not again as a rule of its own
                expect(section.locator(f"article.crule[data-rule='{rule}']")).to_have_count(0)
            expect(by(page, f"table-{table['id']}")).to_contain_text(table["hit_words"].split(" / ")[0])


def test_a_cell_names_codes_by_the_policys_words_and_any_as_a_dash(browser: Any, server: Server, catalogue: Any) -> None:
    outcome = {term["code"]: term for term in catalogue["vocabulary"]["outcome"]["values"]}
    _, table = _tables(catalogue)[0]
    row = table["rows"][0]
    for page in open_page(browser, server):
        by(page, "tab-policy").click()
        line = by(page, f"grid-{table['id']}").locator(f"tbody tr[data-row='{row['row']}'] td")
        for index, cell in enumerate(row["cells"] + row["outputs"]):
            if cell == "-":
                expect(line.nth(index)).to_have_text("–")
            elif cell in outcome:
                expect(line.nth(index)).to_have_text(f"{outcome[cell]['zh']} {cell}")


@pytest.mark.parametrize("width", [390, 1280])
def test_the_grids_scroll_in_their_box_and_pass_axe(browser: Any, server: Server, width: int) -> None:
    for page in open_page(browser, server, {"width": width, "height": 900}):
        by(page, "tab-policy").click()
        expect(page.locator("table.decision-grid").first).to_be_visible()
        assert document_width(page) <= width
        assert axe_violations(page) == []


def test_the_explanation_marks_the_row_that_decided(browser: Any, server: Server) -> None:
    # The first example whose claim a table row decides under the served policy (whatever its values are today).
    for path in sorted(EXAMPLES.glob("*.json")):
        explained = httpx.post(
            server.url + "/v1/explanations", content=path.read_bytes(), headers={"content-type": "application/json"}
        ).json()
        decided = [e for group in explained["explanation"] for e in group["entries"] if e.get("table", {}).get("decided")]
        if decided:
            break
    assert decided, "some example's claim is decided by a table row"
    (entry,) = decided
    for page in open_page(browser, server, path=f"/?example={path.stem}"):
        row = by(page, "explanation").get_by_test_id("decided-row")
        expect(row).to_have_count(1)
        expect(row).to_contain_text(f"决策表 {entry['table']['id']} 第 {entry['table']['row']}/{entry['table']['rows']} 行")
        expect(row).to_contain_text("此行决定结果")
        expect(page.locator(f"details[data-rule='{entry['rule']}']")).to_contain_text(entry["title_zh"])
