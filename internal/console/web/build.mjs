// Builds the console into ../dist (or the directory after --outdir): the
// bundle and its stylesheet with content hashes in their names (cached for
// a year by the server), and index.html naming them (never cached). The
// output depends on the sources alone, so a rebuild of unchanged sources
// gives the same bytes: the Go test and CI compare it with the committed
// dist/.
//
// It also writes .sources.sha256 (a dot-file: not embedded in the binary):
// the SHA-256 of every input of the build, which the Go test recomputes to
// catch sources changed without a rebuild, on a clone without npm too.
import * as esbuild from "esbuild";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
let outdir = path.join(here, "..", "dist");
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--outdir" && args[i + 1]) outdir = path.resolve(args[++i]);
  else if (args[i].startsWith("--outdir=")) outdir = path.resolve(args[i].slice(9));
  else {
    console.error(`build.mjs: unknown argument ${args[i]} (only --outdir DIR)`);
    process.exit(2);
  }
}

await mkdir(outdir, { recursive: true });
for (const f of await readdir(outdir)) await rm(path.join(outdir, f), { recursive: true });

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: ["src/main.tsx"],
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  jsx: "automatic",
  jsxImportSource: "preact",
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  outdir,
  metafile: true,
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
});

let js = "", css = "";
for (const [file, out] of Object.entries(result.metafile.outputs)) {
  const name = path.basename(file);
  if (out.entryPoint && name.endsWith(".js")) js = name;
  else if (name.endsWith(".css")) css = name;
}
if (!js || !css) {
  console.error("build.mjs: esbuild wrote no bundle or no stylesheet");
  process.exit(1);
}

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Herald console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${css}">
<script type="module" src="${js}"></script>
</head>
<body>
<div id="app"><noscript>The Herald console needs JavaScript.</noscript></div>
</body>
</html>
`;
await writeFile(path.join(outdir, "index.html"), html);
await writeFile(path.join(outdir, ".sources.sha256"), await sourcesManifest());
console.log(`built ${path.relative(process.cwd(), outdir) || "."}: index.html ${js} ${css}`);

// sourcesManifest lists the build's inputs as sha256sum does ("<hex>  <path>"
// by path, paths relative to web/ with "/"): every file under src/ and the
// build's own files. internal/console/dist_test.go computes the same.
async function sourcesManifest() {
  const files = ["build.mjs", "package.json", "package-lock.json", "tsconfig.json"];
  async function walk(dir) {
    for (const e of await readdir(path.join(here, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) await walk(rel);
      else if (e.isFile()) files.push(rel);
    }
  }
  await walk("src");
  files.sort();
  let out = "";
  for (const f of files) {
    const sum = createHash("sha256").update(await readFile(path.join(here, f))).digest("hex");
    out += `${sum}  ${f}\n`;
  }
  return out;
}
