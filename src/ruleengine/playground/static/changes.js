// What changed in a decision, said as policy staff read it: guarantee · field: before → after, Chinese first.
// Used for the what-if's change list, for an edited order against the order as loaded, and for the
// impact of a what-if over many orders.

import { h, localTime, money } from "./dom.js";
import { decisionFieldLabel, serviceName, valueName } from "./names.js";

const CLAIM_TERMS = ["outcome", "resolution", "refund_amount", "compensation_amount", "refund_timing", "refund_channel", "return_shipping_payer"];

function ownerOf(claim) {
  const rule = (claim.reasons.find((r) => !r.rule.startsWith("claims.")) || claim.reasons[0] || { rule: "claims." }).rule;
  return rule.split(".")[0];
}

/** [guarantee, field, before, after] for each difference, as the service's what-if lists them. */
export function decisionChanges(before, after) {
  const out = [];
  for (const sku of [...new Set([...Object.keys(before.services), ...Object.keys(after.services)])].sort()) {
    const old = before.services[sku] || [];
    const now = after.services[sku] || [];
    for (const s of now.filter((x) => !old.includes(x))) out.push([s, "services", "", `+${s}`]);
    for (const s of old.filter((x) => !now.includes(x))) out.push([s, "services", "", `-${s}`]);
  }
  if (before.claim && after.claim) {
    const owner = ownerOf(after.claim);
    for (const key of CLAIM_TERMS) {
      if (JSON.stringify(before.claim[key]) !== JSON.stringify(after.claim[key])) out.push([owner, `claim.${key}`, before.claim[key], after.claim[key]]);
    }
    const deductions = (c) => c.deductions.map((d) => `${d.type} ${d.amount}`).join(", ");
    if (deductions(before.claim) !== deductions(after.claim)) out.push([owner, "claim.deductions", deductions(before.claim), deductions(after.claim)]);
  } else if (Boolean(before.claim) !== Boolean(after.claim)) {
    out.push(["claims", "decision", before.claim ? before.claim.outcome : null, after.claim ? after.claim.outcome : null]);
  }
  for (const name of ["compensations", "violations"]) {
    const key = (x) => (name === "compensations" ? `${x.type} ${x.amount}` : x.type);
    const old = before[name].map(key);
    const now = after[name].map(key);
    for (const x of after[name].filter((x) => !old.includes(key(x)))) out.push([x.rule.split(".")[0], name, "", `+${key(x)}`]);
    for (const x of before[name].filter((x) => !now.includes(key(x)))) out.push([x.rule.split(".")[0], name, "", `-${key(x)}`]);
  }
  return out;
}

/** The service's "rejected → approved" (or "+seven_day_return") as [before, after]. */
export function splitChange(text) {
  const parts = String(text).split(" → ");
  return parts.length === 2 ? parts.map((p) => (p === "(absent)" ? null : p)) : ["", text];
}

function changeValue(field, value) {
  if (value === null || value === undefined) return "（无 absent）";
  const text = String(value);
  const added = /^([+-])(\S+)(?: (\S+))?$/.exec(text);
  if (added && ["services", "compensations", "violations"].includes(field)) {
    const name = field === "services" ? serviceName(added[2]) : valueName(added[2]);
    return `${added[1] === "+" ? "增加 added" : "取消 removed"} ${name}${added[3] ? ` ${money(added[3])}` : ""}`;
  }
  if (field.endsWith("_amount")) return money(text);
  if (/^\d{4}-\d{2}-\d{2}T/.test(text)) return localTime(text);
  if (field === "claim.deductions") return text || "（无 none）";
  return valueName(text);
}

/** One change, in Chinese first: 7天无理由退换货 · 结果 outcome: 驳回 rejected → 批准 approved. */
export function changeItem(guarantee, field, before, after) {
  const [zh, en] = decisionFieldLabel(field);
  const li = h("li", { "data-field": field }, h("span", { class: "g" }, serviceName(guarantee)), " · ", zh, " ", h("span", { class: "en", text: en }), "：");
  if (before === "" && /^[+-]/.test(String(after))) li.append(h("strong", { text: changeValue(field, after) }));
  else li.append(changeValue(field, before), " → ", h("strong", { text: changeValue(field, after) }));
  return li;
}
