import { defineConfig } from "vite";

// One bundle of hashed files under dist/assets/ (cached for good by the Worker)
// and an index.html with no inline code, as the Content-Security-Policy demands.
export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: "es2020",
  },
});
