// 编辑规则 Edit rules: the policy's own files changed in the page, their consequences seen before anything is
// published. Shown only when the service offers editing (GET /v1/editing/files answers 200: --editing and an
// admin token). A proposal is every file changed or created here (path → whole text) and every file marked for
// deletion; the service checks it in a copy of the folder: validation on a pause in typing, the regression cases, the impact over a corpus; publishing
// writes it into the served folder (recorded, revertible) and the service reloads it.

import { api, bi, h } from "./dom.js";
import { corpusFields, impactReport, setUpCorpusForm } from "./impact.js";

const PAUSE_MS = 600;
const edits = {};     // path → edited text (every file changed or created and not yet published)
const created = new Set();  // paths of new files (in edits until published)
const deleted = new Set();  // paths of files to delete
let listed = [];      // the folder's files as the service listed them
let current = null;   // the path shown in the editor
let original = {};    // path → text as served
let timer = null;
let checking = 0;     // the latest validation asked for: older answers are ignored
let editor = null;    // the CodeMirror editor (codeeditor.js)
let diagnostics = []; // the last diagnostics of the proposal, every file's

const $ = (id) => document.getElementById(id);

/** Probe the service; when it offers editing, show the tab and set the view up. */
export async function setUpEditor(onShow) {
  const listing = await api("/v1/editing/files");
  if (!listing.ok) return false;
  // the editor (CodeMirror, ~390 KB) is fetched only by a page that is offered editing
  const { createCodeEditor } = await import("./codeeditor.js");
  $("tab-edit").hidden = false;
  $("tab-edit").addEventListener("click", () => onShow("edit"));
  listed = listing.data.files;
  $("edit-new-folder").replaceChildren(...listing.data.new_file_folders.map((f) => h("option", { value: f, text: `${f}/` })));
  if (listing.data.new_file_folders.includes("guarantees")) $("edit-new-folder").value = "guarantees";
  $("edit-new-form").hidden = !listing.data.new_file_folders.length;
  $("edit-new-form").addEventListener("submit", (event) => { event.preventDefault(); createFile(); });
  $("edit-delete").addEventListener("click", toggleDelete);
  const picker = $("edit-file");
  picker.addEventListener("change", () => openFile(picker.value));
  editor = createCodeEditor($("edit-text"), { label: "文件内容 File text", onChange: (text) => {
    edits[current] = text;
    if (edits[current] === original[current] && !created.has(current)) delete edits[current];
    renderChanged();
    changed();
  } });
  $("edit-cases").addEventListener("click", runCases);
  $("edit-impact").addEventListener("click", runImpact);
  setUpCorpusForm("edit-impact");
  $("edit-publish").addEventListener("click", publish);
  $("edit-revert").addEventListener("click", revert);
  renderPicker();
  await openFile(listed.find((f) => f.path.startsWith("guarantees/"))?.path || listed[0].path);
  return true;
}

/** The proposal as the routes take it: the changed and new files' texts, the files to delete. */
function proposal() {
  return { files: edits, delete: [...deleted].sort() };
}

function changed() {
  setState("editing", "已修改，等待检查…", "edited, checking after a pause…");
  clearTimeout(timer);
  timer = setTimeout(validate, PAUSE_MS);
}

function renderPicker() {
  const label = (path, kind) => `${path}${kind === "cases" ? "（回归用例 cases）" : ""}${created.has(path) ? "（新文件 new）" : ""}${deleted.has(path) ? "（将删除 to be deleted）" : ""}`;
  const paths = [...listed.map((f) => [f.path, f.kind]), ...[...created].map((p) => [p, p.startsWith("cases/") ? "cases" : "policy"])]
    .sort((a, b) => a[0].localeCompare(b[0]));
  $("edit-file").replaceChildren(...paths.map(([path, kind]) => h("option", { value: path, text: label(path, kind) })));
  if (current) $("edit-file").value = current;
}

/** A new .yaml file in the chosen folder: it starts as an empty list of rules (or cases) and is part of the proposal. */
async function createFile() {
  let name = $("edit-new-name").value.trim();
  if (!name) { setState("error", "请填写新文件名", "type the new file's name"); $("edit-new-name").focus(); return; }
  if (!name.endsWith(".yaml")) name += ".yaml";
  const path = `${$("edit-new-folder").value}/${name}`;
  if (path in original || created.has(path) || listed.some((f) => f.path === path)) {
    setState("error", `文件已存在：${path}`, "a file of that name exists"); return;
  }
  const starter = path.startsWith("cases/") ? "cases: []\n" : "rules: []\n";
  created.add(path);
  original[path] = "";
  edits[path] = starter;
  $("edit-new-name").value = "";
  renderPicker();
  await openFile(path);
  renderChanged();
  changed();
}

/** Mark the file shown for deletion, or keep it after all; a new file is simply dropped. */
async function toggleDelete() {
  const path = current;
  if (created.has(path)) {
    created.delete(path);
    delete edits[path];
    delete original[path];
    renderPicker();
    await openFile(listed.find((f) => f.path.startsWith("guarantees/"))?.path || listed[0].path);
  } else if (deleted.has(path)) {
    deleted.delete(path);
  } else {
    deleted.add(path);
    delete edits[path];
    editor.setText(original[path]);
  }
  renderPicker();
  showDeleted();
  renderChanged();
  changed();
}

function showDeleted() {
  const gone = deleted.has(current);
  editor.setReadOnly(gone);
  $("edit-delete").replaceChildren(...(gone ? bi("保留此文件", "Keep this file") : bi("删除此文件", "Delete this file")));
  $("edit-delete").setAttribute("aria-pressed", String(gone));
}

async function openFile(path) {
  if (!(path in original)) {
    editor.setReadOnly(true);  // no typing into the file being left while the next one loads
    const read = await api(`/v1/editing/file?path=${encodeURIComponent(path)}`);
    editor.setReadOnly(deleted.has(current));
    if (!read.ok) { setState("error", "无法读取文件", `${read.status}: ${read.data?.message || read.text}`); return; }
    original[path] = read.data.text;
  }
  current = path;
  $("edit-file").value = path;
  editor.setText(path in edits ? edits[path] : original[path]);
  editor.showDiagnostics(diagnostics.filter((d) => d.file === path));
  showDeleted();
}

function renderChanged() {
  const paths = [...Object.keys(edits), ...deleted].sort();
  const what = (p) => (created.has(p) ? `${p}（新 new）` : deleted.has(p) ? `${p}（删除 deleted）` : p);
  $("edit-changed").replaceChildren(...(paths.length ? bi(`已修改 ${paths.length} 个文件：${paths.map(what).join("、")}`, `${paths.length} file(s) changed`) : bi("尚无修改", "nothing changed yet")));
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
  const answer = await api("/v1/editing/validate", { method: "POST", body: JSON.stringify(proposal()) });
  if (ticket !== checking) return;
  if (!answer.ok) { setState("error", "无法检查", `${answer.status}: ${answer.data?.message || answer.text}`); return; }
  renderDiagnostics(answer.data.diagnostics);
  if (answer.data.loads) setState("ok", "规则可以加载", "the policy loads");
  else setState("error", `规则无法加载（${answer.data.diagnostics.filter((d) => d.severity === "error").length} 处错误）`, "the policy does not load");
}

async function runCases() {
  clearTimeout(timer);
  setState("busy", "运行回归用例中…", "running the regression cases…");
  const answer = await api("/v1/editing/cases", { method: "POST", body: JSON.stringify(proposal()) });
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
  const answer = await api("/v1/editing/impact", { method: "POST", body: JSON.stringify({ ...proposal(), ...fields }) });
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
  if (!Object.keys(edits).length && !deleted.size) { setState("error", "没有修改可发布", "nothing changed to publish"); return; }
  if (!message) { setState("error", "请写明发布说明", "write a message saying what changed and why"); $("edit-message").focus(); return; }
  setState("busy", "发布中…", "publishing…");
  const body = { ...proposal(), message, override_failing_cases: $("edit-override").checked };
  const answer = await api("/v1/editing/publish", { method: "POST", body: JSON.stringify(body) });
  if (!answer.ok) {
    renderDiagnostics(answer.data?.diagnostics || []);
    setState("error", "未发布", `${answer.status} ${answer.data?.error || ""}: ${answer.data?.message || answer.text}`);
    return;
  }
  const p = answer.data.published;
  await reset();
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
  await reset();
  setState("ok", `已撤销第 ${r.reverts} 次发布，实时策略 ${answer.data.reload.digest.slice(0, 19)}…`, `publish #${r.reverts} reverted`);
  showRecord(r);
}

/** After a publish or revert: the folder's files as listed now, nothing edited, the same file shown if it is still there. */
async function reset() {
  for (const path of Object.keys(edits)) delete edits[path];
  created.clear();
  deleted.clear();
  original = {};
  diagnostics = [];
  const listing = await api("/v1/editing/files");
  if (listing.ok) listed = listing.data.files;
  const keep = listed.some((f) => f.path === current) ? current : listed.find((f) => f.path.startsWith("guarantees/"))?.path || listed[0].path;
  current = null;
  renderPicker();
  await openFile(keep);
  renderChanged();
  $("edit-diagnostics").replaceChildren();
}

function showRecord(record) {
  $("edit-results").replaceChildren(h("h3", {}, ...bi("发布记录", "Publish log record")),
    h("p", { class: "meta" }, `${record.at} · ${record.who} · ${record.message} · ${record.digest_before.slice(0, 19)}… → ${record.digest_after.slice(0, 19)}…`),
    h("pre", { class: "diff", "data-testid": "edit-diff", text: record.diff }));
}
