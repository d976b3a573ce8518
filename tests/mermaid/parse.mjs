// Parses Mermaid diagrams with the real Mermaid parser (mermaid needs a DOM: jsdom).
// stdin: a JSON list of diagram sources; stdout: a JSON list of
// {ok, error, type, labels} (labels: every vertex's and subgraph's id and the text it shows).
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });

// What a label shows: Mermaid keeps entity codes (#60;) encoded in its database and decodes them to
// HTML entities when it renders (decodeEntities); the browser then shows the characters as text.
function shown(text) {
  const html = String(text).replace(/ﬂ°°/g, '&#').replace(/ﬂ°/g, '&').replace(/¶ß/g, ';');
  const t = document.createElement('textarea');
  t.innerHTML = html;
  return t.value;
}

const sources = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
for (const src of sources) {
  try {
    const parsed = await mermaid.parse(src);
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(src);
    const labels = {};
    const db = diagram.db;
    if (db.getVertices) {
      for (const [id, v] of db.getVertices()) { labels[id] = shown(v.text); }
    }
    if (db.getSubGraphs) {
      for (const g of db.getSubGraphs()) { labels[g.id] = shown(g.title); }
    }
    results.push({ ok: true, type: parsed.diagramType, labels });
  } catch (e) {
    results.push({ ok: false, error: String(e && e.message || e).slice(0, 2000) });
  }
}
process.stdout.write(JSON.stringify(results));
