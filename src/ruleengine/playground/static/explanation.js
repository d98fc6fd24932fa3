// The explanation, as policy staff read it: for each guarantee the rules that applied, each condition by
// its label with the values it read (by their Chinese names), the expression only on demand; a rule that
// rejects is marked as rejecting, never as a success.

import { bi, h, money } from "./dom.js";
import { decisionFieldLabel, fieldName, parameterName, serviceName, valueName } from "./names.js";

/** The explanation by guarantee into ``root``; the guarantees in ``open`` start unfolded. */
export function explanationView(root, groups, open) {
  root.replaceChildren();
  for (const group of groups) {
    const relevant = group.entries.filter((e) => e.relevant);
    const hidden = group.entries.filter((e) => !e.relevant);
    const matched = relevant.filter((e) => e.matched && !e.rule.endsWith(".service")).length;
    const box = h("details", { class: "group", "data-testid": `group-${group.guarantee}`, "data-guarantee": group.guarantee, open: open.has(group.guarantee) || null });
    box.append(h("summary", {},
      h("span", { class: "gtitle", text: group.title }), " ", h("code", { text: group.guarantee }), " ",
      h("span", { class: "muted" }, `${relevant.length} 条适用 applied`, matched ? ` · ${matched} 条命中 matched` : "", hidden.length ? ` · 另有 ${hidden.length} 条不适用 ${hidden.length} did not apply` : "")));
    for (const entry of relevant) box.append(entryView(entry));
    if (hidden.length) {
      const more = h("details", { class: "more" }, h("summary", {}, ...bi(`显示不适用的 ${hidden.length} 条规则`, `show the ${hidden.length} rules that did not apply`)));
      for (const entry of hidden) more.append(entryView(entry));
      box.append(more);
    }
    root.append(box);
  }
}

const OUTCOME_WORDS = {
  matched: ["命中", "matched"],
  not_matched: ["未命中", "not matched"],
  not_met: ["缺少事实", "a fact is absent"],
  skipped: ["跳过", "skipped"],
};

/** What a matched rule does to the claim: a rule that rejects is not shown as a success. */
function ruleEffect(entry) {
  if (!entry.matched) return "";
  const set = entry.actions.find((a) => a.action === "set" && a.target === "claim.outcome");
  return set ? ` sets-${set.value}` : "";
}

const ACTION_WORDS = {
  set: ["设定", "set"], reason: ["原因", "reason"], stop: ["不再看本保障的后续规则", "stop"], add_service: ["授予服务", "add service"],
  compensation: ["赔付", "compensation"], violation: ["记违规", "violation"], deduction: ["扣减", "deduction"],
};

function entryView(entry) {
  let [zh, en] = OUTCOME_WORDS[entry.outcome] || [entry.outcome, ""];
  const effect = ruleEffect(entry);
  if (effect === " sets-rejected") [zh, en] = ["命中：驳回", "matched: rejects"];
  else if (effect === " sets-needs_review") [zh, en] = ["命中：待审核", "matched: needs review"];
  else if (effect === " sets-approved") [zh, en] = ["命中：批准", "matched: approves"];
  const open = entry.matched && !entry.rule.endsWith(".service");
  const box = h("details", { class: `rule ${entry.outcome}${effect}`, "data-rule": entry.rule, "data-testid": `rule-${entry.rule}`, open: open || null });
  const decided = entry.conditions.filter((c) => c.decided);
  const because = entry.failed
    ? h("span", { class: "because" }, "← ", entry.failed.label || entry.failed.expr)
    : null;
  box.append(h("summary", { class: "rule-head" },
    h("span", { class: "mark", "aria-hidden": "true", text: effect === " sets-rejected" ? "✘" : entry.mark }), " ",
    h("span", { class: "outcome-word" }, ...bi(zh, en)), " ",
    h("strong", { text: entry.title_zh }), " ", h("span", { class: "en", text: entry.title_en }), " ",
    h("code", { class: "rule-id", text: entry.rule }),
    entry.table ? tableRow(entry.table) : null,
    entry.line ? h("span", { class: "muted", text: ` [${entry.line}]` }) : null,
    because, decided.length && !entry.failed && !open ? h("span", { class: "because" }, ` (${decided.length} 个条件满足 conditions met)`) : null));
  if (entry.reason) box.append(h("p", { class: "muted" }, "跳过 skipped: " + entry.reason));
  if (entry.conditions.length) {
    const tree = h("ul", { class: "conditions" });
    for (const c of entry.conditions) tree.append(conditionView(c, entry));
    box.append(tree);
  }
  if (entry.actions.length) {
    const actions = h("ul", { class: "actions" });
    for (const a of entry.actions) {
      const [azh, aen] = ACTION_WORDS[a.action] || [a.action, a.action];
      const target = a.target ? (a.target.startsWith("claim.") ? decisionFieldLabel(a.target) : [serviceName(a.target), a.target]) : null;
      const shown = a.display === undefined ? "" : a.action === "reason" ? a.display : a.target && a.target.endsWith("_amount") ? money(a.display) : valueName(a.display);
      actions.append(h("li", {}, "→ ", azh, " ", h("span", { class: "en", text: aen }), target ? [" ", target[0], " ", h("span", { class: "en", text: target[1] })] : null,
        shown ? ["：", shown] : "", a.status ? ` (${a.status}: ${a.note || ""})` : ""));
    }
    box.append(actions);
  }
  return box;
}

/** Where a row of a decision table stands: "决策表 seven_day_return 第 4/5 行", and "▶ 此行决定结果" on the row that decided. */
function tableRow(table) {
  return h("span", { class: table.decided ? "table-row decided" : "table-row muted", "data-testid": table.decided ? "decided-row" : null },
    ` 决策表 ${table.id} 第 ${table.row}/${table.rows} 行`, h("span", { class: "en", text: ` table row ${table.row}/${table.rows}` }),
    table.decided ? [" ▶ ", ...bi("此行决定结果", `decides (hit: ${table.hit})`)] : null);
}

/** The name a condition read, as policy staff know it: a field's label, a parameter's name, or "computed". */
function valueLabel(v) {
  if (v.parameter) return parameterName(v.name.replace(/^params\./, ""));
  const path = /^(order|item|claim|logistics|payment|buyer|shop|shipping)\.([a-z_.]+)$/.exec(v.name);
  if (path) {
    const pointer = path[1] === "item" ? `/items/*/${path[2].replace(/\./g, "/")}` : path[1] === "order" ? `/${path[2]}` : `/${path[1]}/${path[2].replace(/\./g, "/")}`;
    const [zh] = fieldName(pointer);
    if (!zh.includes(" ")) return zh;
  }
  return /^[a-z_]+$/.test(v.name) ? v.name : "计算值 computed";
}

function conditionView(c, entry) {
  const decidedWord = c.decided ? (entry.matched ? ["满足，决定命中", "met: decided the match"] : c.result === "not_met" ? ["缺少事实，决定未命中", "absent fact: decided"] : ["未满足，决定未命中", "not met: decided"]) : null;
  const result = c.result === true ? "✔" : c.result === false ? "✘" : c.result === "not_met" ? "∅" : "·";
  const li = h("li", { class: `condition depth-${Math.min(c.depth, 8)}${c.decided ? " decided" : ""}`, "data-testid": c.decided ? "decided-condition" : null });
  const head = h("p", {}, h("span", { class: "result", text: result }), " ");
  if (c.op) head.append(h("span", { class: "op", text: { all: "全部满足 all of", any: "任一满足 any of", not: "不满足 not" }[c.op] || c.op }), " ");
  if (c.label) head.append(h("span", { class: "label", text: c.label }), " ");
  else if (c.expr) head.append(h("code", { class: "expr", text: c.expr }));  // nothing else says what it checks
  if (decidedWord) head.append(" ", h("span", { class: "decided-tag" }, ...bi(...decidedWord)));
  li.append(head);
  if (c.values.length) {
    const values = h("ul", { class: "values" });
    for (const v of c.values) {
      const shown = /^[a-z][a-z_]*$/.test(String(v.display)) ? valueName(v.display) : v.display;
      values.append(h("li", { class: v.parameter ? "is-param" : "", "data-testid": v.parameter ? "parameter-value" : null }, v.parameter ? h("span", { class: "param-tag", text: "参数 parameter" }) : null, " ",
        valueLabel(v), " ", h("code", { text: v.name }), " = ", h("strong", { text: shown })));
    }
    li.append(values);
  }
  if (c.label && c.expr) {
    li.append(h("details", { class: "expr-more" }, h("summary", {}, ...bi("表达式", "expression")), h("code", { class: "expr", "data-testid": "condition-expr", text: c.expr })));
  }
  return li;
}
