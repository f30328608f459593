// Parses Mermaid diagrams with Mermaid's own parser (the npm package `mermaid`, on jsdom: no browser).
// Input on stdin: a JSON array of diagram texts. Output on stdout: a JSON array of
// {"ok": true, "type": "<diagram type>"} or {"ok": false, "error": "<parser message>"}, one per diagram.
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const text of JSON.parse(input)) {
  try {
    const parsed = await mermaid.parse(text);
    results.push({ ok: true, type: parsed.diagramType });
  } catch (error) {
    results.push({ ok: false, error: String(error && error.message ? error.message : error) });
  }
}
process.stdout.write(JSON.stringify(results));
