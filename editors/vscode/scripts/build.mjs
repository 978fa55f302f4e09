// Bundles the extension and vscode-languageclient into one file, dist/extension.js.
import * as esbuild from "esbuild";

const production = !process.argv.includes("--dev");

await esbuild.build({
  entryPoints: ["src/extension.ts"],
  bundle: true,
  outfile: "dist/extension.js",
  format: "cjs",
  platform: "node",
  target: "node20",
  external: ["vscode"],
  minify: production,
  sourcemap: production ? false : "inline",
  logLevel: "warning",
});
