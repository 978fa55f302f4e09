// The commands that run letterhead's command line over a whole site: the taxonomy report (a
// read-only document) and the site check (the Problems panel).
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { serverCommand, SECTION } from "./settings";
import { chooseSite } from "./sites";

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `letterhead ARGS...` with the configured program, in `cwd`. Exit 1 means findings. */
function runLetterhead(args: string[], cwd: string, output: vscode.OutputChannel): Promise<Outcome> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  const program = serverCommand(vscode.workspace.getConfiguration(SECTION), folders);
  const argv = [...program.args, ...args];
  output.appendLine(`letterhead: running ${[program.command, ...argv].join(" ")} in ${cwd}`);
  return new Promise((resolve, reject) => {
    execFile(
      program.command,
      argv,
      { cwd, maxBuffer: 256 * 1024 * 1024, timeout: 300_000, windowsHide: true },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : (error as NodeJS.ErrnoException & { code?: unknown }).code;
        if (typeof code === "number") {
          resolve({ code, stdout, stderr });
        } else if (error !== null) {
          reject(new Error(`could not run ${program.command}: ${error.message}`));
        } else {
          resolve({ code: 0, stdout, stderr });
        }
      },
    );
  });
}

function failed(what: string, error: unknown, output: vscode.OutputChannel): void {
  const message = error instanceof Error ? error.message : String(error);
  output.appendLine(`letterhead: ${what}: ${message}`);
  void vscode.window.showErrorMessage(`letterhead: ${what}: ${message}`, "Show Log").then((c) => {
    if (c === "Show Log") {
      output.show(true);
    }
  });
}

// -- the taxonomy report --------------------------------------------------------------------

/** Read-only documents `letterhead-report:/<site>/Taxonomy.txt?<root>` holding the report. */
export class TaxonomyReports implements vscode.TextDocumentContentProvider {
  static readonly scheme = "letterhead-report";
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  set(uri: vscode.Uri, text: string): void {
    this.texts.set(uri.toString(), text);
    this.changed.fire(uri);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? "";
  }
}

export async function showTaxonomyReport(
  reports: TaxonomyReports,
  output: vscode.OutputChannel,
): Promise<void> {
  const root = await chooseSite();
  if (root === undefined) {
    return;
  }
  try {
    const outcome = await runLetterhead(["tags", root], root, output);
    if (outcome.code !== 0) {
      throw new Error(outcome.stderr.trim() || `exit code ${outcome.code}`);
    }
    const uri = vscode.Uri.from({
      scheme: TaxonomyReports.scheme,
      path: `/${path.basename(root)} — taxonomy.txt`,
      query: root,
    });
    reports.set(uri, `Tags and categories of ${root}\n\n${outcome.stdout}`);
    const document = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(document, { preview: false });
  } catch (error) {
    failed("the taxonomy report failed", error, output);
  }
}

// -- the site check -------------------------------------------------------------------------

interface JsonPosition {
  line: number;
  character: number; // Unicode code points
}

interface JsonFinding {
  path: string;
  code: string;
  name: string;
  severity: "error" | "warning" | "info" | "hint";
  message: string;
  range: { start: JsonPosition; end: JsonPosition };
}

const SEVERITIES: Record<JsonFinding["severity"], vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  info: vscode.DiagnosticSeverity.Information,
  hint: vscode.DiagnosticSeverity.Hint,
};

/** The UTF-16 column of code point `points` in `line` (VS Code counts UTF-16 code units). */
function utf16Column(line: string | undefined, points: number): number {
  if (line === undefined) {
    return points;
  }
  let column = 0;
  let seen = 0;
  for (const character of line) {
    if (seen >= points) {
      break;
    }
    column += character.length;
    seen += 1;
  }
  return column + Math.max(0, points - seen);
}

export async function checkSite(
  results: vscode.DiagnosticCollection,
  output: vscode.OutputChannel,
  serverRunning: () => boolean,
): Promise<void> {
  const root = await chooseSite();
  if (root === undefined) {
    return;
  }
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: "letterhead: checking the site" },
    async () => {
      let report: { files: number; findings: JsonFinding[] };
      try {
        const outcome = await runLetterhead(["check", "--format", "json", root], root, output);
        if (outcome.code !== 0 && outcome.code !== 1) {
          throw new Error(outcome.stderr.trim() || `exit code ${outcome.code}`);
        }
        report = JSON.parse(outcome.stdout) as { files: number; findings: JsonFinding[] };
      } catch (error) {
        failed("the site check failed", error, output);
        return;
      }
      // Open documents are checked live by the server; the check covers the rest.
      const live = new Set(
        serverRunning()
          ? vscode.workspace.textDocuments
              .filter((d) => d.languageId === "markdown" && d.uri.scheme === "file")
              .map((d) => d.uri.fsPath)
          : [],
      );
      const byFile = new Map<string, JsonFinding[]>();
      for (const finding of report.findings) {
        const file = path.join(root, ...finding.path.split("/"));
        if (!live.has(file)) {
          byFile.set(file, [...(byFile.get(file) ?? []), finding]);
        }
      }
      results.clear();
      for (const [file, findings] of byFile) {
        let lines: string[] = [];
        try {
          lines = (await fs.readFile(file, "utf8")).split(/\r\n|\r|\n/);
        } catch {
          // the columns stay in code points
        }
        const at = (p: JsonPosition) => new vscode.Position(p.line, utf16Column(lines[p.line], p.character));
        results.set(
          vscode.Uri.file(file),
          findings.map((finding) => {
            const range = new vscode.Range(at(finding.range.start), at(finding.range.end));
            const diagnostic = new vscode.Diagnostic(range, finding.message, SEVERITIES[finding.severity]);
            diagnostic.source = "letterhead";
            diagnostic.code = finding.code;
            return diagnostic;
          }),
        );
      }
      const count = report.findings.length;
      output.appendLine(`letterhead: ${report.files} files checked, ${count} finding(s)`);
      await vscode.commands.executeCommand("workbench.actions.view.problems");
      void vscode.window.setStatusBarMessage(
        `letterhead: ${report.files} files checked, ${count} finding${count === 1 ? "" : "s"}`,
        10_000,
      );
    },
  );
}
