import { defineConfig } from "vite";

// One bundle of hashed files under dist/assets/ (cached for good by the Worker)
// and an index.html with no inline code, as the Content-Security-Policy demands.
// `npm run dev` serves the sources with the API of the local stack (`scripts/dev`)
// behind it, marked as a beta tester so that the gateway sends it to the app.
const api = { target: "http://127.0.0.1:8787", headers: { "X-Beta-User": "true" } };

export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  server: { proxy: { "/api": api } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: "es2020",
  },
});
