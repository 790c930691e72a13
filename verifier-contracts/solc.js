// Compiles Solidity with a pinned solcjs: standard JSON in on stdin, standard JSON out on
// stdout. Driven by poa-contracts (src/solc.rs); no native solc is needed or downloaded.
// argv[2] names the npm alias of the compiler (default solc-0.8.19, the generated verifier's
// pragma); imports that are not among the inlined sources (OpenZeppelin's `@openzeppelin/...`)
// are read from node_modules, as forge's remapping does.
const fs = require("fs");
const path = require("path");
const solc = require(process.argv[2] || "solc-0.8.19");
function findImports(p) {
  try {
    return { contents: fs.readFileSync(path.join(__dirname, "node_modules", p), "utf8") };
  } catch (e) {
    return { error: `${p}: not in node_modules (${e.code})` };
  }
}
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => process.stdout.write(solc.compile(input, { import: findImports })));
