// The letterhead extension: starts `letterhead serve` for the Markdown documents of Jekyll sites,
// and runs the command line for the taxonomy report and a check of a whole site.
import * as vscode from "vscode";
import {
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";
import { checkSite, showTaxonomyReport, TaxonomyReports } from "./commands";
import { serverCommand, SECTION } from "./settings";
import { hasSite, siteRootOf } from "./sites";

let client: LanguageClient | undefined;
let starting: Promise<void> | undefined;
let output: vscode.LogOutputChannel;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("letterhead", { log: true });
  const checkResults = vscode.languages.createDiagnosticCollection("letterhead-check");
  const reports = new TaxonomyReports();
  context.subscriptions.push(
    output,
    checkResults,
    vscode.workspace.registerTextDocumentContentProvider(TaxonomyReports.scheme, reports),
    vscode.commands.registerCommand("letterhead.restartServer", () => restart()),
    vscode.commands.registerCommand("letterhead.showTaxonomyReport", () =>
      showTaxonomyReport(reports, output),
    ),
    vscode.commands.registerCommand("letterhead.checkSite", () =>
      checkSite(checkResults, output, () => client !== undefined),
    ),
    // A document the server now checks live drops the results of an earlier site check.
    vscode.workspace.onDidOpenTextDocument((document) => {
      if (client !== undefined && isMarkdownFile(document)) {
        checkResults.delete(document.uri);
      }
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (
        event.affectsConfiguration(`${SECTION}.server.path`) ||
        event.affectsConfiguration(`${SECTION}.server.pythonPath`)
      ) {
        if (client !== undefined) {
          output.appendLine("letterhead: the server command changed; restarting");
          void restart();
        }
      }
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      if (client !== undefined) {
        void restart();
      }
    }),
    { dispose: () => void stop() },
  );

  // Start for a Jekyll site: one in the workspace, or the site of a Markdown file opened later.
  if (await wanted()) {
    await start();
    return;
  }
  const later = vscode.Disposable.from(
    vscode.workspace.onDidOpenTextDocument(async (document) => {
      if (client === undefined && isMarkdownFile(document) && (await siteRootOf(document.uri))) {
        later.dispose();
        await start();
      }
    }),
    watchForSites(async () => {
      if (client === undefined) {
        later.dispose();
        await start();
      }
    }),
  );
  context.subscriptions.push(later);
}

export async function deactivate(): Promise<void> {
  await stop();
}

function isMarkdownFile(document: vscode.TextDocument): boolean {
  return document.languageId === "markdown" && document.uri.scheme === "file";
}

async function wanted(): Promise<boolean> {
  for (const document of vscode.workspace.textDocuments) {
    if (isMarkdownFile(document) && (await siteRootOf(document.uri))) {
      return true;
    }
  }
  return hasSite();
}

function watchForSites(found: () => void): vscode.Disposable {
  const watcher = vscode.workspace.createFileSystemWatcher("**/_config.yml", false, true, true);
  watcher.onDidCreate(found);
  return watcher;
}

async function start(): Promise<void> {
  if (client !== undefined) {
    return;
  }
  if (starting !== undefined) {
    return starting;
  }
  starting = (async () => {
    const folders = vscode.workspace.workspaceFolders ?? [];
    const configuration = vscode.workspace.getConfiguration(SECTION);
    const server = serverCommand(configuration, folders);
    const serverOptions: ServerOptions = {
      command: server.command,
      args: [...server.args, "serve"],
      transport: TransportKind.stdio,
      options: { cwd: folders[0]?.uri.fsPath, env: process.env },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [
        { scheme: "file", language: "markdown" },
        { scheme: "untitled", language: "markdown" },
      ],
      outputChannel: output,
      initializationOptions: {
        diagnostics: { debounceMs: configuration.get<number>("diagnostics.debounceMs", 150) },
        trace: { server: configuration.get<string>("trace.server", "off") },
      },
    };
    output.appendLine(`letterhead: starting ${[server.command, ...server.args, "serve"].join(" ")}`);
    const candidate = new LanguageClient("letterhead", "letterhead", serverOptions, clientOptions);
    try {
      await candidate.start();
      client = candidate;
    } catch (error) {
      output.appendLine(`letterhead: the server did not start: ${String(error)}`);
      void candidate.dispose().catch(() => undefined);
      const choice = await vscode.window.showErrorMessage(
        `letterhead: could not start \`${server.command}\`. Install letterhead (pip install letterhead) or set “letterhead.server.path” or “letterhead.server.pythonPath”.`,
        "Open Settings",
        "Show Log",
      );
      if (choice === "Open Settings") {
        void vscode.commands.executeCommand("workbench.action.openSettings", "letterhead.server");
      } else if (choice === "Show Log") {
        output.show(true);
      }
    }
  })();
  try {
    await starting;
  } finally {
    starting = undefined;
  }
}

async function stop(): Promise<void> {
  const running = client;
  client = undefined;
  if (running !== undefined) {
    try {
      await running.dispose(2000); // shutdown, exit, and the process ended
    } catch (error) {
      output.appendLine(`letterhead: stopping the server: ${String(error)}`);
    }
  }
}

async function restart(): Promise<void> {
  await starting;
  await stop();
  await start();
  if (client !== undefined) {
    void vscode.window.setStatusBarMessage("letterhead: server restarted", 3000);
  }
}
