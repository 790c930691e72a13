// Compiles Solidity with the pinned solcjs: standard JSON in on stdin, standard JSON out on
// stdout. Driven by poa-contracts (src/solc.rs); no native solc is needed or downloaded.
const solc = require("solc-0.8.19");
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => process.stdout.write(solc.compile(input)));
