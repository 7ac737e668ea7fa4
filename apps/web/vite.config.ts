import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The control plane serves dist/ at "/" (apps/control-plane/src/rest/web.ts): hashed files under
// assets/ are cached for a year, index.html never. No inline scripts or styles, so the
// Content-Security-Policy can stay at 'self'.
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    sourcemap: false,
    target: "es2022",
  },
  server: {
    // `pnpm --filter @pipecd-ts/web dev` against a local control plane on :8080.
    proxy: { "/api": { target: "http://127.0.0.1:8080", changeOrigin: false } },
  },
});
