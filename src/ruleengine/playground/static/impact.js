// What-if over many orders: the parameters typed in the what-if, decided over a corpus (the bundled
// examples, a generated corpus, or a JSON-lines file chosen here) by POST /v1/impact — the same report as
// `ruleengine diff`: how many decisions change, the money, by guarantee and field, down to the orders.
// The edit view shows its own impact (served policy → edited files) with the same corpus form and report
// (corpusFields, impactReport).

import { changeItem, splitChange } from "./changes.js";
import { api, bi, h, money } from "./dom.js";
import { parameterProblem } from "./messages.js";
import { decisionFieldLabel, parameterName, serviceName } from "./names.js";

let context = null;  // {parameters(): the what-if values, openOrder(order, parameters), kinds(): parameter → kind}
let shown = null;    // the what-if's report view (impactReport)

const $ = (id) => document.getElementById(id);

/** Show the generated / file rows of a corpus form as its select asks; ``prefix`` names its elements (impact, edit). */
export function setUpCorpusForm(prefix) {
  const kind = $(`${prefix}-corpus`);
  kind.addEventListener("change", () => {
    $(`${prefix}-generated`).hidden = kind.value !== "generated";
    $(`${prefix}-file-row`).hidden = kind.value !== "lines";
  });
}

/** The corpus fields of a request from the form ``prefix`` ({corpus, count, seed} or {corpus, lines}), or null when no file is chosen. */
export async function corpusFields(prefix) {
  const body = { corpus: $(`${prefix}-corpus`).value };
  if (body.corpus === "generated") {
    body.count = Number($(`${prefix}-count`).value);
    body.seed = Number($(`${prefix}-seed`).value);
  } else if (body.corpus === "lines") {
    const file = $(`${prefix}-file`).files[0];
    if (!file) return null;
    body.lines = await file.text();
  }
  return body;
}

export function setUpImpact(given) {
  context = given;
  setUpCorpusForm("impact");
  shown = impactReport($("impact"), { openOrder: (order, r) => context.openOrder(order, r.parameters) });
  $("impact-run").addEventListener("click", runImpact);
}

function showError(zh, en, items = []) {
  const box = document.getElementById("impact-error");
  box.hidden = false;
  box.replaceChildren(h("p", {}, zh, " ", h("span", { class: "en", text: en })), items.length ? h("ul", { class: "problems" }, items) : null);
}

async function runImpact() {
  const parameters = context.parameters();
  const out = document.getElementById("impact");
  document.getElementById("impact-error").hidden = true;
  if (!Object.keys(parameters).length) {
    showError("请先在上方输入要假设的参数值。", "Type a what-if value above first.");
    return;
  }
  const fields = await corpusFields("impact");
  if (!fields) {
    showError("请选择一个 JSON lines 文件（每行一个订单）。", "Choose a JSON-lines file (one order per line).");
    return;
  }
  const body = { parameters, ...fields };
  const status = document.getElementById("impact-status");
  status.textContent = "计算中… running…";
  out.setAttribute("aria-busy", "true");
  const response = await api("/v1/impact", { method: "POST", body: JSON.stringify(body) });
  out.removeAttribute("aria-busy");
  status.textContent = "";
  if (!response.ok) {
    const data = response.data || {};
    if (data.error === "policy") {
      const kinds = context.kinds();
      showError("参数值无效，未能计算影响：", "A parameter value was refused:", (data.diagnostics || []).map((d) => {
        const p = parameterProblem(d, kinds);
        return h("li", { class: "problem" }, p.zh, " ", h("span", { class: "en", text: p.en }));
      }));
    } else {
      showError("未能计算影响：", `${response.status} ${data.error || ""}: ${data.message || response.text}`);
    }
    return;
  }
  shown(response.data);
}

function signed(amount) {
  return String(amount).startsWith("-") ? money(amount) : `+${money(amount)}`;
}

/** A report view in ``out``: ``show(report)`` draws an impact report (of /v1/impact or /v1/editing/impact) with its
 * drill-down; ``openOrder(order, report)``, when given, offers to open a changed order in the try view. */
export function impactReport(out, { openOrder = null, testid = "impact" } = {}) {
  let report = null;
  let drill = null;  // [guarantee, field] the order list is narrowed to, or null
  const render = () => renderReport(out, report, drill, testid, openOrder, (next) => { drill = next; render(); });
  return (given) => { report = given; drill = null; render(); };
}

function renderReport(out, r, drill, testid, openOrder, setDrill) {
  out.hidden = false;
  const corpus = { examples: ["示例订单", "the example orders"], generated: [`生成的订单（种子 ${r.corpus.seed}）`, `generated orders (seed ${r.corpus.seed})`], lines: ["上传的订单", "the uploaded orders"] }[r.corpus.kind];
  const share = r.orders ? ` (${((100 * r.changed) / r.orders).toFixed(1)}%)` : "";
  const params = Object.entries(r.parameters || {}).map(([name, v]) => `${parameterName(name)} ${name} ${v.current} → ${v.changed}`).join("；");
  const parts = [
    h("h3", {}, ...bi("多订单影响", "Impact over many orders")),
    params ? h("p", { class: "meta" }, params) : null,
    h("p", { "data-testid": `${testid}-counts` }, ...bi(`${corpus[0]} ${r.orders} 个，决策变化 ${r.changed} 个${share}`, `${r.orders} of ${corpus[1]}, ${r.changed} decisions change${share}`)),
    h("dl", { class: "impact-money", "data-testid": `${testid}-money` },
      h("dt", {}, ...bi("退款合计", "Refunds")), h("dd", {}, `${money(r.money.refunds.base)} → ${money(r.money.refunds.new)}（`, h("strong", { text: signed(r.money.refunds.delta) }), "）"),
      h("dt", {}, ...bi("赔付合计", "Compensations")), h("dd", {}, `${money(r.money.compensations.base)} → ${money(r.money.compensations.new)}（`, h("strong", { text: signed(r.money.compensations.delta) }), "）")),
  ];
  if (r.refused.base || r.refused.new) {
    const label = r.parameters ? ["假设", "with the what-if"] : ["修改后", "with the edit"];
    parts.push(h("p", { class: "muted" }, ...bi(`无法决策的订单：当前 ${r.refused.base} 个，${label[0]} ${r.refused.new} 个`, `orders that could not be decided: ${r.refused.base} now, ${r.refused.new} ${label[1]}`)));
  }
  if (r.fields.length) {
    const rows = r.fields.map((f) => {
      const [zh, en] = decisionFieldLabel(f.field);
      const on = drill && drill[0] === f.guarantee && drill[1] === f.field;
      return h("tr", { "data-testid": `${testid}-row` },
        h("td", { text: serviceName(f.guarantee) }), h("td", {}, ...bi(zh, en)), h("td", { class: "num", text: String(f.orders) }),
        h("td", { class: "num", text: f.money_delta !== undefined ? signed(f.money_delta) : "—" }),
        h("td", {}, h("button", { type: "button", class: "link", "aria-pressed": String(on), "data-testid": `${testid}-drill-${f.guarantee}-${f.field}`,
          onclick: () => setDrill(on ? null : [f.guarantee, f.field]) }, ...bi(on ? "显示全部" : "查看订单", on ? "show all" : "show orders"))));
    });
    parts.push(h("div", { class: "table-box", tabindex: "0", role: "region", "aria-label": "按保障与字段 By guarantee and field" },
      h("table", { class: "param-table impact-table", "data-testid": `${testid}-fields` },
        h("thead", {}, h("tr", {}, ["保障 Guarantee", "字段 Field", "订单数 Orders", "金额变化 Money", "订单 Orders"].map((t) => h("th", { scope: "col", text: t })))),
        h("tbody", {}, rows))));
  } else {
    parts.push(h("p", { class: "muted", "data-testid": `${testid}-fields` }, ...bi("没有决策变化。", "No decision changes.")));
  }
  const orders = r.changed_orders.filter((o) => !drill || o.changes.some((c) => c.guarantee === drill[0] && c.field === drill[1]));
  if (r.changed_orders.length) {
    const title = drill ? [`${serviceName(drill[0])} · ${decisionFieldLabel(drill[1])[0]} 变化的订单 ${orders.length} 个`, `${orders.length} orders changed there`]
      : [`决策变化的订单 ${orders.length} 个`, `${orders.length} changed orders`];
    parts.push(h("h4", {}, ...bi(...title)));
    parts.push(h("ul", { class: "impact-orders", "data-testid": `${testid}-orders` }, orders.map((o) => h("li", { "data-order": o.order_id },
      h("code", { text: o.order_id }), " ",
      openOrder && typeof o.order === "object" ? h("button", { type: "button", class: "link", "data-testid": `${testid}-open`, onclick: () => openOrder(o.order, r) }, ...bi("在试算中打开", "open to try")) : null,
      h("ul", { class: "change-list" }, o.changes.map((c) => changeItem(c.guarantee, c.field, ...splitChange(c.change))))))));
    if (r.changed_orders_not_shown) parts.push(h("p", { class: "muted" }, ...bi(`另有 ${r.changed_orders_not_shown} 个变化的订单未列出`, `${r.changed_orders_not_shown} more changed orders not listed`)));
  }
  out.replaceChildren(...parts);
}
