// Cold start of the gateway Worker: for each round a fresh workerd (Miniflare,
// the runtime `wrangler dev` uses) loads the built gateway, then answers its
// first and second request (`GET /health`, answered by the gateway itself).
// Usage: node e2e/bench/cold_start.mjs [rounds] [build dir]
import { readFileSync, statSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { Miniflare } from "miniflare";

const rounds = Number(process.argv[2] ?? 5);
const build = process.argv[3] ?? "gateway/build";
const wasm = readFileSync(`${build}/index_bg.wasm`);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = { load: [], first: [], second: [] };
for (let i = 0; i < rounds; i++) {
  const t0 = performance.now();
  const mf = new Miniflare({
    modules: true,
    scriptPath: `${build}/index.js`,
    modulesRoot: build,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2025-11-01",
    kvNamespaces: ["MIGRATION_KV", "DEPLOYMENT_KV"],
    durableObjects: { METRICS: "MetricsWindow" },
    bindings: {
      ENVIRONMENT: "development",
      LOCAL_DEV: "true",
      LEGACY_ORIGIN: "http://127.0.0.1:9",
      ROUTING_SECRET: "cold-start",
    },
  });
  await mf.ready;
  const t1 = performance.now();
  const first = await mf.dispatchFetch("http://127.0.0.1/health");
  await first.text();
  const t2 = performance.now();
  const second = await mf.dispatchFetch("http://127.0.0.1/health");
  await second.text();
  const t3 = performance.now();
  if (first.status !== 200 || second.status !== 200) {
    throw new Error(`/health answered ${first.status}, ${second.status}`);
  }
  rows.load.push(t1 - t0);
  rows.first.push(t2 - t1);
  rows.second.push(t3 - t2);
  await mf.dispose();
}
console.log(`wasm ${wasm.length} bytes, ${gzipSync(wasm, { level: 9 }).length} gzipped`);
console.log(`median of ${rounds}: workerd start + load ${median(rows.load).toFixed(0)} ms, ` +
  `first request ${median(rows.first).toFixed(1)} ms, second ${median(rows.second).toFixed(1)} ms`);
