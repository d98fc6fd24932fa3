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

// Enum values the service has no name for yet (the order's own vocabulary).
const VALUE_NAMES = {
  // category
  apparel: "服装", shoes_bags: "鞋包", toys: "玩具", home_textiles: "家纺", beauty: "美妆", personal_care: "个护",
  food: "食品", fresh_food: "生鲜", phone: "手机", computer: "电脑", small_appliance: "小家电", large_appliance: "大家电",
  furniture: "家具", building_materials: "建材", books: "图书", periodicals: "报刊", digital_content: "数字内容",
  audio_video: "音像制品", jewelry_gold: "珠宝黄金", underwear: "内衣", medicine: "药品", alcohol: "酒类",
  vr_devices: "VR 设备", vehicles: "车辆", services: "服务类商品", custom_goods: "定制商品",
  // channel, program, payment
  app: "手机 App", web: "网页", mini_program: "小程序", livestream: "直播",
  standard: "普通", subsidy: "补贴活动", global: "天猫国际",
  alipay: "支付宝", huabei: "花呗", bank_card: "银行卡", credit_card: "信用卡",
  // logistics status
  awaiting_shipment: "待发货", in_transit: "运输中", delivered: "已签收", refused: "拒收", lost: "丢件",
  // claim type
  no_reason_return: "无理由退货", no_reason_exchange: "无理由换货", quality_issue: "质量问题", damaged_on_arrival: "到货破损",
  counterfeit: "假货", not_as_described: "描述不符", price_drop: "降价", installation_issue: "安装问题", trade_in: "以旧换新",
  // item condition
  intact: "完好", opened_for_inspection: "拆封查验", activated: "已激活", seal_broken: "封条已破", tags_removed: "吊牌已拆",
  used: "已使用", damaged: "已损坏",
  // inspection
  pending: "检测中", counterfeit_confirmed: "确认假货", defect_confirmed: "确认瑕疵", no_defect: "无瑕疵",
  mismatch_confirmed_platform: "平台确认不符", mismatch_confirmed_merchant: "商家确认不符",
  // merchant response, resolution requested
  agreed: "同意",
  // deductions, compensations, violations
  gift_not_returned: "赠品未退回", free_shipping_lost: "不再满足包邮", promotion_lost: "不再满足优惠",
  late_shipment: "延迟发货", stock_out: "缺货", refused_valid_return: "拒绝合理退货", installation_not_done: "未安装",
  installation_late: "安装延误", installation_overcharge: "安装乱收费", delivery_install_not_provided: "未送装",
  delivery_install_late: "送装延误", delivery_install_overcharge: "送装乱收费",
};

// The default policy's guarantees, for an example about a guarantee the served policy does not have.
const GUARANTEE_NAMES = {
  official_store: "官方旗舰店", authenticity: "正品保障", seven_day_return: "7天无理由退换货", return_shipping_insurance: "退货包运费",
  fast_refund: "极速退款", damage_return: "破损包退", quality_return: "质量问题退换货", not_as_described: "不符包赔",
  after_sales_care: "售后无忧", price_protection: "价保", delivery_install: "送货上门（送装一体）", installation: "安装服务",
  trade_in: "以旧换新", on_time_shipment: "发货保障", livestream_parity: "直播同等保障",
};

let serviceTitles = {};
let valueWords = {};
let parameters = {};

/** Read the names the service offers: today the catalogue's words and guarantee titles. */
export function learnNames(catalogue) {
  valueWords = catalogue.words || {};  // later: the policy's vocabulary (zh/en of every enum value it declares)
  serviceTitles = Object.fromEntries(catalogue.guarantees.map((g) => [g.id, g.title]));
  parameters = Object.fromEntries(catalogue.parameters.map((p) => [p.name, p]));
}

/** An enum value as a person reads it: "批准 approved"; the raw value when nobody named it. */
export function valueName(value, pointer = "") {
  if (value === null || value === undefined) return "（无 absent）";
  const key = String(value);
  if (pointer === "/claim/merchant_response" && key === "refused") return "拒绝 refused";
  if (valueWords[key]) return valueWords[key];
  if (VALUE_NAMES[key]) return `${VALUE_NAMES[key]} ${key}`;
  const service = serviceTitles[key];
  return service ? `${service} ${key}` : key;
}

/** A guarantee's Chinese title (the service id when it has none). */
export function serviceName(id) {
  if (id === "(order)") return "整单 the order";
  if (id === "claims") return "售后申请 claims";
  if (id === "none") return "普通订单 plain orders";
  if (id === "other") return "其他 other";
  return serviceTitles[id] || GUARANTEE_NAMES[id] || id;
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
