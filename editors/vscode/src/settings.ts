// The extension's settings: which program runs the language server and the command line.
import * as os from "node:os";
import * as path from "node:path";
import type * as vscode from "vscode";

export const SECTION = "letterhead";

/** A program and the arguments that come before letterhead's own (`serve`, `check`, `tags`). */
export interface Command {
  command: string;
  args: string[];
}

/** `letterhead.server.pythonPath` as `python -m letterhead`, else `letterhead.server.path`. */
export function serverCommand(
  configuration: vscode.WorkspaceConfiguration,
  folders: readonly vscode.WorkspaceFolder[],
): Command {
  const python = configuration.get<string>("server.pythonPath", "").trim();
  if (python !== "") {
    return { command: resolvePath(python, folders), args: ["-m", "letterhead"] };
  }
  const command = configuration.get<string>("server.path", "letterhead").trim() || "letterhead";
  // A bare name is looked up on PATH; anything with a folder in it is a path.
  const bare = !command.includes("/") && !command.includes("\\") && !command.startsWith("~");
  return { command: bare ? command : resolvePath(command, folders), args: [] };
}

/** Expands `~`, `${workspaceFolder}` and `${userHome}`; relative paths start at the first folder. */
export function resolvePath(value: string, folders: readonly vscode.WorkspaceFolder[]): string {
  const first = folders[0]?.uri.fsPath;
  let result = value
    .replace(/\$\{userHome\}/g, os.homedir())
    .replace(/\$\{workspaceFolder(?::([^}]+))?\}/g, (whole, name: string | undefined) => {
      const folder = name === undefined ? first : folders.find((f) => f.name === name)?.uri.fsPath;
      return folder ?? whole;
    });
  if (result === "~" || result.startsWith("~/")) {
    result = path.join(os.homedir(), result.slice(1));
  }
  if (!path.isAbsolute(result) && first !== undefined) {
    result = path.join(first, result);
  }
  return result;
}
