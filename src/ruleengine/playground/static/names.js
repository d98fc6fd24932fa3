// What the page calls things, in one place: the Chinese (and English) names of the order's fields,
// of enum values, guarantees and parameters. Everything the page shows a person names things through
// this module, so when the service offers the policy's own vocabulary it is read here and nowhere else.

// The order's fields people edit in the form, and the decision's fields: [pointer, zh, en].
export const ORDER_FIELDS = [
  ["/order_id", "订单号", "Order id"],
  ["/channel", "渠道", "Channel"],
  ["/program", "项目", "Program"],
  ["/paid_at", "付款时间", "Paid at"],
  ["/as_of", "决策时刻", "Decide as of"],
  ["/payment/amount", "实付金额（元）", "Amount paid (CNY)"],
  ["/payment/method", "支付方式", "Payment method"],
  ["/buyer/credit_score", "买家信用分", "Buyer credit score"],
  ["/buyer/abuse_flag", "买家滥用标记", "Buyer abuse flag"],
  ["/logistics/status", "物流状态", "Status"],
  ["/logistics/promised_ship_by", "承诺发货时间", "Promised to ship by"],
  ["/logistics/shipped_at", "发货时间", "Shipped at"],
  ["/logistics/signed_at", "签收时间", "Signed for at"],
  ["/logistics/stock_out", "缺货", "Stock out"],
  ["/items/*/sku", "商品 SKU", "SKU"],
  ["/items/*/title", "商品名称", "Title"],
  ["/items/*/category", "品类", "Category"],
  ["/items/*/unit_price", "单价（元）", "Unit price (CNY)"],
  ["/items/*/quantity", "数量", "Quantity"],
  ["/items/*/paid_amount", "实付（元）", "Paid (CNY)"],
  ["/items/*/gift", "赠品", "Gift"],
  ["/claim/id", "申请编号", "Claim id"],
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
];

const SECTION_NAMES = {
  "": ["订单", "the order"], payment: ["支付", "payment"], buyer: ["买家", "buyer"], logistics: ["物流", "logistics"],
  items: ["商品", "items"], claim: ["售后申请", "claim"],
};

// The decision's fields (what a what-if or an edit changes).
export const DECISION_FIELDS = {
  services: ["保障服务", "services"],
  "claim.outcome": ["结果", "outcome"],
  "claim.resolution": ["处理", "resolution"],
  "claim.refund_amount": ["退款", "refund"],
  "claim.compensation_amount": ["赔付", "compensation"],
  "claim.refund_timing": ["退款时效", "refund timing"],
  "claim.refund_channel": ["退款渠道", "refund channel"],
  "claim.refund_due_by": ["最迟退款时间", "refund due by"],
  "claim.return_shipping_payer": ["退货运费承担", "return shipping paid by"],
  "claim.deductions": ["扣减", "deductions"],
  compensations: ["赔付", "compensations"],
  violations: ["违规", "violations"],
  decision: ["决策", "decision"],
};

// The names of codes come from the served policy's vocabulary (/v1/policy/catalogue's `vocabulary`):
// no code is named here. Where a code's set is unknown, the decision's own sets are asked first.
const FIRST_SETS = ["outcome", "resolution", "refund_timing", "return_shipping_payer", "compensation_type", "compensation_form",
  "payer", "deduction_type", "violation_type", "claim_type", "service"];

let serviceTitles = {};
let vocabulary = {};  // set → {code → {zh, en}}
let anySet = {};      // code → its first name, the decision's sets first (for a code whose set is not known)
let parameters = {};

/** Read the names the service offers: the policy's vocabulary and its guarantees in the catalogue's order. */
export function learnNames(catalogue) {
  vocabulary = {};
  for (const [name, set] of Object.entries(catalogue.vocabulary || {})) {
    vocabulary[name] = Object.fromEntries(set.values.map((v) => [v.code, v]));
  }
  anySet = {};
  for (const name of [...FIRST_SETS, ...Object.keys(vocabulary)]) {
    for (const [code, term] of Object.entries(vocabulary[name] || {})) if (!(code in anySet)) anySet[code] = term;
  }
  serviceTitles = Object.fromEntries(catalogue.guarantees.map((g) => [g.id, g.title]));
  parameters = Object.fromEntries(catalogue.parameters.map((p) => [p.name, p]));
}

/** A code as a person reads it, by the policy's name: "批准 approved"; the raw value when the policy names it nowhere.
 * ``set``: the vocabulary set it belongs to (the order schema marks it: x-vocabulary), when known. */
export function valueName(value, pointer = "", set = "") {
  if (value === null || value === undefined) return "（无 absent）";
  const key = String(value);
  const term = (set && vocabulary[set] && vocabulary[set][key]) || anySet[key];
  return term ? `${term.zh} ${key}` : key;
}

/** A guarantee's Chinese title (the service id when it has none). */
export function serviceName(id) {
  if (id === "(order)") return "整单 the order";
  if (id === "claims") return "售后申请 claims";
  if (id === "none") return "普通订单 plain orders";
  if (id === "other") return "其他 other";
  const term = (vocabulary.guarantee || {})[id] || (vocabulary.service || {})[id];
  return serviceTitles[id] || (term ? term.zh : id);
}

/** The guarantees in the policy's order (the catalogue's). */
export function guaranteeOrder() {
  return Object.keys(serviceTitles);
}

/** A parameter's Chinese name: the first part of its bilingual description. */
export function parameterName(name) {
  const p = parameters[name];
  if (!p || !p.description) return name;
  // "7天无理由退货期限，签收次日起算 / no-reason return window, …" → 7天无理由退货期限
  return p.description.split(/\s*\/\s+(?=[A-Za-z0-9(])/)[0].split(/[，。]/)[0].trim();
}

function patternOf(pointer) {
  return pointer.replace(/\/\d+(?=\/|$)/g, "/*");
}

/** A form field's own label [zh, en] ("/items/0/quantity" → 数量, Quantity). */
export function fieldName(pointer) {
  const known = ORDER_FIELDS.find(([p]) => p === patternOf(pointer));
  return known ? [known[1], known[2]] : fieldLabel(pointer);
}

/** The field at a JSON pointer as [zh, en]: "第 1 件商品的数量 / quantity of item 1". */
export function fieldLabel(pointer) {
  if (!pointer) return ["订单", "the order"];
  const known = ORDER_FIELDS.find(([p]) => p === patternOf(pointer));
  const index = /\/items\/(\d+)/.exec(pointer);
  if (known) {
    const [, zh, en] = known;
    return index ? [`第 ${Number(index[1]) + 1} 件商品的${zh}`, `${en} of item ${Number(index[1]) + 1}`] : [zh, en];
  }
  const keys = pointer.slice(1).split("/");
  if (keys.length === 1 && SECTION_NAMES[keys[0]]) return SECTION_NAMES[keys[0]];
  if (index && keys.length === 2) return [`第 ${Number(index[1]) + 1} 件商品`, `item ${Number(index[1]) + 1}`];
  const section = SECTION_NAMES[keys[0]];
  const last = keys[keys.length - 1];
  return section ? [`${section[0]}的 ${last}`, `${section[1]} ${last}`] : [last, pointer];
}

/** A decision field ("claim.outcome") as [zh, en]. */
export function decisionFieldLabel(field) {
  return DECISION_FIELDS[field] || [field, field];
}
