// The rule editor's text box: CodeMirror 6 (vendor/codemirror.js, built by scripts/build_editor.sh and shipped in
// the package; nothing is fetched at run time) with line numbers, YAML highlighting, undo, search (Ctrl-F) and
// the service's diagnostics as inline lint marks. Tab is not taken by the editor: it moves to the next control,
// as everywhere on the page (indent with spaces, or Ctrl-] / Ctrl-[).

import {
  Compartment, EditorState, EditorView, bracketMatching, defaultHighlightStyle, defaultKeymap, drawSelection, highlightActiveLine,
  highlightActiveLineGutter, highlightSelectionMatches, highlightSpecialChars, history, historyKeymap, indentOnInput, indentUnit,
  keymap, lineNumbers, lintGutter, lintKeymap, search, searchKeymap, setDiagnostics, syntaxHighlighting, yaml,
} from "./vendor/codemirror.js";

const SEVERITY = { error: "error", warning: "warning" };
// The page's answer carries a fresh nonce that its CSP allows for <style> elements: CodeMirror's style sheet uses it.
const NONCE = document.querySelector('meta[name="style-nonce"]')?.content || "";

/** An editor in ``parent``; ``onChange(text)`` after each change the user makes. */
export function createCodeEditor(parent, { label, onChange }) {
  const editable = new Compartment();
  let quiet = false;  // a text set by the page, not typed: no onChange
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: "",
      extensions: [
        lineNumbers(), highlightActiveLineGutter(), highlightSpecialChars(), history(), drawSelection(), indentOnInput(),
        indentUnit.of("  "), syntaxHighlighting(defaultHighlightStyle, { fallback: true }), bracketMatching(), highlightActiveLine(),
        highlightSelectionMatches(), search({ top: true }), lintGutter(), yaml(), editable.of(EditorView.editable.of(true)),
        keymap.of([...defaultKeymap, ...historyKeymap, ...searchKeymap, ...lintKeymap]),
        EditorView.cspNonce.of(NONCE),
        EditorView.contentAttributes.of({ "aria-label": label, "data-testid": "edit-content", tabindex: "0" }),
        EditorView.updateListener.of((update) => { if (update.docChanged && !quiet) onChange(update.state.doc.toString()); }),
      ],
    }),
  });

  function position(line, column) {
    const doc = view.state.doc;
    const at = doc.line(Math.min(Math.max(1, line), doc.lines));
    return { at, from: at.from + Math.min(Math.max(0, column - 1), at.length) };
  }

  return {
    view,
    text: () => view.state.doc.toString(),
    setText(text) {
      quiet = true;
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text }, selection: { anchor: 0 }, scrollIntoView: true });
      quiet = false;
    },
    setReadOnly(readOnly) { view.dispatch({ effects: editable.reconfigure(EditorView.editable.of(!readOnly)) }); },
    /** The service's diagnostics of this file as lint marks: from its line:column to the end of that line. */
    showDiagnostics(diagnostics) {
      const marks = diagnostics.map((d) => {
        const { at, from } = position(d.line, d.column);
        const to = from < at.to ? at.to : Math.min(from + 1, view.state.doc.length);
        return { from, to: Math.max(from, to), severity: SEVERITY[d.severity] || "info", message: `${d.zh}\n${d.en}`, source: d.code };
      });
      view.dispatch(setDiagnostics(view.state, marks));
    },
    goTo(line, column) {
      const { from } = position(line, column);
      view.dispatch({ selection: { anchor: from }, effects: EditorView.scrollIntoView(from, { y: "center" }) });
      view.focus();
    },
  };
}
