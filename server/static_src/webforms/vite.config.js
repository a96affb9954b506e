// Builds main.js into server/static/webforms/ with fixed names (the page links webforms.js); see README.md.
import { defineConfig } from "vite";

// Web Forms' stylesheet embeds 27 Roboto faces as base64 (880 kB, Latin and Cyrillic only, of no use for
// Chinese labels). Dropping them leaves the browser's own sans-serif and keeps fonts out of the bundle
// (and `font-src data:` out of the page's policy).
const dropEmbeddedFonts = {
  name: "qingling-drop-embedded-fonts",
  transform(code, id) {
    if (!id.includes("@getodk/web-forms") || !code.includes("@font-face")) {
      return null;
    }
    return { code: code.replace(/@font-face\{[^}]*\}/g, ""), map: null };
  },
};

export default defineConfig({
  base: "./",
  plugins: [dropEmbeddedFonts],
  define: {
    __VUE_OPTIONS_API__: "true",
    __VUE_PROD_DEVTOOLS__: "false",
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: "false",
  },
  build: {
    outDir: "../../static/webforms",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 4000,
    rollupOptions: {
      input: "main.js",
      output: {
        entryFileNames: "webforms.js",
        chunkFileNames: "webforms-[name].js",
        assetFileNames: "webforms-[name][extname]",
      },
    },
  },
});
