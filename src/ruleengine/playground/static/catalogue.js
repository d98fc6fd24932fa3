// The policy tab: every guarantee and rule (title, description, cited sources, conditions in words,
// parameters with a "try a value" link), the parameters and the sources, as the catalogue route gives them.

import { bi, h } from "./dom.js";
import { decisionFieldLabel, parameterName, valueName } from "./names.js";

function conditionWords(node) {
  if (node.children) {
    return h("li", { class: "cgroup" }, h("span", { class: "op", text: node.words }), node.label ? [" ", h("span", { class: "label", text: node.label })] : null,
      h("ul", {}, node.children.map(conditionWords)));
  }
  return h("li", {}, node.label ? h("span", { class: "label", text: node.label }) : null, " ", h("code", { class: "expr", text: node.expr }));
}

function actionWords(text) {
  // the catalogue's words mark names and values with `backticks` (Markdown): shown as code
  return h("li", {}, text.split("`").map((part, i) => (i % 2 ? h("code", { text: part }) : part)));
}

/** The policy's catalogue (guarantees, rules, parameters, sources) into ``root`` and its table of contents, filtered. */
export function catalogueView(cat, root, toc, filter, tryParameter) {
  root.replaceChildren();
  toc.replaceChildren();
  const params = Object.fromEntries(cat.parameters.map((p) => [p.name, p]));
  root.append(h("p", { class: "meta" }, `${cat.name} ${cat.version} · ${cat.digest.slice(0, 19)}… · 时区 time zone ${cat.timezone}`));
  for (const g of cat.guarantees) {
    const rules = g.rules.filter((r) => !filter || JSON.stringify(r).toLowerCase().includes(filter) || g.title.toLowerCase().includes(filter));
    if (!rules.length) continue;
    toc.append(h("a", { href: `#g-${g.id}` }, g.title));
    const section = h("section", { class: "guarantee", id: `g-${g.id}`, "data-testid": `catalogue-${g.id}` }, h("h2", {}, g.title, " ", h("code", { text: g.id })));
    const tables = (g.tables || []).filter((tb) => !filter || JSON.stringify(tb).toLowerCase().includes(filter) || g.title.toLowerCase().includes(filter));
    const rowRules = new Set((g.tables || []).flatMap((tb) => tb.rows.map((row) => row.rule)));
    for (const r of rules) {
      if (rowRules.has(r.id)) continue;  // a table's row is shown in its grid

      const used = r.parameters.map((name) => {
        const p = params[name];
        return h("li", {}, parameterName(name), " ", h("code", { text: name }), " = ", h("strong", { text: p ? p.display : "?" }), " ",
          h("button", { type: "button", class: "link", "data-testid": `try-${name}`, onclick: () => tryParameter(name) }, ...bi("试改", "try a value")));
      });
      section.append(h("article", { class: "crule", "data-rule": r.id },
        h("h3", {}, r.title_zh, " ", h("span", { class: "en", text: r.title_en }), " ", h("code", { class: "rule-id", text: r.id })),
        h("p", { class: "desc", text: r.description }),
        h("p", { class: "muted" }, `来源 source: ${r.source} · 阶段 stage: ${r.stage} · 优先级 priority: ${r.priority} · 范围 scope: ${r.scope}`,
          r.versions > 1 ? ` · 版本 version ${r.version}/${r.versions}` : "",
          r.effective.from || r.effective.until ? ` · 生效 effective ${r.effective.from || "…"} – ${r.effective.until || "…"} (${r.effective.on})` : ""),
        r.citations.length ? h("ul", { class: "cites" }, r.citations.map(citedWords)) : null,
        h("div", { class: "when" }, h("h4", {}, ...bi("条件", "When")), h("ul", { class: "cond-tree" }, conditionWords(r.when))),
        h("div", { class: "then" }, h("h4", {}, ...bi("则", "Then")), h("ul", {}, r.then.map(actionWords))),
        r.else.length ? h("div", { class: "else" }, h("h4", {}, ...bi("否则", "Else")), h("ul", {}, r.else.map(actionWords))) : null,
        used.length ? h("div", { class: "params" }, h("h4", {}, ...bi("参数", "Parameters")), h("ul", {}, used)) : null));
    }
    for (const tb of tables) section.append(tableGrid(tb));
    root.append(section);
  }
  const table = h("table", { class: "param-table catalogue-parameters", "data-testid": "catalogue-parameters" },
    h("thead", {}, h("tr", {}, ["参数 Parameter", "值 Value", "类型 Type", "说明 Description", "来源 Source", "使用规则 Used by"].map((t, i) => h("th", { text: t, scope: "col", class: i === 3 ? "wide" : null })))));
  const body = h("tbody");
  for (const p of cat.parameters) {
    if (filter && !JSON.stringify(p).toLowerCase().includes(filter)) continue;
    body.append(h("tr", {}, h("td", {}, parameterName(p.name), h("br"), h("code", { text: p.name })), h("td", { text: p.display }), h("td", { text: p.type }),
      h("td", { text: p.description }), h("td", {}, p.source || "", p.citations.length ? h("ul", { class: "cites" }, p.citations.map(citedWords)) : ""),
      h("td", {}, p.used_by.map((r) => h("code", { class: "rule-id", text: r })))));
  }
  table.append(body);
  root.append(h("section", { class: "guarantee", id: "parameters" }, h("h2", {}, ...bi("参数", "Parameters")), tableBox(table, "参数 Parameters")));
  toc.append(h("a", { href: "#parameters" }, "参数 Parameters"));
  if (!cat.sources.length) return;
  const sources = h("table", { class: "param-table", "data-testid": "catalogue-sources" },
    h("thead", {}, h("tr", {}, ["编号 Id", "标题 Title", "发布方 Issuer", "日期 Date", "查阅 Where to read", "引用 Cited by"].map((t) => h("th", { text: t, scope: "col" })))));
  const rows = h("tbody");
  for (const s of cat.sources) {
    if (filter && !JSON.stringify(s).toLowerCase().includes(filter)) continue;
    rows.append(h("tr", { id: `source-${s.id}` }, h("td", {}, h("code", { text: s.id })), h("td", {}, s.title.zh, h("br"), s.title.en),
      h("td", {}, s.issuer.zh, h("br"), s.issuer.en), h("td", { text: s.date || "—" }),
      h("td", {}, s.url ? h("span", { text: s.url }) : "", s.document ? h("code", { text: s.document }) : "", s.note ? h("p", { class: "muted" }, s.note.zh, h("br"), s.note.en) : ""),
      h("td", { text: String(s.cited_by.length) })));
  }
  sources.append(rows);
  root.append(h("section", { class: "guarantee", id: "sources" }, h("h2", {}, ...bi("来源", "Sources")), tableBox(sources, "来源 Sources")));
  toc.append(h("a", { href: "#sources" }, "来源 Sources"));
}

const ANY = "-";

/** A cell as staff read it: "-" is any value, a code is named by the policy's vocabulary, the rest (a list, a range,
 * a comparison) as written. */
function cellWords(text) {
  if (text === ANY) return h("td", { class: "any", title: "任意 any" }, "–");
  if (text === "true" || text === "false") return h("td", { text: text === "true" ? "是 true" : "否 false" });
  return h("td", { text: /^[a-z][a-z0-9_]*$/.test(text) ? valueName(text) : text });
}

/** A decision table as a grid: its inputs and outputs as columns, one line per row (each row a rule of its own). */
function tableGrid(tb) {
  const actions = tb.rows.some((row) => row.actions.length);
  const head = h("tr", {}, h("th", { scope: "col" }, ...bi("行", "Row")),
    tb.inputs.map((input) => h("th", { scope: "col", class: "input", title: input.expr }, input.label || input.name)),
    tb.outputs.map((field) => h("th", { scope: "col", class: "output" }, ...(field === "reason" ? bi("理由", "reason") : bi(...decisionFieldLabel(field))))),
    actions ? h("th", { scope: "col", class: "output" }, ...bi("动作", "Actions")) : null);
  const rows = tb.rows.map((row) => h("tr", { "data-rule": row.rule, "data-row": String(row.row) },
    h("th", { scope: "row" }, `${row.row} `, h("code", { class: "rule-id", text: row.rule }),
      row.version ? h("span", { class: "muted" }, ` 版本 version ${row.version}: ${row.effective.from || "…"} – ${row.effective.until || "…"}`) : null),
    row.cells.map(cellWords),
    row.outputs.map(cellWords),
    actions ? h("td", {}, row.actions.join("；")) : null));
  const grid = h("table", { class: "param-table decision-grid", "data-testid": `grid-${tb.id}` }, h("thead", {}, head), h("tbody", {}, rows));
  return h("article", { class: "ctable", "data-table": tb.id, "data-testid": `table-${tb.id}` },
    h("h3", {}, "决策表 table ", tb.title_zh, " ", h("span", { class: "en", text: tb.title_en }), " ", h("code", { class: "rule-id", text: tb.id })),
    h("p", { class: "desc", text: tb.description }),
    h("p", { class: "muted" }, `${tb.hit_words}${tb.complete ? " · 完整：每种输入都有一行 complete" : ""}`,
      ` · 来源 source: ${tb.source} · 阶段 stage: ${tb.stage} · 优先级 priority: ${tb.priority} · 范围 scope: ${tb.scope}`),
    tb.when ? h("p", {}, ...bi("适用于", "applies to"), " ", /[\u4e00-\u9fff]/.test(tb.when) ? tb.when : h("code", { text: tb.when })) : null,
    tableBox(grid, `决策表 ${tb.title_zh} table`));
}

/** A wide table scrolls inside its own box (reachable by keyboard), never the page. */
function tableBox(table, name) {
  return h("div", { class: "table-box", tabindex: "0", role: "region", "aria-label": name }, table);
}

/** A cited source with its title: `L1 中华人民共和国消费者权益保护法 / Law … — Art 55`. */
function citedWords(c) {
  return h("li", {}, h("code", { text: c.source }), ` ${c.title.zh} / ${c.title.en}`, c.locators.length ? ` — ${c.locators.join(", ")}` : "");
}
