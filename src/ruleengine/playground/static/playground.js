// The policy playground: try orders against the live policy.
// Plain ES module, no build step, nothing external. Everything shown comes from the
// service's HTTP API (/v1/...): the page only lays it out.

import { TOKEN_KEY, api, authHeaders, bi, h, localTime, money } from "./dom.js";
import { fieldName, guaranteeOrder, learnNames, parameterName, serviceName, valueName } from "./names.js";
import { generalProblem, orderProblem, parameterProblem } from "./messages.js";
import { catalogueView } from "./catalogue.js";
import { changeItem, decisionChanges, splitChange } from "./changes.js";
import { explanationView } from "./explanation.js";
import { setUpImpact } from "./impact.js";
import { setUpEditor } from "./editor.js";
import { readScenario, scenarioLink, showScenario } from "./scenario.js";

const DEFAULT_EXAMPLE = "seven-day-return-last-minute-approved";
const DECIDE_DELAY_MS = 250;

// The common fields of an order, by section. Their kinds (select, date and time, amount …)
// and the choices of the selects are read from the order schema (/openapi.json).
// The common fields of an order, by section (their names are in names.js). Their kinds (select, date and
// time, amount …) and the choices of the selects are read from the order schema (/openapi.json).
const SECTIONS = [
  { id: "order", zh: "订单", en: "Order", fields: ["/order_id", "/channel", "/program", "/paid_at", "/as_of", "/payment/amount", "/buyer/credit_score", "/buyer/abuse_flag"] },
  { id: "logistics", zh: "物流", en: "Logistics", fields: ["/logistics/status", "/logistics/promised_ship_by", "/logistics/shipped_at", "/logistics/signed_at", "/logistics/stock_out"] },
  { id: "items", zh: "商品", en: "Items", perItem: ["category", "unit_price", "quantity", "paid_amount", "gift"] },
  {
    id: "claim", zh: "售后申请", en: "Claim", fields: [
      "/claim/type", "/claim/sku", "/claim/quantity", "/claim/requested_at", "/claim/item_condition", "/claim/inspection",
      "/claim/resolution_requested", "/claim/return_tracking_uploaded_at", "/claim/merchant_response", "/claim/gift_returned",
      "/claim/current_unit_price",
    ],
  },
];

const CLAIM_FIELDS = [
  ["outcome", "结果", "Outcome"],
  ["resolution", "处理", "Resolution"],
  ["refund_amount", "退款", "Refund"],
  ["compensation_amount", "赔付", "Compensation"],
  ["refund_timing", "退款时效", "Refund timing"],
  ["refund_channel", "退款渠道", "Refund channel"],
  ["return_shipping_payer", "退货运费承担", "Return shipping paid by"],
];

const state = {
  orderSchema: null,
  schemas: {},         // the components of /openapi.json, where the order schema's references point
  catalogue: null,
  order: null,
  overrides: {},       // applied: what the decision uses
  pending: {},         // typed into the what-if inputs, not yet applied
  result: null,        // last answer: {kind: "single"|"whatif", ...}
  stale: null,         // [zh, en]: why the shown decision is not (yet) the decision of the order shown; null when it is
  baseline: null,      // {order, decision}: the order as loaded (example, text, link) and its decision, to show what edits change
  baselinePending: false,
  explainSide: "changed",
  usedHere: new Set(),  // parameters read by the rules that applied to this order: listed first
  seq: 0,
  timer: null,
};

// ---------------------------------------------------------------- order documents

function parsePointer(pointer) {
  if (!pointer) return [];
  return pointer.slice(1).split("/").map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function getAt(obj, pointer) {
  let node = obj;
  for (const key of parsePointer(pointer)) {
    if (node === null || typeof node !== "object") return undefined;
    node = node[key];
  }
  return node;
}

function setAt(obj, pointer, value) {
  const keys = parsePointer(pointer);
  let node = obj;
  for (const key of keys.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== "object") node[key] = {};
    node = node[key];
  }
  const last = keys[keys.length - 1];
  if (value === undefined) delete node[last];
  else node[last] = value;
}

// ---------------------------------------------------------------- the order schema

function resolveRef(node) {
  // "#/components/schemas/OrderMoney": the order schema's definitions are components of /openapi.json
  let guard = 0;
  while (node && node.$ref && guard++ < 10) {
    const name = node.$ref.split("/").pop();
    node = { ...state.schemas[name], ...Object.fromEntries(Object.entries(node).filter(([k]) => k !== "$ref")), _def: name };
  }
  return node;
}

function schemaAt(pointer) {
  let node = resolveRef(state.orderSchema);
  for (const key of parsePointer(pointer)) {
    if (!node) return null;
    if (node.type === "array" || node.items) node = resolveRef(node.items);
    else node = resolveRef((node.properties || {})[key]);
  }
  return node;
}

function kindOf(schema) {
  if (!schema) return "text";
  if (schema.enum) return "enum";
  if (schema.format === "date-time" || schema._def === "OrderTimestamp") return "datetime";
  if (schema._def === "OrderMoney") return "money";
  if (schema.type === "integer") return "integer";
  if (schema.type === "boolean") return "boolean";
  return "text";
}

function isRequired(pointer) {
  const keys = parsePointer(pointer);
  const parent = schemaAt("/" + keys.slice(0, -1).join("/"));
  return Boolean(parent && (parent.required || []).includes(keys[keys.length - 1]));
}

// ---------------------------------------------------------------- the form

function fieldInput(pointer) {
  const [zh, en] = fieldName(pointer);
  let schema = schemaAt(pointer);
  if (pointer === "/claim/sku") {
    // the claimed line is one of the order's lines: chosen, not typed
    const skus = (state.order.items || []).map((i) => i.sku).filter((sku) => typeof sku === "string");
    const current = getAt(state.order, pointer);
    schema = { ...schema, enum: [...new Set(typeof current === "string" ? [...skus, current] : skus)] };
  }
  const kind = kindOf(schema);
  const id = "f" + pointer.replace(/[^a-zA-Z0-9]/g, "_");
  const value = getAt(state.order, pointer);
  const testid = "field-" + pointer.slice(1).replace(/\//g, ".");
  let input;
  if (kind === "enum") {
    input = h("select", { id });
    if (!isRequired(pointer) || value === undefined) input.append(h("option", { value: "", text: "（无 absent）" }));
    // the value set the order schema marks (x-vocabulary): its names are the served policy's
    for (const option of schema.enum) input.append(h("option", { value: option, text: valueName(option, pointer, schema["x-vocabulary"]) }));
    input.value = value === undefined ? "" : String(value);
  } else if (kind === "boolean") {
    input = h("input", { id, type: "checkbox" });
    input.checked = value === true;
  } else if (kind === "datetime") {
    // one text field (one Tab stop), written as people write times: 2026-11-11 15:20:00, in the order's own offset
    input = h("input", { id, type: "text", inputmode: "numeric", autocomplete: "off", spellcheck: "false", placeholder: "2026-11-11 15:20:00" });
    const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.exec(value || "");
    input.dataset.offset = m ? m[3].toUpperCase() : "+08:00";
    input.value = m ? `${m[1]} ${m[2].length === 5 ? m[2] + ":00" : m[2]}` : value === undefined ? "" : String(value);
  } else if (kind === "money") {
    // an amount is a decimal string on the wire ("199.00"): typed and sent as text, checked by the service
    input = h("input", { id, type: "text", inputmode: "decimal", autocomplete: "off" });
    input.value = value === undefined ? "" : String(value);
  } else if (kind === "integer") {
    input = h("input", { id, type: "number", step: "1", inputmode: "numeric" });
    input.value = value === undefined ? "" : String(value);
  } else {
    input = h("input", { id, type: "text" });
    input.value = value === undefined ? "" : String(value);
  }
  input.dataset.pointer = pointer;
  input.dataset.kind = kind;
  input.dataset.testid = testid;
  input.setAttribute("data-testid", testid);
  input.addEventListener(kind === "boolean" || kind === "enum" ? "change" : "input", () => fieldChanged(input));
  const error = h("p", { class: "field-error", id: id + "-error", "data-testid": testid + "-error", "aria-live": "polite" });
  input.setAttribute("aria-describedby", error.id);
  const label = h("label", { for: id }, ...bi(zh, en));
  return h("div", { class: `field kind-${kind}`, dataset: { pointer } }, label, input, error);
}

function readInput(input) {
  const kind = input.dataset.kind;
  if (kind === "boolean") return input.checked;
  const raw = input.value;
  if (raw === "") return undefined;
  if (kind === "datetime") {
    const m = /^\s*(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2})?\s*$/.exec(raw);
    return m ? `${m[1]}T${m[2]}${m[3] || ":00"}${input.dataset.offset || "+08:00"}` : raw.trim();  // anything else: the service says what is wrong
  }
  if (kind === "money") return raw.trim();
  if (kind === "integer") {
    const n = Number(raw);
    return Number.isFinite(n) ? n : raw;
  }
  return raw;
}

function fieldChanged(input) {
  setAt(state.order, input.dataset.pointer, readInput(input));
  document.getElementById("order-text").value = JSON.stringify(state.order, null, 2);
  scheduleDecide();
}

function renderForm() {
  const form = document.getElementById("order-form");
  form.replaceChildren();
  for (const section of SECTIONS) {
    const box = h("fieldset", { class: `section section-${section.id}`, "data-testid": `section-${section.id}` });
    box.append(h("legend", {}, ...bi(section.zh, section.en)));
    if (section.id === "claim" && !state.order.claim) {
      box.append(h("p", { class: "hint" }, ...bi("此订单没有售后申请。", "This order has no claim.")));
      box.append(h("button", { type: "button", "data-testid": "add-claim", onclick: addClaim }, ...bi("添加售后申请", "Add a claim")));
    } else if (section.perItem) {
      (state.order.items || []).forEach((item, index) => {
        const line = h("div", { class: "item", "data-testid": `item-${index}` });
        line.append(h("p", { class: "item-title" }, h("code", { text: item.sku || `#${index + 1}` }), " ", item.title || ""));
        const grid = h("div", { class: "grid" });
        for (const key of section.perItem) grid.append(fieldInput(`/items/${index}/${key}`));
        line.append(grid);
        box.append(line);
      });
    } else {
      const grid = h("div", { class: "grid" });
      for (const pointer of section.fields) grid.append(fieldInput(pointer));
      box.append(grid);
    }
    form.append(box);
  }
  form.append(h("p", { class: "hint" }, ...bi("其余字段请在“文本”中编辑。", "Edit the other fields as text.")));
}

function addClaim() {
  const item = (state.order.items || [])[0] || {};
  state.order.claim = {
    id: "RF" + String(state.order.order_id || "").replace(/\D/g, "").slice(0, 13),
    type: "no_reason_return",
    sku: item.sku,
    quantity: 1,
    requested_at: state.order.as_of,
    item_condition: "intact",
  };
  renderForm();
  scheduleDecide();
}

// ---------------------------------------------------------------- loading orders

async function loadExample(name) {
  const response = await api(`/v1/examples/${encodeURIComponent(name)}`);
  if (!response.ok) return showGeneralError(response);
  await setOrder(response.data);
  document.getElementById("case-name").value = "";
}

/** A new order to work on (an example, a pasted text, a shared link): what later edits are compared with. */
/** The examples grouped by the guarantee each is about, in the policy's order of guarantees; untitled ones last. */
function exampleGroups(examples) {
  const order = [...guaranteeOrder(), "none"];
  const rank = (g) => (order.includes(g) ? order.indexOf(g) : g === undefined ? order.length + 1 : order.length);
  const groups = new Map();
  for (const e of [...examples].sort((a, b) => rank(a.guarantee) - rank(b.guarantee))) {
    const key = e.guarantee || "other";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(e);
  }
  return groups;
}

function setOrder(order) {
  state.order = order;
  state.baseline = null;
  state.baselinePending = true;
  renderForm();
  document.getElementById("order-text").value = JSON.stringify(order, null, 2);
  document.getElementById("text-problems").replaceChildren();
  return decideNow();
}

async function applyText() {
  const text = document.getElementById("order-text").value;
  const list = document.getElementById("text-problems");
  list.replaceChildren();
  const response = await api("/v1/orders/read", { method: "POST", body: text, contentType: /^\s*[{[]/.test(text) ? "application/json" : "application/yaml" });
  if (!response.ok) {
    const problems = (response.data && response.data.problems) || [{ pointer: "", code: "", message: response.text }];
    for (const p of problems) list.append(problemItem(orderProblem(p)));
    markStale("文本无法读取，未能决策", "the text could not be read, so it was not decided");
    setStatus("error", "文本无法读取 the text could not be read");
    return;
  }
  document.getElementById("example-select").value = "";
  await setOrder(response.data);
}

// ---------------------------------------------------------------- deciding

function scheduleDecide() {
  clearTimeout(state.timer);
  markStale("订单已修改，正在重新决策", "the order was edited: deciding again");
  state.timer = setTimeout(decideNow, DECIDE_DELAY_MS);
}

function setStatus(kind, text) {
  const el = document.getElementById("status");
  el.className = `status ${kind}`;
  el.textContent = text;
  document.body.dataset.state = kind;
}

/** The shown decision is not the decision of the order shown: it stays, greyed, with the reason beside it. */
function markStale(zh, en) {
  state.stale = [zh, en];
  setStatus("busy", `${zh} ${en}`);
  renderStale();
}

function renderStale() {
  const stale = Boolean(state.stale && state.result);
  const note = document.getElementById("stale-note");
  note.hidden = !stale;
  if (stale) note.replaceChildren(h("strong", { text: "⚠ " }), ...bi(`以下是上一次的决策，不是当前订单的：${state.stale[0]}`, `The decision below is the previous one: ${state.stale[1]}`));
  for (const id of ["decision", "explanation", "summary"]) document.getElementById(id).classList.toggle("stale", stale);
  document.body.dataset.stale = String(stale);
}

function saveScenario() {
  showScenario(state.order, state.overrides);
}

async function copyScenarioLink() {
  const link = scenarioLink(state.order, state.overrides);
  const field = document.getElementById("share-url");
  field.hidden = false;
  field.value = link;
  field.select();
  try {
    await navigator.clipboard.writeText(link);
    setStatus("ok", "链接已复制 link copied");
  } catch {
    setStatus("ok", "链接已选中，请复制 the link is selected: copy it");
  }
}

function orderKey() {
  return JSON.stringify(state.order);
}

async function decideNow() {
  clearTimeout(state.timer);
  const seq = ++state.seq;
  setStatus("busy", "决策中… deciding…");
  const overrides = Object.keys(state.overrides).length > 0;
  const response = overrides
    ? await api("/v1/decisions/what-if?explain=true", { method: "POST", body: JSON.stringify({ order: state.order, parameters: state.overrides }) })
    : await api("/v1/explanations", { method: "POST", body: JSON.stringify(state.order) });
  if (seq !== state.seq) return; // a newer edit is being decided
  document.getElementById("text-problems").replaceChildren();
  showProblems([]);
  showWhatIfError(null);
  if (response.ok) {
    state.result = overrides ? { kind: "whatif", ...response.data } : { kind: "single", ...response.data };
    if (state.baselinePending) {
      state.baseline = { order: orderKey(), decision: overrides ? response.data.current : response.data.decision };
      state.baselinePending = false;
    }
    state.stale = null;
    renderResult();
    renderStale();
    setStatus("ok", "已决策 decided");
    saveScenario();
    return;
  }
  // The last decision stays in view, greyed and marked, beside the reason this order was not decided.
  const data = response.data || {};
  if (data.error === "facts") {
    showProblems(data.problems || []);
    markStale("修改后的订单有问题，未能决策", "the edited order has problems, so it was not decided");
    setStatus("error", "订单有问题，未能决策 the order has problems: not decided");
  } else if (data.error === "policy") {
    showWhatIfError(data);
    markStale("假设的参数值无效，未能决策", "a what-if parameter value was refused, so it was not decided");
    setStatus("error", "参数值无效 invalid parameter value");
  } else {
    markStale("未能决策", "not decided");
    showGeneralError(response);
  }
}

function showWhatIfError(data) {
  const box = document.getElementById("whatif-error");
  box.hidden = !data;
  if (!data) return;
  const kinds = Object.fromEntries(state.catalogue.parameters.map((p) => [p.name, p.kind]));
  const diagnostics = data.diagnostics || [{ code: "", message: data.message }];
  box.replaceChildren(h("ul", { class: "problems" }, diagnostics.map((d) => problemItem(parameterProblem(d, kinds)))));
}

/** One problem, Chinese first with the service's English beside it. */
function problemItem(problem, extra = null) {
  return h("li", { class: "problem", dataset: problem.pointer !== undefined ? { pointer: problem.pointer } : {} },
    problem.zh, " ", h("span", { class: "en", text: problem.en }), extra);
}

function showGeneralError(response) {
  const box = document.getElementById("problems-box");
  box.hidden = false;
  const problem = generalProblem(response.status, response.data || {}, response.text);
  box.replaceChildren(h("p", { class: "error" }, problem.zh, " ", h("span", { class: "en", text: problem.en })));
  setStatus("error", "未能决策 not decided");
}

function problemField(problem) {
  const form = document.getElementById("order-form");
  const find = (pointer) => form.querySelector(`[data-pointer="${CSS.escape(pointer)}"]:is(input, select)`);
  let input = find(problem.pointer);
  const missing = /^missing required field '(.+)'$/.exec(problem.message || "");
  if (!input && missing) input = find(`${problem.pointer}/${missing[1]}`);
  return input;
}

function showProblems(problems) {
  for (const el of document.querySelectorAll(".field.has-error")) el.classList.remove("has-error");
  for (const el of document.querySelectorAll(".field-error")) el.textContent = "";
  for (const el of document.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const box = document.getElementById("problems-box");
  box.replaceChildren();
  box.hidden = problems.length === 0;
  if (problems.length === 0) return;
  const list = h("ul", { class: "problems" });
  for (const problem of problems) {
    const words = orderProblem(problem);
    const input = problemField(problem);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      const field = input.closest(".field");
      field.classList.add("has-error");
      const error = field.querySelector(".field-error");
      error.textContent = (error.textContent ? error.textContent + "；" : "") + `${words.zh} ${problem.message}`;
    }
    list.append(problemItem(words, input ? h("span", { class: "at-field" }, " ↖ ", ...bi("已标在字段旁", "shown at the field")) : null));
  }
  box.append(h("p", { class: "error" }, ...bi("订单不符合格式要求，未能决策：", "The order does not fit the schema, so it was not decided:")), list);
}

// ---------------------------------------------------------------- the decision

function itemTitle(sku) {
  const item = (state.order.items || []).find((i) => i.sku === sku);
  return item && item.title ? item.title : "";
}

function decisionCard(decision, other, side) {
  const card = h("div", { class: "decision-card", "data-testid": `decision-${side}` });
  const services = h("div", { class: "services" }, h("h3", {}, ...bi("保障服务", "Services per line")));
  for (const [sku, list] of Object.entries(decision.services)) {
    const otherList = other ? other.services[sku] || [] : list;
    const badges = h("div", { class: "badges" });
    for (const service of list) {
      badges.append(h("span", { class: `badge${otherList.includes(service) ? "" : " diff"}`, title: service, "data-service": service, "data-testid": "service-badge" }, serviceName(service)));
    }
    for (const service of otherList.filter((s) => !list.includes(s))) {
      badges.append(h("span", { class: "badge removed", title: service, "data-service": service }, serviceName(service)));
    }
    if (list.length === 0) badges.append(h("span", { class: "muted" }, "（无 none）"));
    services.append(h("div", { class: "line", "data-sku": sku }, h("p", { class: "sku" }, h("code", { text: sku }), " ", itemTitle(sku)), badges));
  }
  card.append(services);

  const claim = decision.claim;
  if (claim) {
    const otherClaim = other && other.claim;
    const box = h("div", { class: `claim outcome-${claim.outcome}`, "data-testid": `claim-${side}` });
    box.append(h("h3", {}, ...bi("售后申请", "Claim"), " ", h("code", { text: claim.id }), " ", h("span", { class: "muted", text: valueName(claim.type) })));
    const table = h("dl", { class: "claim-fields" });
    for (const [key, zh, en] of CLAIM_FIELDS) {
      let value = claim[key];
      if (key.endsWith("_amount")) value = money(value);
      else if (key === "refund_channel") value = valueName(value);
      else value = valueName(value);
      if (key === "refund_timing" && claim.refund_due_by) value += `，最迟 due by ${localTime(claim.refund_due_by)}`;
      const changed = otherClaim && JSON.stringify(otherClaim[key]) !== JSON.stringify(claim[key]);
      table.append(h("dt", {}, ...bi(zh, en)), h("dd", { class: changed ? "diff" : "", "data-testid": `claim-${key}-${side}` }, key === "outcome" ? h("span", { class: `outcome ${claim.outcome}`, text: value }) : value));
    }
    if (claim.deductions.length) {
      table.append(h("dt", {}, ...bi("扣减", "Deductions")),
        h("dd", {}, claim.deductions.map((d) => h("div", {}, `${valueName(d.type)} −${money(d.amount)}`))));
    }
    box.append(table);
    const reasons = h("ul", { class: "reasons", "data-testid": `reasons-${side}` });
    for (const reason of claim.reasons) reasons.append(h("li", {}, reason.message, " ", h("code", { class: "rule-id", text: reason.rule })));
    box.append(h("h4", {}, ...bi("原因", "Reasons")), reasons);
    card.append(box);
  } else {
    card.append(h("p", { class: "muted", "data-testid": `claim-${side}` }, ...bi("无售后申请", "No claim")));
  }

  if (decision.compensations.length) {
    const list = h("ul", { class: "compensations", "data-testid": `compensations-${side}` });
    for (const c of decision.compensations) {
      list.append(h("li", {}, `${valueName(c.type)}：${money(c.amount)} ${valueName(c.form)}，${valueName(c.payer)} 支付 paid by `, " ", h("code", { class: "rule-id", text: c.rule })));
    }
    card.append(h("h3", {}, ...bi("赔付", "Compensations")), list);
  }
  if (decision.violations.length) {
    const list = h("ul", { class: "violations", "data-testid": `violations-${side}` });
    for (const v of decision.violations) list.append(h("li", {}, valueName(v.type), " ", h("code", { class: "rule-id", text: v.rule })));
    card.append(h("h3", {}, ...bi("违规", "Violations")), list);
  }
  card.append(h("details", { class: "fired" }, h("summary", {}, ...bi(`触发规则 ${decision.fired.length} 条`, `${decision.fired.length} rules fired`)),
    h("p", {}, decision.fired.map((r) => h("code", { class: "rule-id", text: r })))));
  return card;
}

function renderResult() {
  const root = document.getElementById("decision");
  root.replaceChildren();
  const result = state.result;
  const switcher = document.getElementById("explanation-switch");
  renderSummary();
  if (result.kind === "single") {
    const d = result.decision;
    root.append(h("p", { class: "meta" }, `订单 Order ${d.order_id} · 决策时刻 as of ${localTime(d.as_of)} · 策略 policy ${d.policy.version}`));
    const edited = state.baseline && state.baseline.order !== orderKey() ? state.baseline.decision : null;
    if (edited) root.append(editChanges(edited, d));
    root.append(decisionCard(d, edited, "current"));
    switcher.hidden = true;
    renderExplanation(result.explanation);
    return;
  }
  const changes = h("div", { class: "changes", "data-testid": "changes" });
  const params = Object.entries(result.parameters).map(([name, v]) => h("li", {}, parameterName(name), " ", h("code", { text: name }), ` ${fmtParam(v.current)} → `, h("strong", { text: fmtParam(v.changed) })));
  changes.append(h("h3", {}, ...bi("假设参数", "What-if parameters")), h("ul", { class: "params-changed" }, params));
  if (result.changes.length) {
    const list = h("ul", { class: "change-list", "data-testid": "change-list" });
    for (const c of result.changes) list.append(changeItem(c.guarantee, c.field, ...splitChange(c.change)));
    changes.append(h("h3", {}, ...bi(`决策变化 ${result.changes.length} 处`, `${result.changes.length} changes`)), list);
  } else {
    changes.append(h("p", { class: "muted", "data-testid": "change-list" }, ...bi("此订单的决策没有变化。", "This order's decision does not change.")));
  }
  root.append(changes);
  root.append(h("div", { class: "compare" },
    h("div", { class: "side" }, h("h3", { class: "side-title" }, ...bi("当前", "Current")), decisionCard(result.current, result.changed, "current")),
    h("div", { class: "side changed" }, h("h3", { class: "side-title" }, ...bi("假设", "What-if")), decisionCard(result.changed, result.current, "changed"))));
  switcher.hidden = false;
  for (const b of switcher.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.side === state.explainSide));
  renderExplanation(result.explanation[state.explainSide]);
}

/** The bar that keeps the outcome in view while editing: the claim's outcome and refund, or the services. */
function renderSummary() {
  const bar = document.getElementById("summary");
  const result = state.result;
  const d = result.kind === "single" ? result.decision : result.changed;
  const parts = [h("span", { class: "summary-title" }, ...bi(result.kind === "single" ? "决策" : "假设决策", result.kind === "single" ? "Decision" : "What-if decision"))];
  if (d.claim) {
    parts.push(h("span", { class: `outcome ${d.claim.outcome}`, "data-testid": "summary-outcome", text: valueName(d.claim.outcome) }),
      h("span", {}, "退款 refund ", h("strong", { text: money(d.claim.refund_amount) })));
  } else {
    const services = new Set(Object.values(d.services).flat());
    parts.push(h("span", { "data-testid": "summary-outcome" }, ...bi(`无售后申请 · ${services.size} 项保障`, `no claim · ${services.size} services`)));
  }
  if (d.compensations.length) parts.push(h("span", {}, "赔付 compensation ", h("strong", { text: money(sumMoney(d.compensations.map((c) => c.amount))) })));
  bar.replaceChildren(...parts);
  bar.hidden = false;
}

function sumMoney(amounts) {
  // exact: in cents, as integers (the amounts have at most two decimals)
  let cents = 0n;
  for (const a of amounts) {
    const m = /^(-?)([0-9]+)(?:\.([0-9]{1,2}))?$/.exec(String(a));
    if (!m) return "?";
    const value = BigInt(m[2]) * 100n + BigInt((m[3] || "").padEnd(2, "0"));
    cents += m[1] ? -value : value;
  }
  const sign = cents < 0n ? "-" : "";
  const abs = cents < 0n ? -cents : cents;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`;
}

/** What the edits to the order (since it was loaded) changed in its decision: before → after, field by field. */
function editChanges(before, after) {
  const found = decisionChanges(before, after);
  const box = h("div", { class: "changes edits", "data-testid": "edit-changes" });
  box.append(h("h3", {}, ...bi(found.length ? `订单修改后，决策变化 ${found.length} 处（修改前 → 修改后）` : "订单已修改，决策没有变化",
    found.length ? `${found.length} changes since the order was loaded (before → after)` : "The order was edited; its decision did not change")));
  if (found.length) box.append(h("ul", { class: "change-list", "data-testid": "edit-change-list" }, found.map((c) => changeItem(...c))));
  box.append(h("button", { type: "button", class: "link", "data-testid": "rebase", onclick: () => {
    state.baseline = { order: orderKey(), decision: after };
    renderResult();
  } }, ...bi("以当前订单为对照", "compare with this order from now on")));
  return box;
}

function fmtParam(value) {
  return Array.isArray(value) ? value.join(", ") : String(value);
}

// ---------------------------------------------------------------- the explanation

function decisiveGuarantees() {
  const result = state.result;
  const decision = result.kind === "single" ? result.decision : result[state.explainSide];
  const rules = new Set([
    ...((decision.claim && decision.claim.reasons) || []).map((r) => r.rule),
    ...decision.compensations.map((c) => c.rule),
    ...decision.violations.map((v) => v.rule),
  ]);
  return new Set([...rules].map((r) => r.split(".")[0]));
}

function noteParametersUsedHere(groups) {
  // first in the what-if list: the parameters that decided this order's claim, compensations and
  // violations — read by a deciding condition of a rule that applied (not the service grants), or by a rule that fired
  const used = new Set();
  const fired = new Set();
  for (const group of groups) {
    for (const entry of group.entries.filter((e) => e.relevant && !e.rule.endsWith(".service"))) {
      if (entry.matched) fired.add(entry.rule);
      for (const c of entry.conditions.filter((c) => c.decided)) {
        for (const v of c.values) if (v.parameter) used.add(v.name.replace(/^params\./, ""));
      }
    }
  }
  for (const p of state.catalogue.parameters) if (p.used_by.some((r) => fired.has(r))) used.add(p.name);
  const same = used.size === state.usedHere.size && [...used].every((n) => state.usedHere.has(n));
  state.usedHere = used;
  if (!same && !document.getElementById("param-list").contains(document.activeElement)) renderParams();
}

function renderExplanation(groups) {
  noteParametersUsedHere(groups);
  explanationView(document.getElementById("explanation"), groups, decisiveGuarantees());
}

// ---------------------------------------------------------------- what-if

const NUMBER_PARAMETERS = new Set(["integer", "days", "hours", "decimal", "rate"]);

function paramInputValue(param, raw) {
  if (Array.isArray(param.value)) return raw.split(/[,，、]/).map((s) => s.trim()).filter(Boolean);
  if (param.kind === "money") return raw.trim(); // a decimal string, as money is everywhere on the wire
  if (NUMBER_PARAMETERS.has(param.kind)) {
    const n = Number(raw);
    return raw.trim() !== "" && Number.isFinite(n) ? n : raw;
  }
  return raw;
}

function renderParams() {
  const root = document.getElementById("param-list");
  const focused = root.contains(document.activeElement) ? document.activeElement.id : null;  // Enter keeps the focus where it was
  root.replaceChildren();
  const filter = document.getElementById("param-filter").value.trim().toLowerCase();
  const params = [...state.catalogue.parameters].sort((a, b) => Number(state.usedHere.has(b.name)) - Number(state.usedHere.has(a.name)));
  for (const param of params) {
    const text = `${param.name} ${param.description} ${param.used_by.join(" ")}`.toLowerCase();
    if (filter && !text.includes(filter)) continue;
    const id = `param-${param.name}`;
    const input = h("input", { id, type: NUMBER_PARAMETERS.has(param.kind) ? "number" : "text", step: "any", inputmode: param.kind === "money" ? "decimal" : null, "data-testid": `param-input-${param.name}`, "data-param": param.name });
    const pending = state.pending[param.name];
    input.value = pending !== undefined ? fmtParam(pending) : "";
    input.placeholder = fmtParam(param.value);
    input.addEventListener("input", () => {
      if (input.value.trim() === "") delete state.pending[param.name];
      else state.pending[param.name] = paramInputValue(param, input.value);
      row.classList.toggle("edited", state.pending[param.name] !== undefined);
    });
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") applyWhatIf(); });
    const apply = h("button", { type: "button", id: `apply-${param.name}`, class: "apply-one", "data-testid": `param-apply-${param.name}`, onclick: applyWhatIf, "aria-label": `应用假设 Apply: ${param.name}` }, ...bi("应用", "Apply"));
    const applied = state.overrides[param.name] !== undefined;
    const row = h("div", { class: `param${applied ? " applied" : ""}${pending !== undefined ? " edited" : ""}`, "data-testid": `param-${param.name}` },
      h("label", { for: id }, parameterName(param.name), " ", h("code", { text: param.name }), " ", h("span", { class: "muted", text: param.type }),
        state.usedHere.has(param.name) ? h("span", { class: "used-here", "data-testid": "used-here" }, ...bi("影响本订单", "decides this order")) : null),
      h("p", { class: "desc", text: param.description }),
      h("p", { class: "current" }, ...bi("当前值", "current"), "：", h("strong", { text: param.display }),
        applied ? h("span", { class: "applied-tag" }, " → ", fmtParam(state.overrides[param.name])) : null),
      h("div", { class: "param-input" }, input, apply));
    root.append(row);
  }
  if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
}

function applyWhatIf() {
  state.overrides = { ...state.pending };
  state.explainSide = "changed";
  renderParams();
  decideNow();
}

function clearWhatIf() {
  state.overrides = {};
  state.pending = {};
  renderParams();
  decideNow();
}

// ---------------------------------------------------------------- download a case file

async function downloadCase() {
  const name = document.getElementById("case-name").value.trim();
  const body = { order: state.order };
  if (name) body.name = name;
  if (Object.keys(state.overrides).length) body.parameters = state.overrides;
  const headers = { "content-type": "application/json", ...authHeaders() };
  const response = await fetch("/v1/cases", { method: "POST", headers, body: JSON.stringify(body) });
  if (!response.ok) {
    const text = await response.text();
    let data = {};
    try { data = JSON.parse(text); } catch { /* shown as text */ }
    if (data.error === "facts") showProblems(data.problems || []);
    else showGeneralError({ status: response.status, data, text });
    return;
  }
  const disposition = response.headers.get("content-disposition") || "";
  const filename = (/filename="([^"]+)"/.exec(disposition) || [])[1] || "order.cases.yaml";
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  setStatus("ok", `已下载 downloaded ${filename}`);
}

// ---------------------------------------------------------------- the policy catalogue

function renderCatalogue() {
  const filter = document.getElementById("catalogue-filter").value.trim().toLowerCase();
  catalogueView(state.catalogue, document.getElementById("catalogue"), document.getElementById("catalogue-toc"), filter, tryParameter);
}

function tryParameter(name) {
  showView("try");
  const filter = document.getElementById("param-filter");
  filter.value = name;
  document.getElementById("whatif").open = true;
  renderParams();
  const input = document.querySelector(`[data-param="${CSS.escape(name)}"]`);
  if (input) { input.scrollIntoView({ block: "center" }); input.focus(); }
}

// ---------------------------------------------------------------- tabs and start

function showView(name) {
  for (const [tab, view] of [["tab-try", "view-try"], ["tab-policy", "view-policy"], ["tab-edit", "view-edit"]]) {
    const on = tab === `tab-${name}`;
    document.getElementById(tab).setAttribute("aria-selected", String(on));
    document.getElementById(view).hidden = !on;
  }
}

function showSubtab(name) {
  const form = name === "form";
  document.getElementById("subtab-form").setAttribute("aria-selected", String(form));
  document.getElementById("subtab-text").setAttribute("aria-selected", String(!form));
  document.getElementById("order-form").hidden = !form;
  document.getElementById("order-text-panel").hidden = form;
}

// ---------------------------------------------------------------- the access token

function askForToken(message) {
  const form = document.getElementById("token-form");
  form.hidden = false;
  document.getElementById("token-message").textContent = message;
  setStatus("error", message);
  document.body.dataset.ready = "true";
  document.getElementById("token-input").focus();
}

function setUpTokenForm() {
  const form = document.getElementById("token-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();  // nothing is posted: the token stays in this tab
    const token = document.getElementById("token-input").value.trim();
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    location.reload();
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    location.reload();
  });
}

async function start() {
  setStatus("busy", "加载中… loading…");
  setUpTokenForm();
  const spec = await api("/openapi.json");
  if ((spec.data.security || []).length) {  // the service checks tokens
    document.getElementById("token-form").hidden = false;
    if (!sessionStorage.getItem(TOKEN_KEY)) {
      askForToken("此服务需要访问令牌（权限 decide 与 read）/ this service needs an access token (scopes decide and read)");
      return;
    }
  }
  const [catalogue, examples, policy] = await Promise.all([api("/v1/policy/catalogue"), api("/v1/examples"), api("/v1/policy")]);
  const refused = [catalogue, examples, policy].find((r) => r.status === 401 || r.status === 403);
  if (refused) {
    askForToken(refused.status === 401
      ? "令牌无效 / the service does not know this token"
      : "此令牌缺少 read 权限 / this token lacks the read scope");
    return;
  }
  state.orderSchema = spec.data.components.schemas.Order;
  state.schemas = spec.data.components.schemas;
  state.catalogue = catalogue.data;
  learnNames(catalogue.data);
  const p = policy.data;
  document.querySelector("[data-testid=policy-line]").textContent =
    `实时策略 Live policy: ${p.name} ${p.version} · ${p.digest.slice(0, 19)}… · ${p.rules.length} 条规则 rules`;

  const select = document.getElementById("example-select");
  select.append(h("option", { value: "", text: "（自己编辑或粘贴 your own / pasted）" }));
  for (const [guarantee, list] of exampleGroups(examples.data)) {
    select.append(h("optgroup", { label: serviceName(guarantee) }, list.map((e) => h("option", { value: e.name, text: e.title_zh ? `${e.title_zh}（${e.name}）` : e.name }))));
  }
  select.addEventListener("change", () => { if (select.value) loadExample(select.value); });

  document.getElementById("tab-try").addEventListener("click", () => showView("try"));
  document.getElementById("tab-policy").addEventListener("click", () => showView("policy"));
  document.getElementById("subtab-form").addEventListener("click", () => showSubtab("form"));
  document.getElementById("subtab-text").addEventListener("click", () => showSubtab("text"));
  document.getElementById("apply-text").addEventListener("click", applyText);
  document.getElementById("apply-whatif").addEventListener("click", applyWhatIf);
  document.getElementById("clear-whatif").addEventListener("click", clearWhatIf);
  document.getElementById("download-case").addEventListener("click", downloadCase);
  document.getElementById("param-filter").addEventListener("input", renderParams);
  document.getElementById("catalogue-filter").addEventListener("input", renderCatalogue);
  for (const b of document.querySelectorAll("#explanation-switch button")) {
    b.addEventListener("click", () => { state.explainSide = b.dataset.side; renderResult(); });
  }
  for (const list of document.querySelectorAll("[role=tablist]")) {
    // arrow keys move between tabs, as in any tab list
    list.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
      const tabs = [...list.querySelectorAll("[role=tab]")];
      const next = tabs[(tabs.indexOf(document.activeElement) + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
      next.focus();
      next.click();
      event.preventDefault();
    });
  }
  document.getElementById("share-link").addEventListener("click", copyScenarioLink);
  setUpImpact({
    parameters: () => (Object.keys(state.pending).length ? { ...state.pending } : { ...state.overrides }),
    kinds: () => Object.fromEntries(state.catalogue.parameters.map((p) => [p.name, p.kind])),
    openOrder: (order, parameters) => {
      state.overrides = Object.fromEntries(Object.entries(parameters).map(([name, v]) => [name, v.changed]));
      state.pending = { ...state.overrides };
      state.explainSide = "changed";
      renderParams();
      document.getElementById("example-select").value = "";
      setOrder(order);
      document.getElementById("summary").scrollIntoView({ block: "start" });
    },
  });
  document.getElementById("order-text").addEventListener("input", () => markStale("文本已修改，尚未应用", "the text was edited and not yet applied"));
  renderParams();
  renderCatalogue();
  const scenario = readScenario();
  if (scenario && !scenario.error) {
    // a shared link: its order and its what-if parameters
    state.overrides = { ...scenario.parameters };
    state.pending = { ...scenario.parameters };
    renderParams();
    select.value = "";
    await setOrder(scenario.order);
  } else {
    const wanted = new URLSearchParams(location.search).get("example") || DEFAULT_EXAMPLE;
    const first = examples.data.some((e) => e.name === wanted) ? wanted : (examples.data[0] || {}).name;
    if (first) {
      select.value = first;
      await loadExample(first);
    }
    if (scenario) showGeneralError({ status: 400, data: { error: "link", message: `the link's scenario cannot be read: ${scenario.error}` }, text: "" });
  }
  await setUpEditor(showView);  // the 编辑规则 tab appears only when the service offers editing to this token
  document.body.dataset.ready = "true";
}

start().catch((error) => {
  setStatus("error", "页面加载失败 the page failed to load: " + error);
});
