// Untrusted text on a terminal. Archive member names, link targets, patch subjects and whatever a
// server sent can hold control characters: an OSC sequence (ESC ] 0 ; … BEL) retitles the
// terminal, a CSI one (ESC [ 2 J) clears it, a CR overwrites the line before it. terminalSafe()
// renders every C0 control, DEL and every C1 control (U+0080–U+009F: a lone U+009B is a CSI) as a
// visible escape (\x1b, \x9b); with `lines`, newline and tab stay as they are (multi-line text
// put together by nginx-forge itself: escape the untrusted parts without it first).

const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;

export function terminalSafe(text: string, opts: { lines?: boolean } = {}): string {
  return text.replace(CONTROLS, (c) => (opts.lines && (c === '\n' || c === '\t') ? c : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/** JSON for stdout: JSON.stringify escapes C0 controls but leaves DEL and C1 raw; escape those too (still valid JSON). */
export function terminalSafeJson(json: string): string {
  return json.replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
