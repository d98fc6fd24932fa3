// 编辑规则 Edit rules: the policy's own files changed in the page, their consequences seen before anything is
// published. Shown only when the service offers editing (GET /v1/editing/files answers 200: --editing and an
// admin token). A proposal is every file changed here (path → whole text); the service checks it in a copy of
// the folder: validation on a pause in typing, the regression cases, the impact over a corpus; publishing
// writes it into the served folder (recorded, revertible) and the service reloads it.

import { createCodeEditor } from "./codeeditor.js";
import { api, bi, h } from "./dom.js";
import { corpusFields, impactReport, setUpCorpusForm } from "./impact.js";

const PAUSE_MS = 600;
const edits = {};     // path → edited text (every file changed and not yet published)
let current = null;   // the path shown in the editor
let original = {};    // path → text as served
let timer = null;
let checking = 0;     // the latest validation asked for: older answers are ignored
let editor = null;    // the CodeMirror editor (codeeditor.js)
let diagnostics = []; // the last diagnostics of the proposal, every file's

const $ = (id) => document.getElementById(id);

/** Probe the service; when it offers editing, show the tab and set the view up. */
export async function setUpEditor(onShow) {
  const listed = await api("/v1/editing/files");
  if (!listed.ok) return false;
  $("tab-edit").hidden = false;
  $("tab-edit").addEventListener("click", () => onShow("edit"));
  const picker = $("edit-file");
  picker.replaceChildren(...listed.data.files.map((f) => h("option", { value: f.path, text: `${f.path}${f.kind === "cases" ? "（回归用例 cases）" : ""}` })));
  picker.addEventListener("change", () => openFile(picker.value));
  editor = createCodeEditor($("edit-text"), { label: "文件内容 File text", onChange: (text) => {
    edits[current] = text;
    if (edits[current] === original[current]) delete edits[current];
    renderChanged();
    setState("editing", "已修改，等待检查…", "edited, checking after a pause…");
    clearTimeout(timer);
    timer = setTimeout(validate, PAUSE_MS);
  } });
  $("edit-cases").addEventListener("click", runCases);
  $("edit-impact").addEventListener("click", runImpact);
  setUpCorpusForm("edit-impact");
  $("edit-publish").addEventListener("click", publish);
  $("edit-revert").addEventListener("click", revert);
  await openFile(listed.data.files.find((f) => f.path.startsWith("guarantees/"))?.path || listed.data.files[0].path);
  return true;
}

async function openFile(path) {
  if (!(path in original)) {
    editor.setReadOnly(true);  // no typing into the file being left while the next one loads
    const read = await api(`/v1/editing/file?path=${encodeURIComponent(path)}`);
    editor.setReadOnly(false);
    if (!read.ok) { setState("error", "无法读取文件", `${read.status}: ${read.data?.message || read.text}`); return; }
    original[path] = read.data.text;
  }
  current = path;
  $("edit-file").value = path;
  editor.setText(path in edits ? edits[path] : original[path]);
  editor.showDiagnostics(diagnostics.filter((d) => d.file === path));
}

function renderChanged() {
  const paths = Object.keys(edits).sort();
  $("edit-changed").replaceChildren(...(paths.length ? bi(`已修改 ${paths.length} 个文件：${paths.join("、")}`, `${paths.length} file(s) changed`) : bi("尚无修改", "nothing changed yet")));
}

function setState(kind, zh, en) {
  const status = $("edit-status");
  status.dataset.state = kind;
  status.replaceChildren(...bi(zh, en));
}

function goTo(path, line, column) {
  const go = () => editor.goTo(line, column);
  if (path !== current) openFile(path).then(go); else go();
}

function renderDiagnostics(found) {
  diagnostics = found;
  editor.showDiagnostics(found.filter((d) => d.file === current));
  const box = $("edit-diagnostics");
  box.replaceChildren(...diagnostics.map((d) => h("li", { class: `problem ${d.severity}`, "data-testid": "edit-diagnostic" },
    h("button", { type: "button", class: "link", "data-testid": "edit-goto", onclick: () => goTo(d.file, d.line, d.column) }, `${d.file}:${d.line}:${d.column}`),
    " ", d.zh.slice(d.zh.indexOf("：") + 1), " ", h("span", { class: "en", text: d.message }))));
}

async function validate() {
  const ticket = ++checking;
  setState("busy", "检查中…", "checking…");
  const answer = await api("/v1/editing/validate", { method: "POST", body: JSON.stringify({ files: edits }) });
  if (ticket !== checking) return;
  if (!answer.ok) { setState("error", "无法检查", `${answer.status}: ${answer.data?.message || answer.text}`); return; }
  renderDiagnostics(answer.data.diagnostics);
  if (answer.data.loads) setState("ok", "规则可以加载", "the policy loads");
  else setState("error", `规则无法加载（${answer.data.diagnostics.filter((d) => d.severity === "error").length} 处错误）`, "the policy does not load");
}

async function runCases() {
  clearTimeout(timer);
  setState("busy", "运行回归用例中…", "running the regression cases…");
  const answer = await api("/v1/editing/cases", { method: "POST", body: JSON.stringify({ files: edits }) });
  const out = $("edit-results");
  if (!answer.ok) { setState("error", "无法运行用例", `${answer.status}: ${answer.data?.message || answer.text}`); return; }
  renderDiagnostics(answer.data.diagnostics);
  if (!answer.data.loads) { setState("error", "规则无法加载，用例未运行", "the policy does not load; no case ran"); out.replaceChildren(); return; }
  const c = answer.data.cases;
  setState(c.failed ? "error" : "ok", `回归用例：通过 ${c.passed}，未通过 ${c.failed}`, `cases: ${c.passed} passed, ${c.failed} failed`);
  out.replaceChildren(h("h3", {}, ...bi("回归用例", "Regression cases")),
    h("ul", { class: "case-results", "data-testid": "edit-case-results" }, c.results.map((r) => h("li", { class: `case ${r.status}`, "data-status": r.status },
      h("strong", { text: r.status === "passed" ? "✓ 通过 passed" : r.status === "failed" ? "✗ 未通过 failed" : `✗ ${r.status}` }), " ",
      h("button", { type: "button", class: "link", onclick: () => goTo(r.file, r.line, 1) }, `${r.file}:${r.line}`), " ", r.name,
      r.mismatches?.length ? h("ul", {}, r.mismatches.map((m) => h("li", {}, `${m.path}: `, ...bi(`应为 ${JSON.stringify(m.expected)}，实际 ${JSON.stringify(m.actual)}`, `expected ${JSON.stringify(m.expected)}, got ${JSON.stringify(m.actual)}`)))) : null,
      r.message && !r.mismatches?.length ? h("pre", { class: "muted", text: r.message }) : null))));
}

async function runImpact() {
  clearTimeout(timer);
  const fields = await corpusFields("edit-impact");
  if (!fields) { setState("error", "请选择一个 JSON lines 文件（每行一个订单）", "choose a JSON-lines file (one order per line)"); return; }
  setState("busy", "计算影响中…", "computing the impact…");
  const answer = await api("/v1/editing/impact", { method: "POST", body: JSON.stringify({ files: edits, ...fields }) });
  const out = $("edit-results");
  if (!answer.ok) {
    renderDiagnostics(answer.data?.diagnostics || []);
    setState("error", "无法计算影响", `${answer.status}: ${answer.data?.message || answer.text}`);
    return;
  }
  const r = answer.data;
  setState("ok", `影响：订单 ${r.orders} 个，决策变化 ${r.changed} 个`, `impact: ${r.changed} of ${r.orders} orders change`);
  const box = h("div", { class: "impact" });
  out.replaceChildren(box);
  impactReport(box, { testid: "edit-impact" })(r);
}

async function publish() {
  clearTimeout(timer);
  const message = $("edit-message").value.trim();
  if (!Object.keys(edits).length) { setState("error", "没有修改可发布", "nothing changed to publish"); return; }
  if (!message) { setState("error", "请写明发布说明", "write a message saying what changed and why"); $("edit-message").focus(); return; }
  setState("busy", "发布中…", "publishing…");
  const body = { files: edits, message, override_failing_cases: $("edit-override").checked };
  const answer = await api("/v1/editing/publish", { method: "POST", body: JSON.stringify(body) });
  if (!answer.ok) {
    renderDiagnostics(answer.data?.diagnostics || []);
    setState("error", "未发布", `${answer.status} ${answer.data?.error || ""}: ${answer.data?.message || answer.text}`);
    return;
  }
  const p = answer.data.published;
  for (const path of Object.keys(edits)) { original[path] = edits[path]; delete edits[path]; }
  renderChanged();
  $("edit-message").value = "";
  setState("ok", `已发布（第 ${p.id} 次），实时策略 ${answer.data.reload.digest.slice(0, 19)}…`, `published #${p.id}${p.commit ? `, commit ${p.commit.slice(0, 10)}` : ""}`);
  showRecord(p);
}

async function revert() {
  clearTimeout(timer);
  setState("busy", "撤销中…", "reverting…");
  const answer = await api("/v1/editing/revert", { method: "POST", body: JSON.stringify({}) });
  if (!answer.ok) { setState("error", "未撤销", `${answer.status} ${answer.data?.error || ""}: ${answer.data?.message || answer.text}`); return; }
  const r = answer.data.reverted;
  original = {};
  for (const path of Object.keys(edits)) delete edits[path];
  renderChanged();
  await openFile(current);
  setState("ok", `已撤销第 ${r.reverts} 次发布，实时策略 ${answer.data.reload.digest.slice(0, 19)}…`, `publish #${r.reverts} reverted`);
  showRecord(r);
}

function showRecord(record) {
  $("edit-results").replaceChildren(h("h3", {}, ...bi("发布记录", "Publish log record")),
    h("p", { class: "meta" }, `${record.at} · ${record.who} · ${record.message} · ${record.digest_before.slice(0, 19)}… → ${record.digest_after.slice(0, 19)}…`),
    h("pre", { class: "diff", "data-testid": "edit-diff", text: record.diff }));
}
