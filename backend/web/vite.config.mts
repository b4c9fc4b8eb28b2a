// Builds the page into dist/ (served by the API at `/`, backend/api/web.py) and runs its unit tests.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  // Vite's and Vitest's caches with the other npm files, not among the page's sources (whose hash
  // decides when scripts/dev rebuilds).
  cacheDir: "../../node_modules/.vite-web",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    reportCompressedSize: false,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
