// Runs the pure core of app/static/js/verify-lottery.js under node (>= 20, global crypto.subtle).
// Usage: node verify_node_check.mjs PATH/TO/verify-lottery.js CASES.json
// CASES.json is a JSON list of records; prints {"sha256_empty": ..., "results": [problems...]}.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const [scriptPath, casesPath] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const { verifyRecord, sha256Hex } = require(resolve(scriptPath));
if (typeof globalThis.LotteryVerify?.verifyRecord !== 'function') {
  throw new Error('globalThis.LotteryVerify not exported');
}
const cases = JSON.parse(readFileSync(casesPath, 'utf8'));
const results = [];
for (const record of cases) results.push(await verifyRecord(record));
process.stdout.write(JSON.stringify({ sha256_empty: await sha256Hex(''), results }));
