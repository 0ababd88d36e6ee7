// Renders a batch of TeX formulas with KaTeX, once per site build.
// stdin:  JSON [{"tex": "...", "display": true|false}, ...]
// stdout: JSON [{"html": "..."} | {"error": "..."}, ...] in the same order.
// One process for the whole build keeps the cost at a few milliseconds a formula;
// errors are returned per formula so the caller can name the identity that failed.
// argv[2]: the path of KaTeX's ES module (node_modules/katex/dist/katex.mjs in a checkout,
// matderiv/_data/katex/katex.mjs in an installed wheel).
import { pathToFileURL } from "node:url";

const katex = (await import(pathToFileURL(process.argv[2]).href)).default;

const OPTIONS = { throwOnError: true, strict: "error", trust: false, output: "htmlAndMathml" };

function renderOne(item) {
  try {
    const output = item.output === "mathml" ? "mathml" : OPTIONS.output;
    return { html: katex.renderToString(item.tex,
                                        { ...OPTIONS, output, displayMode: !!item.display }) };
  } catch (err) {
    return { error: String(err && err.message ? err.message : err) };
  }
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const batch = JSON.parse(input);
  process.stdout.write(JSON.stringify(batch.map(renderOne)));
});
