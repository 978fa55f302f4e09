// The letterhead extension in a real VS Code: code-server (VS Code in a browser) with the packaged
// .vsix installed, driven through the workbench UI by playwright-core in Debian's headless
// Chromium. tests/editors/test_vscode.py runs this and asserts on what it writes.
//
// Every step is a thing an author does and sees: open a review, read the Problems panel, press
// Ctrl+Space in the `tags:` list, hover the salutation, run the two site commands from the
// command palette. Each step saves a screenshot and records what the workbench showed
// (<artifacts>/result.json); a failed step records its error and the next one still runs.
//
// Environment: LETTERHEAD_CODE_SERVER (the code-server package folder), LETTERHEAD_PLAYWRIGHT
// (the playwright-core package folder), LETTERHEAD_VSIX, LETTERHEAD_SITE (a scratch copy of a
// site), LETTERHEAD_PYTHON (a Python with letterhead installed), LETTERHEAD_SCRATCH (code-server's
// state), LETTERHEAD_ARTIFACTS (screenshots and result.json), CHROMIUM (default /usr/bin/chromium).
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync, createWriteStream } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const codeServerHome = env("LETTERHEAD_CODE_SERVER");
const playwrightHome = env("LETTERHEAD_PLAYWRIGHT");
const vsix = env("LETTERHEAD_VSIX");
const site = env("LETTERHEAD_SITE");
const python = env("LETTERHEAD_PYTHON");
const scratch = env("LETTERHEAD_SCRATCH");
const artifacts = env("LETTERHEAD_ARTIFACTS");
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const review = process.env.LETTERHEAD_REVIEW || "2014-03-14-under-the-skin.md";
const TIMEOUT = Number(process.env.LETTERHEAD_STEP_TIMEOUT_MS || 60_000);

const result = { steps: {}, errors: {}, screenshots: [] };
const started = Date.now();
const log = (...parts) => console.log(`[e2e ${((Date.now() - started) / 1000).toFixed(1)}s]`, ...parts);

mkdirSync(artifacts, { recursive: true });
const dirs = {
  userData: join(scratch, "user-data"),
  extensions: join(scratch, "extensions"),
  xdgConfig: join(scratch, "xdg-config"),
  xdgData: join(scratch, "xdg-data"),
  xdgCache: join(scratch, "xdg-cache"),
};
for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });

const childEnv = {
  ...process.env,
  XDG_CONFIG_HOME: dirs.xdgConfig,
  XDG_DATA_HOME: dirs.xdgData,
  XDG_CACHE_HOME: dirs.xdgCache,
  // code-server's own PATH must start with the Node it was built for.
  PATH: `${join(process.execPath, "..")}:${process.env.PATH}`,
};
const entry = join(codeServerHome, "out", "node", "entry.js");
const common = [`--user-data-dir=${dirs.userData}`, `--extensions-dir=${dirs.extensions}`];

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

function writeSettings() {
  const settings = {
    "workbench.startupEditor": "none",
    "chat.disableAIFeatures": true,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "workbench.tips.enabled": false,
    "workbench.enableExperiments": false,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoCheckUpdates": false,
    "extensions.autoUpdate": false,
    "security.workspace.trust.enabled": false,
    "git.enabled": false,
    "editor.minimap.enabled": false,
    "editor.hover.delay": 300,
    "editor.quickSuggestions": { other: false, comments: false, strings: false },
    "files.autoSave": "off",
    "letterhead.server.pythonPath": python,
    "letterhead.diagnostics.debounceMs": 100,
  };
  mkdirSync(join(dirs.userData, "User"), { recursive: true });
  writeFileSync(join(dirs.userData, "User", "settings.json"), JSON.stringify(settings, null, 2));
}

function installExtension() {
  const outcome = spawnSync(process.execPath, [entry, ...common, "--install-extension", vsix, "--force"], {
    env: childEnv,
    encoding: "utf8",
    timeout: 120_000,
  });
  result.install = { status: outcome.status, stdout: outcome.stdout, stderr: outcome.stderr };
  if (outcome.status !== 0 || !/letterhead/.test(outcome.stdout + outcome.stderr)) {
    throw new Error(`installing ${vsix} failed: ${outcome.stdout}\n${outcome.stderr}`);
  }
  log("installed", vsix);
}

async function startCodeServer(port) {
  const config = join(scratch, "config.yaml");
  writeFileSync(config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const output = createWriteStream(join(artifacts, "code-server.log"));
  const child = spawn(
    process.execPath,
    [
      entry,
      `--config=${config}`,
      ...common,
      "--disable-telemetry",
      "--disable-update-check",
      "--disable-workspace-trust",
      "--disable-getting-started-override",
      "--ignore-last-opened",
    ],
    // In this script's process group: test_vscode.py ends the whole group when it is done.
    { env: childEnv, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout.pipe(output);
  child.stderr.pipe(output);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`code-server exited with ${child.exitCode}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (response.ok) return child;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error("code-server did not answer /healthz within 60 s");
}

function stopCodeServer(child) {
  if (child && child.exitCode === null) {
    child.kill("SIGTERM"); // it ends the extension host, which ends the language server
  }
}

// -- the workbench ---------------------------------------------------------------------------

let page;
let shot = 0;

async function screenshot(name) {
  shot += 1;
  const file = join(artifacts, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file });
  result.screenshots.push(file);
  log("screenshot", file);
  return file;
}

async function step(name, body) {
  const begun = Date.now();
  try {
    result.steps[name] = (await body()) ?? true;
    log(`step ${name}: ok (${((Date.now() - begun) / 1000).toFixed(1)} s)`);
  } catch (error) {
    result.errors[name] = String(error?.stack || error);
    log(`step ${name}: FAILED: ${error}`);
    try {
      await screenshot(`${name}-failed`);
    } catch {
      // the page may be gone
    }
    await page?.keyboard.press("Escape").catch(() => undefined);
  }
}

const editor = () => page.locator(".part.editor .monaco-editor").first();

async function runCommand(title) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: 10_000 });
  await input.fill(`>${title}`);
  const row = page.locator(".quick-input-widget .monaco-list-row", { hasText: title }).first();
  await row.waitFor({ state: "visible", timeout: 10_000 });
  await input.press("Enter");
}

async function goToLine(line, column) {
  await page.keyboard.press("Control+G");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: 10_000 });
  // Ctrl+G is Quick Open with `:`, which `fill` replaces: the prefix goes in again.
  await input.fill(column === undefined ? `:${line}` : `:${line}:${column}`);
  await input.press("Enter");
  await input.waitFor({ state: "hidden", timeout: 10_000 });
}

async function problemsText() {
  return (await page.locator(".markers-panel").first().innerText().catch(() => "")) || "";
}

async function main() {
  writeSettings();
  installExtension();
  const port = await freePort();
  const codeServer = await startCodeServer(port);
  const { chromium } = await import(pathToFileURL(join(playwrightHome, "index.mjs")).href);
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ], // a fresh profile in a temporary folder, which playwright removes
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    const consoleLog = createWriteStream(join(artifacts, "browser-console.log"));
    page.on("console", (message) => consoleLog.write(`${message.type()}: ${message.text()}\n`));
    await run(port);
  } finally {
    writeFileSync(join(artifacts, "result.json"), JSON.stringify(result, null, 2));
    await browser.close().catch(() => undefined);
    stopCodeServer(codeServer);
  }
}

async function run(port) {
  await step("workbench", async () => {
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(site)}`);
    await page.locator(".monaco-workbench").waitFor({ state: "visible" });
    await page.locator(".explorer-folders-view, .explorer-viewlet").first().waitFor({ state: "visible" });
    return { title: await page.title() };
  });

  await step("open", async () => {
    await page.keyboard.press("Control+P");
    const input = page.locator(".quick-input-widget input");
    await input.waitFor({ state: "visible", timeout: 10_000 });
    await input.fill(review);
    await page.locator(".quick-input-widget .monaco-list-row", { hasText: review }).first().waitFor();
    await input.press("Enter");
    await page.locator(".tabs-container .tab.active", { hasText: review }).waitFor();
    await editor().locator(".view-line", { hasText: "Dear Scarlett Johansson" }).waitFor();
    return { tab: review };
  });

  await step("problems", async () => {
    await runCommand("View: Focus Problems");
    await page.locator(".markers-panel").first().waitFor({ state: "visible" });
    // The server's finding on the `tags:` line: `Letters` beside the site's `letters`.
    const row = page.locator(".markers-panel .monaco-list-row", { hasText: "TX001" }).first();
    await row.waitFor({ state: "visible", timeout: TIMEOUT });
    const text = await problemsText();
    // The squiggle in the editor, under `Letters`: drawn on a later frame than the panel's row,
    // so waited for (a count taken at once found none, once).
    const squiggly = editor().locator(".squiggly-warning, .squiggly-error, .squiggly-info");
    await squiggly.first().waitFor({ state: "attached", timeout: 5_000 }).catch(() => {});
    const squiggles = await squiggly.count();
    await screenshot("problems");
    return { text, row: await row.innerText(), squiggles };
  });

  await step("completion", async () => {
    await page.locator(".tabs-container .tab.active", { hasText: review }).click();
    const tagsLine = await editor().locator(".view-line", { hasText: "tags: [" }).first().innerText();
    const line = 15; // `tags: [uk, scotland, ..., Letters]` in the review (1-based)
    const close = tagsLine.replace(/\u00a0/g, " ").lastIndexOf("]") + 1; // 1-based column of `]`
    await goToLine(line, close);
    await page.keyboard.type(", ");
    await page.keyboard.press("Escape"); // whatever opened while typing
    await page.keyboard.press("Control+Space");
    const widget = page.locator(".part.editor .suggest-widget.visible");
    await widget.waitFor({ state: "visible", timeout: TIMEOUT });
    await widget.locator(".monaco-list-row").first().waitFor();
    await page.waitForTimeout(300); // let the list settle before reading and the screenshot
    const labels = await widget.locator(".monaco-list-row .label-name").allInnerTexts();
    const rows = await widget.locator(".monaco-list-row").allInnerTexts();
    await screenshot("completion");
    // The focused item's documentation, which VS Code asks for when it shows it
    // (`completionItem/resolve`): Ctrl+Space again opens the details beside the list.
    await page.keyboard.press("Control+Space");
    const docs = page.locator(".suggest-details .docs");
    await docs.first().waitFor({ state: "visible", timeout: 10_000 }).catch(() => {});
    await page.waitForTimeout(300);
    const documentation = (await docs.count()) ? await docs.first().innerText() : "";
    const focused = await widget.locator(".monaco-list-row.focused .label-name").allInnerTexts();
    await screenshot("completion-documentation");
    await page.keyboard.press("Escape");
    await runCommand("File: Revert File"); // the ", " typed above: the file stays as it was
    await page.locator(".tabs-container .tab.active.dirty").waitFor({ state: "detached", timeout: 10_000 });
    return { tagsLine, labels, rows, documentation, focused };
  });

  await step("hover", async () => {
    await page.mouse.move(5, 5);
    // The mouse over "Scarlett" in the salutation `_**Dear Scarlett Johansson**, The woman,_`.
    const line = editor().locator(".view-line", { hasText: "Dear Scarlett Johansson" }).first();
    await line.waitFor();
    const box = await line.evaluate((element) => {
      const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const at = node.textContent.indexOf("Scarlett");
        if (at >= 0) {
          const range = document.createRange();
          range.setStart(node, at);
          range.setEnd(node, at + "Scarlett".length);
          const rect = range.getBoundingClientRect();
          return { x: rect.x, y: rect.y, width: rect.width, height: rect.height };
        }
      }
      return null;
    });
    if (!box) throw new Error("no 'Scarlett' in the salutation line");
    const hover = page.locator(".monaco-hover", { hasText: "Dear Scarlett Johansson" }).first();
    for (let attempt = 0; attempt < 5; attempt++) {
      await page.mouse.move(box.x + box.width / 2 - 3, box.y + box.height / 2);
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 3 });
      if (await hover.waitFor({ state: "visible", timeout: 6_000 }).then(() => true, () => false)) break;
    }
    await hover.waitFor({ state: "visible", timeout: 5_000 });
    await page.waitForTimeout(300);
    const text = await hover.innerText();
    const html = await hover.innerHTML();
    const strong = await hover.locator("strong", { hasText: "Dear Scarlett Johansson" }).count();
    const emphasis = await hover.locator("em").count();
    await screenshot("hover");
    return { text, strong, emphasis, rawMarkdownShown: text.includes("**Dear"), htmlLength: html.length };
  });

  await step("taxonomy", async () => {
    await page.mouse.move(5, 5);
    await page.keyboard.press("Escape");
    await runCommand("Letterhead: Show the Taxonomy Report");
    const tab = page.locator(".tabs-container .tab.active", { hasText: "taxonomy" });
    await tab.waitFor({ state: "visible", timeout: TIMEOUT });
    await editor().locator(".view-line", { hasText: "letters" }).first().waitFor();
    const lines = await editor().locator(".view-line").allInnerTexts();
    await screenshot("taxonomy-report");
    return { tab: await tab.innerText(), lines };
  });

  await step("check-site", async () => {
    // Only the review is open: only the site check can put the other reviews' findings in the
    // Problems panel (the first, alphabetically: beasts-of-the-southern-wild's `catgories`).
    const before = await problemsText();
    await runCommand("Letterhead: Check the Whole Site");
    await page.locator(".markers-panel").first().waitFor({ state: "visible" });
    await page.locator(".markers-panel .monaco-list-row", { hasText: "FM005" }).first().waitFor({
      timeout: TIMEOUT,
    });
    await page.waitForTimeout(500);
    const text = await problemsText();
    const badge = await page.locator(".panel .composite-bar .badge-content, .panel .badge .badge-content").first().innerText().catch(() => "");
    await screenshot("check-site");
    // The filter box narrows the list to one dead link, in a review that is not open.
    const filter = page.locator(".markers-panel-action-filter input, .viewpane-filter input").first();
    await filter.click();
    await filter.fill("s21");
    const dead = page.locator(".markers-panel .monaco-list-row", { hasText: "LK001" }).first();
    await dead.waitFor({ timeout: 10_000 });
    const filtered = await problemsText();
    await screenshot("check-site-filtered");
    await filter.fill("");
    return { before, text, badge, filtered };
  });
}

main()
  .then(() => {
    const failed = Object.keys(result.errors);
    log(failed.length ? `failed steps: ${failed.join(", ")}` : "every step passed");
    process.exit(failed.length ? 1 : 0);
  })
  .catch((error) => {
    result.errors.setup = String(error?.stack || error);
    writeFileSync(join(artifacts, "result.json"), JSON.stringify(result, null, 2));
    console.error(error);
    process.exit(2);
  });
