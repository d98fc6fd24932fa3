// The policy playground: try orders against the live policy.
// Plain ES module, no build step, nothing external. Everything shown comes from the
// service's HTTP API (/v1/...): the page only lays it out.

const DEFAULT_EXAMPLE = "seven-day-return-last-minute-approved";
const DECIDE_DELAY_MS = 250;

// The common fields of an order, by section. Their kinds (select, date and time, amount …)
// and the choices of the selects are read from the order schema (/openapi.json).
const SECTIONS = [
  {
    id: "order", zh: "订单", en: "Order", fields: [
      ["/order_id", "订单号", "Order id"],
      ["/channel", "渠道", "Channel"],
      ["/program", "项目", "Program"],
      ["/paid_at", "付款时间", "Paid at"],
      ["/as_of", "决策时刻", "Decide as of"],
      ["/payment/amount", "实付金额（元）", "Amount paid (CNY)"],
      ["/buyer/credit_score", "买家信用分", "Buyer credit score"],
      ["/buyer/abuse_flag", "买家滥用标记", "Buyer abuse flag"],
    ],
  },
  {
    id: "logistics", zh: "物流", en: "Logistics", fields: [
      ["/logistics/status", "物流状态", "Status"],
      ["/logistics/promised_ship_by", "承诺发货时间", "Promised to ship by"],
      ["/logistics/shipped_at", "发货时间", "Shipped at"],
      ["/logistics/signed_at", "签收时间", "Signed for at"],
      ["/logistics/stock_out", "缺货", "Stock out"],
    ],
  },
  {
    id: "items", zh: "商品", en: "Items", perItem: [
      ["category", "品类", "Category"],
      ["unit_price", "单价（元）", "Unit price (CNY)"],
      ["quantity", "数量", "Quantity"],
      ["paid_amount", "实付（元）", "Paid (CNY)"],
      ["gift", "赠品", "Gift"],
    ],
  },
  {
    id: "claim", zh: "售后申请", en: "Claim", fields: [
      ["/claim/type", "申请类型", "Claim type"],
      ["/claim/sku", "申请商品 SKU", "Claimed SKU"],
      ["/claim/quantity", "申请数量", "Quantity claimed"],
      ["/claim/requested_at", "申请时间", "Requested at"],
      ["/claim/item_condition", "商品状态", "Item condition"],
      ["/claim/inspection", "检测结果", "Inspection"],
      ["/claim/resolution_requested", "诉求", "Resolution requested"],
      ["/claim/return_tracking_uploaded_at", "上传退货单号时间", "Return tracking uploaded at"],
      ["/claim/merchant_response", "商家答复", "Merchant response"],
      ["/claim/gift_returned", "赠品已退回", "Gift returned"],
      ["/claim/current_unit_price", "现价（元）", "Current unit price (CNY)"],
    ],
  },
];

// [field, 中文, English, the vocabulary set its codes come from]
const CLAIM_FIELDS = [
  ["outcome", "结果", "Outcome", "outcome"],
  ["resolution", "处理", "Resolution", "resolution"],
  ["refund_amount", "退款", "Refund"],
  ["compensation_amount", "赔付", "Compensation"],
  ["refund_timing", "退款时效", "Refund timing", "refund_timing"],
  ["refund_channel", "退款渠道", "Refund channel", "payment_method"],
  ["return_shipping_payer", "退货运费承担", "Return shipping paid by", "return_shipping_payer"],
];

const state = {
  orderSchema: null,
  schemas: {},         // the components of /openapi.json, where the order schema's references point
  catalogue: null,
  vocabulary: {},      // the policy's value sets: set → {title, values: [{code, zh, en}]} (/v1/policy/catalogue)
  order: null,
  overrides: {},       // applied: what the decision uses
  pending: {},         // typed into the what-if inputs, not yet applied
  result: null,        // last answer: {kind: "single"|"whatif", ...}
  explainSide: "changed",
  usedHere: new Set(),  // parameters read by the rules that applied to this order: listed first
  seq: 0,
  timer: null,
};

// ---------------------------------------------------------------- helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function bi(zh, en) {
  return [zh, " ", h("span", { class: "en", text: en })];
}

// With --auth-token-file the service wants a bearer token (scopes decide and read for this page). The page
// keeps it in sessionStorage: this tab only, gone when the tab closes, never sent by the browser on its own
// (unlike a cookie), so another site cannot make the browser use it.
const TOKEN_KEY = "ruleengine.token";

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function api(path, { method = "GET", body, contentType = "application/json" } = {}) {
  const init = { method, headers: authHeaders() };
  if (body !== undefined) {
    init.body = body;
    init.headers["content-type"] = contentType;
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data = null;
  try { data = JSON.parse(text); } catch { data = null; }
  return { status: response.status, ok: response.ok, data, text, headers: response.headers };
}

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

function term(set, code) {
  const found = state.vocabulary[set];
  return found ? found.values.find((v) => v.code === code) : undefined;
}

function named(set, code) {
  // a code as policy staff read it: the policy's Chinese name, the code beside ("批准 approved")
  const t = term(set, code);
  return t ? `${t.zh} ${code}` : String(code);
}

function zhName(set, code) {
  const t = term(set, code);
  return t ? t.zh : String(code);
}

function money(value) {
  // Amounts arrive as decimal strings ("33.33") and are shown as written, never through a binary float.
  const m = /^(-?[0-9]+)(?:\.([0-9]{1,2}))?$/.exec(String(value));
  return m ? `${m[1]}.${(m[2] || "").padEnd(2, "0")} 元` : String(value);
}

function localTime(value) {
  // "2026-11-11T15:20:00+08:00" → "2026-11-11 15:20" (the policy's calendar is +08:00; shown as written)
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2})?/.exec(String(value));
  return m ? `${m[1]} ${m[2]}` : String(value);
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

function fieldInput(pointer, zh, en) {
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
    const set = schema["x-vocabulary"];  // the value set the order schema marks: its names are the policy's
    for (const option of schema.enum) input.append(h("option", { value: option, text: set ? named(set, option) : option }));
    input.value = value === undefined ? "" : String(value);
  } else if (kind === "boolean") {
    input = h("input", { id, type: "checkbox" });
    input.checked = value === true;
  } else if (kind === "datetime") {
    input = h("input", { id, type: "datetime-local", step: "1" });
    const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.exec(value || "");
    input.dataset.offset = m ? m[2] : "+08:00";
    input.value = m ? m[1] : "";
    if (value !== undefined && !m) input.dataset.raw = String(value);
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
    const withSeconds = /T\d{2}:\d{2}$/.test(raw) ? raw + ":00" : raw;
    return withSeconds + (input.dataset.offset || "+08:00");
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
        for (const [key, zh, en] of section.perItem) grid.append(fieldInput(`/items/${index}/${key}`, zh, en));
        line.append(grid);
        box.append(line);
      });
    } else {
      const grid = h("div", { class: "grid" });
      for (const [pointer, zh, en] of section.fields) grid.append(fieldInput(pointer, zh, en));
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
  setOrder(response.data);
  document.getElementById("case-name").value = "";
}

function setOrder(order) {
  state.order = order;
  renderForm();
  document.getElementById("order-text").value = JSON.stringify(order, null, 2);
  document.getElementById("text-problems").replaceChildren();
  decideNow();
}

async function applyText() {
  const text = document.getElementById("order-text").value;
  const list = document.getElementById("text-problems");
  list.replaceChildren();
  const response = await api("/v1/orders/read", { method: "POST", body: text, contentType: /^\s*[{[]/.test(text) ? "application/json" : "application/yaml" });
  if (!response.ok) {
    for (const p of (response.data && response.data.problems) || [{ message: response.text }]) {
      const where = p.line ? `第 ${p.line} 行第 ${p.column} 列 line ${p.line}, column ${p.column}: ` : "";
      list.append(h("li", { class: "problem" }, where + p.message));
    }
    setStatus("error", "文本无法读取 the text could not be read");
    return;
  }
  if (!response.data || typeof response.data !== "object" || Array.isArray(response.data)) {
    list.append(h("li", { class: "problem", text: "订单必须是一个对象 an order must be an object" }));
    return;
  }
  state.order = response.data;
  renderForm();
  document.getElementById("example-select").value = "";
  decideNow();
}

// ---------------------------------------------------------------- deciding

function scheduleDecide() {
  clearTimeout(state.timer);
  setStatus("busy", "待决策… deciding…");
  state.timer = setTimeout(decideNow, DECIDE_DELAY_MS);
}

function setStatus(kind, text) {
  const el = document.getElementById("status");
  el.className = `status ${kind}`;
  el.textContent = text;
  document.body.dataset.state = kind;
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
  document.getElementById("whatif-error").hidden = true;
  if (response.ok) {
    state.result = overrides ? { kind: "whatif", ...response.data } : { kind: "single", ...response.data };
    renderResult();
    setStatus("ok", "已决策 decided");
    return;
  }
  const data = response.data || {};
  state.result = null;
  document.getElementById("decision").replaceChildren();
  document.getElementById("explanation").replaceChildren();
  if (data.error === "facts") {
    showProblems(data.problems || []);
    setStatus("error", "订单有问题，未能决策 the order has problems: not decided");
  } else if (data.error === "policy") {
    const box = document.getElementById("whatif-error");
    box.hidden = false;
    box.textContent = "参数值无效 invalid parameter value: " + (data.message || JSON.stringify(data.diagnostics));
    setStatus("error", "参数值无效 invalid parameter value");
  } else {
    showGeneralError(response);
  }
}

function showGeneralError(response) {
  const data = response.data || {};
  const box = document.getElementById("problems-box");
  box.hidden = false;
  box.replaceChildren(h("p", { class: "error" }, `${response.status} ${data.error || ""}: ${data.message || response.text}` + (data.rule ? ` [${data.rule}]` : "")));
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
    const input = problemField(problem);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      const field = input.closest(".field");
      field.classList.add("has-error");
      const error = field.querySelector(".field-error");
      error.textContent = (error.textContent ? error.textContent + "；" : "") + problem.message;
    }
    list.append(h("li", { class: "problem", dataset: { pointer: problem.pointer } },
      h("code", { text: problem.pointer || "/" }), " ", problem.message,
      input ? h("span", { class: "at-field" }, " ↖ ", ...bi("已标在字段旁", "shown at the field")) : null));
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
      badges.append(h("span", { class: `badge${otherList.includes(service) ? "" : " diff"}`, title: service, "data-service": service, "data-testid": "service-badge" }, zhName("service", service)));
    }
    for (const service of otherList.filter((s) => !list.includes(s))) {
      badges.append(h("span", { class: "badge removed", title: service, "data-service": service }, zhName("service", service)));
    }
    if (list.length === 0) badges.append(h("span", { class: "muted" }, "（无 none）"));
    services.append(h("div", { class: "line", "data-sku": sku }, h("p", { class: "sku" }, h("code", { text: sku }), " ", itemTitle(sku)), badges));
  }
  card.append(services);

  const claim = decision.claim;
  if (claim) {
    const otherClaim = other && other.claim;
    const box = h("div", { class: `claim outcome-${claim.outcome}`, "data-testid": `claim-${side}` });
    box.append(h("h3", {}, ...bi("售后申请", "Claim"), " ", h("code", { text: claim.id }), " ", h("span", { class: "muted", text: named("claim_type", claim.type) })));
    const table = h("dl", { class: "claim-fields" });
    for (const [key, zh, en, set] of CLAIM_FIELDS) {
      let value = claim[key];
      if (key.endsWith("_amount")) value = money(value);
      else value = named(set, value);
      if (key === "refund_timing" && claim.refund_due_by) value += `，最迟 due by ${localTime(claim.refund_due_by)}`;
      const changed = otherClaim && JSON.stringify(otherClaim[key]) !== JSON.stringify(claim[key]);
      table.append(h("dt", {}, ...bi(zh, en)), h("dd", { class: changed ? "diff" : "", "data-testid": `claim-${key}-${side}` }, key === "outcome" ? h("span", { class: `outcome ${claim.outcome}`, text: value }) : value));
    }
    if (claim.deductions.length) {
      table.append(h("dt", {}, ...bi("扣减", "Deductions")),
        h("dd", {}, claim.deductions.map((d) => h("div", {}, `${named("deduction_type", d.type)} −${money(d.amount)}`))));
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
      list.append(h("li", {}, `${named("compensation_type", c.type)}：${money(c.amount)} ${named("compensation_form", c.form)}，${named("payer", c.payer)} 支付 paid by `, " ", h("code", { class: "rule-id", text: c.rule })));
    }
    card.append(h("h3", {}, ...bi("赔付", "Compensations")), list);
  }
  if (decision.violations.length) {
    const list = h("ul", { class: "violations", "data-testid": `violations-${side}` });
    for (const v of decision.violations) list.append(h("li", {}, named("violation_type", v.type), " ", h("code", { class: "rule-id", text: v.rule })));
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
  if (result.kind === "single") {
    const d = result.decision;
    root.append(h("p", { class: "meta" }, `订单 Order ${d.order_id} · 决策时刻 as of ${localTime(d.as_of)} · 策略 policy ${d.policy.version}`));
    root.append(decisionCard(d, null, "current"));
    switcher.hidden = true;
    renderExplanation(result.explanation);
    return;
  }
  const changes = h("div", { class: "changes", "data-testid": "changes" });
  const params = Object.entries(result.parameters).map(([name, v]) => h("li", {}, h("code", { text: name }), ` ${fmtParam(v.current)} → `, h("strong", { text: fmtParam(v.changed) })));
  changes.append(h("h3", {}, ...bi("假设参数", "What-if parameters")), h("ul", { class: "params-changed" }, params));
  if (result.changes.length) {
    const list = h("ul", { class: "change-list", "data-testid": "change-list" });
    for (const c of result.changes) list.append(h("li", {}, h("span", { class: "g" }, zhName("guarantee", c.guarantee)), " ", h("code", { text: c.field }), " ", c.change));
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
  const root = document.getElementById("explanation");
  root.replaceChildren();
  const open = decisiveGuarantees();
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

function entryView(entry) {
  const [zh, en] = OUTCOME_WORDS[entry.outcome] || [entry.outcome, ""];
  const open = entry.matched && !entry.rule.endsWith(".service");
  const box = h("details", { class: `rule ${entry.outcome}`, "data-rule": entry.rule, "data-testid": `rule-${entry.rule}`, open: open || null });
  const decided = entry.conditions.filter((c) => c.decided);
  const because = entry.failed
    ? h("span", { class: "because" }, "← ", entry.failed.label || entry.failed.expr)
    : null;
  box.append(h("summary", { class: "rule-head" },
    h("span", { class: "mark", "aria-hidden": "true", text: entry.mark }), " ",
    h("span", { class: "outcome-word" }, ...bi(zh, en)), " ",
    h("strong", { text: entry.title_zh }), " ", h("span", { class: "en", text: entry.title_en }), " ",
    h("code", { class: "rule-id", text: entry.rule }),
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
      actions.append(h("li", {}, "→ ", h("code", { text: a.action }), a.target ? [" ", h("code", { text: a.target })] : null,
        a.display !== undefined ? ` = ${a.display}` : "", a.status ? ` (${a.status}: ${a.note || ""})` : ""));
    }
    box.append(actions);
  }
  return box;
}

function conditionView(c, entry) {
  const decidedWord = c.decided ? (entry.matched ? ["满足，决定命中", "met: decided the match"] : c.result === "not_met" ? ["缺少事实，决定未命中", "absent fact: decided"] : ["未满足，决定未命中", "not met: decided"]) : null;
  const result = c.result === true ? "✔" : c.result === false ? "✘" : c.result === "not_met" ? "∅" : "·";
  const li = h("li", { class: `condition depth-${Math.min(c.depth, 8)}${c.decided ? " decided" : ""}`, "data-testid": c.decided ? "decided-condition" : null });
  const head = h("p", {}, h("span", { class: "result", text: result }), " ");
  if (c.op) head.append(h("span", { class: "op", text: { all: "全部满足 all of", any: "任一满足 any of", not: "不满足 not" }[c.op] || c.op }), " ");
  if (c.label) head.append(h("span", { class: "label", text: c.label }), " ");
  if (c.expr) head.append(h("code", { class: "expr", text: c.expr }));
  if (decidedWord) head.append(" ", h("span", { class: "decided-tag" }, ...bi(...decidedWord)));
  li.append(head);
  if (c.values.length) {
    const values = h("ul", { class: "values" });
    for (const v of c.values) {
      values.append(h("li", { class: v.parameter ? "is-param" : "", "data-testid": v.parameter ? "parameter-value" : null }, v.parameter ? h("span", { class: "param-tag", text: "参数 parameter" }) : null, " ",
        h("code", { text: v.name }), " = ", h("strong", { text: v.display })));
    }
    li.append(values);
  }
  return li;
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
    const applied = state.overrides[param.name] !== undefined;
    const row = h("div", { class: `param${applied ? " applied" : ""}${pending !== undefined ? " edited" : ""}`, "data-testid": `param-${param.name}` },
      h("label", { for: id }, h("code", { text: param.name }), " ", h("span", { class: "muted", text: param.type }),
        state.usedHere.has(param.name) ? h("span", { class: "used-here", "data-testid": "used-here" }, ...bi("影响本订单", "decides this order")) : null),
      h("p", { class: "desc", text: param.description }),
      h("p", { class: "current" }, ...bi("当前值", "current"), "：", h("strong", { text: param.display }),
        applied ? h("span", { class: "applied-tag" }, " → ", fmtParam(state.overrides[param.name])) : null),
      input);
    root.append(row);
  }
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

function renderCatalogue() {
  const cat = state.catalogue;
  const root = document.getElementById("catalogue");
  const toc = document.getElementById("catalogue-toc");
  root.replaceChildren();
  toc.replaceChildren();
  const filter = document.getElementById("catalogue-filter").value.trim().toLowerCase();
  const params = Object.fromEntries(cat.parameters.map((p) => [p.name, p]));
  root.append(h("p", { class: "meta" }, `${cat.name} ${cat.version} · ${cat.digest.slice(0, 19)}… · 时区 time zone ${cat.timezone}`));
  for (const g of cat.guarantees) {
    const rules = g.rules.filter((r) => !filter || JSON.stringify(r).toLowerCase().includes(filter) || g.title.toLowerCase().includes(filter));
    if (!rules.length) continue;
    toc.append(h("a", { href: `#g-${g.id}` }, g.title));
    const section = h("section", { class: "guarantee", id: `g-${g.id}`, "data-testid": `catalogue-${g.id}` }, h("h2", {}, g.title, " ", h("code", { text: g.id })));
    for (const r of rules) {
      const used = r.parameters.map((name) => {
        const p = params[name];
        return h("li", {}, h("code", { text: name }), " = ", h("strong", { text: p ? p.display : "?" }), " ",
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
    root.append(section);
  }
  const table = h("table", { class: "param-table", "data-testid": "catalogue-parameters" },
    h("thead", {}, h("tr", {}, ["参数 Parameter", "值 Value", "类型 Type", "说明 Description", "来源 Source", "使用规则 Used by"].map((t) => h("th", { text: t })))));
  const body = h("tbody");
  for (const p of cat.parameters) {
    if (filter && !JSON.stringify(p).toLowerCase().includes(filter)) continue;
    body.append(h("tr", {}, h("td", {}, h("code", { text: p.name })), h("td", { text: p.display }), h("td", { text: p.type }),
      h("td", { text: p.description }), h("td", {}, p.source || "", p.citations.length ? h("ul", { class: "cites" }, p.citations.map(citedWords)) : ""),
      h("td", {}, p.used_by.map((r) => h("code", { class: "rule-id", text: r })))));
  }
  table.append(body);
  root.append(h("section", { class: "guarantee", id: "parameters" }, h("h2", {}, ...bi("参数", "Parameters")), table));
  toc.append(h("a", { href: "#parameters" }, "参数 Parameters"));
  if (!cat.sources.length) return;
  const sources = h("table", { class: "param-table", "data-testid": "catalogue-sources" },
    h("thead", {}, h("tr", {}, ["编号 Id", "标题 Title", "发布方 Issuer", "日期 Date", "查阅 Where to read", "引用 Cited by"].map((t) => h("th", { text: t })))));
  const rows = h("tbody");
  for (const s of cat.sources) {
    if (filter && !JSON.stringify(s).toLowerCase().includes(filter)) continue;
    rows.append(h("tr", { id: `source-${s.id}` }, h("td", {}, h("code", { text: s.id })), h("td", {}, s.title.zh, h("br"), s.title.en),
      h("td", {}, s.issuer.zh, h("br"), s.issuer.en), h("td", { text: s.date || "—" }),
      h("td", {}, s.url ? h("span", { text: s.url }) : "", s.document ? h("code", { text: s.document }) : "", s.note ? h("p", { class: "muted" }, s.note.zh, h("br"), s.note.en) : ""),
      h("td", { text: String(s.cited_by.length) })));
  }
  sources.append(rows);
  root.append(h("section", { class: "guarantee", id: "sources" }, h("h2", {}, ...bi("来源", "Sources")), sources));
  toc.append(h("a", { href: "#sources" }, "来源 Sources"));
}

/** A cited source with its title: `L1 中华人民共和国消费者权益保护法 / Law … — Art 55`. */
function citedWords(c) {
  return h("li", {}, h("code", { text: c.source }), ` ${c.title.zh} / ${c.title.en}`, c.locators.length ? ` — ${c.locators.join(", ")}` : "");
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
  for (const [tab, view] of [["tab-try", "view-try"], ["tab-policy", "view-policy"]]) {
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
  state.vocabulary = catalogue.data.vocabulary || {};
  const p = policy.data;
  document.querySelector("[data-testid=policy-line]").textContent =
    `实时策略 Live policy: ${p.name} ${p.version} · ${p.digest.slice(0, 19)}… · ${p.rules.length} 条规则 rules`;

  const select = document.getElementById("example-select");
  select.append(h("option", { value: "", text: "（自己编辑或粘贴 your own / pasted）" }));
  for (const e of examples.data) select.append(h("option", { value: e.name, text: e.name }));
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
  renderParams();
  renderCatalogue();
  const wanted = new URLSearchParams(location.search).get("example") || DEFAULT_EXAMPLE;
  const first = examples.data.some((e) => e.name === wanted) ? wanted : (examples.data[0] || {}).name;
  if (first) {
    select.value = first;
    await loadExample(first);
  }
  document.body.dataset.ready = "true";
}

start().catch((error) => {
  setStatus("error", "页面加载失败 the page failed to load: " + error);
});
