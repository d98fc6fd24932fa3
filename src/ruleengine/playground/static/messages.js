// Every message the page shows, in Chinese first with the service's English beside it: the order's
// problems (by the field's Chinese label), a pasted text's syntax errors, a parameter value refused.
// The service answers in English with a code; the Chinese is made here from the code, the field and
// the values, and the service's own words are always kept beside it.

import { fieldLabel, parameterName } from "./names.js";

const ORDER_PROBLEMS = {
  required: (f) => `缺少必填项「${f}」`,
  minimum: (f, m) => `「${f}」不能小于 ${after(m, "minimum")}`,
  exclusiveMinimum: (f, m) => `「${f}」必须大于 ${after(m, "minimum")}`,
  maximum: (f, m) => `「${f}」不能大于 ${after(m, "maximum")}`,
  type: (f) => `「${f}」的类型不对`,
  enum: (f) => `「${f}」不是可选的值之一`,
  const: (f) => `「${f}」的值不被接受`,
  format: (f) => `「${f}」的格式不对（时间写作 2026-11-11 15:20:00）`,
  pattern: (f) => `「${f}」的写法不对`,
  money_number: (f) => `「${f}」是金额，请写成文字形式，如 "199.00"`,
  minLength: (f) => `「${f}」不能为空`,
  maxLength: (f) => `「${f}」太长`,
  minItems: (f) => `「${f}」至少要有一项`,
  maxItems: (f) => `「${f}」项数太多`,
  additionalProperties: (f, m) => `「${f}」中有未知字段 ${quoted(m, /unknown field '(.+?)'/) || ""}`,
  duplicate_sku: (f) => `「${f}」与另一件商品重复`,
  chronology: (f) => `「${f}」的时间先后不合理`,
  unknown_sku: () => "申请的商品 SKU 不在本订单中",
  claim_quantity: () => "申请数量超过该商品的购买数量",
  float: (f) => `「${f}」不能用浮点数`,
  not_finite: (f) => `「${f}」不是有效数字`,
  empty: () => "订单为空",
  json_syntax: () => "JSON 文本有语法错误",
  yaml_syntax: () => "YAML 文本有语法错误",
  too_large: () => "文本太大",
  character: () => "文本中有不允许的字符",
};

function quoted(message, pattern) {
  const m = pattern.exec(message || "");
  return m ? m[1] : "";
}

function after(message, word) {
  const m = new RegExp(`${word}\\s+(-?[0-9.]+)`).exec(message || "");
  return m ? m[1] : "";
}

/** An order problem {pointer, code, message} as {zh, en, field}: the Chinese names the field by its label. */
export function orderProblem(problem) {
  let pointer = problem.pointer || "";
  const missing = quoted(problem.message, /missing required field '(.+)'/);
  if (problem.code === "required" && missing) pointer = `${pointer}/${missing}`;
  const [zhField, enField] = fieldLabel(pointer);
  const make = ORDER_PROBLEMS[problem.code];
  const zh = make ? make(zhField, problem.message) : `「${zhField}」有问题`;
  const where = problem.line ? `第 ${problem.line} 行第 ${problem.column} 列：` : "";
  const whereEn = problem.line ? `line ${problem.line}, column ${problem.column}: ` : "";
  return { zh: where + zh, en: `${whereEn}${enField}${pointer ? ` (${pointer})` : ""}: ${problem.message}`, pointer };
}

const KIND_WORDS = {
  days: "整天数", hours: "整小时数", integer: "整数", money: "金额（如 12.50）", rate: "比例（0 到 1 之间的小数）",
  decimal: "数字", text: "文字", boolean: "是或否", timestamp: "带时区的时间", list: "列表",
};

/** A refused parameter value (a policy diagnostic) in Chinese: which parameter, what it must be. */
export function parameterProblem(diagnostic, kinds) {
  const name = quoted(diagnostic.message, /override of (?:unknown parameter )?'?([A-Za-z0-9_]+)'?/);
  const zhName = name ? `「${parameterName(name)}」（${name}）` : "";
  const kind = KIND_WORDS[kinds[name]] || "";
  const zh = {
    parameter_type: `参数${zhName}的值不符合类型${kind ? `：应为${kind}` : ""}`,
    parameter_range: `参数${zhName}的值超出允许范围`,
    unknown_parameter: `没有参数${zhName}`,
    money_number: `参数${zhName}是金额，请写成如 12.50 的数字`,
  }[diagnostic.code] || `参数${zhName}的值无效`;
  return { zh, en: diagnostic.message, name };
}

/** A service error that is neither the order's nor a parameter's: status and message, with a Chinese lead. */
export function generalProblem(status, data, text) {
  if (data.error === "link") return { zh: "链接中的场景无法读取，已打开示例订单", en: data.message };
  const zh = {
    401: "需要访问令牌", 403: "令牌权限不足", 404: "找不到", 408: "请求超时", 413: "内容太大", 415: "格式不被接受",
    422: "规则无法对此订单求值", 429: "请求太多，请稍候", 503: "服务暂不可用",
  }[status] || "未能完成";
  const en = `${status} ${data.error || ""}: ${data.message || text}` + (data.rule ? ` [${data.rule}]` : "");
  return { zh, en };
}
