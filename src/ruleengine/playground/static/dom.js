// Small helpers every part of the page uses: building elements, bilingual text, talking to the service,
// money and times shown as written.

export function h(tag, attrs = {}, ...children) {
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

export function bi(zh, en) {
  return [zh, " ", h("span", { class: "en", text: en })];
}

// With --auth-token-file the service wants a bearer token (scopes decide and read for this page). The page
// keeps it in sessionStorage: this tab only, gone when the tab closes, never sent by the browser on its own
// (unlike a cookie), so another site cannot make the browser use it.
export const TOKEN_KEY = "ruleengine.token";

export function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { authorization: `Bearer ${token}` } : {};
}

export async function api(path, { method = "GET", body, contentType = "application/json" } = {}) {
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

export function money(value) {
  // Amounts arrive as decimal strings ("33.33") and are shown as written, never through a binary float.
  const m = /^(-?[0-9]+)(?:\.([0-9]{1,2}))?$/.exec(String(value));
  return m ? `${m[1]}.${(m[2] || "").padEnd(2, "0")} 元` : String(value);
}

export function localTime(value) {
  // "2026-11-11T15:20:00+08:00" → "2026-11-11 15:20" (the policy's calendar is +08:00; shown as written)
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2})?/.exec(String(value));
  return m ? `${m[1]} ${m[2]}` : String(value);
}
