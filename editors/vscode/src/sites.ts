// Jekyll sites: a site root is the nearest folder upward holding `_config.yml`.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";

export const CONFIG_FILE = "_config.yml";
const SKIPPED = "**/{node_modules,vendor,_site,.git,.jekyll-cache}/**";

/** The site root of a file, or undefined when no folder above it holds `_config.yml`. */
export async function siteRootOf(uri: vscode.Uri): Promise<string | undefined> {
  if (uri.scheme !== "file") {
    return undefined;
  }
  let folder = path.dirname(uri.fsPath);
  for (let depth = 0; depth < 64; depth++) {
    try {
      if ((await fs.stat(path.join(folder, CONFIG_FILE))).isFile()) {
        return folder;
      }
    } catch {
      // not here; look further up
    }
    const parent = path.dirname(folder);
    if (parent === folder) {
      return undefined;
    }
    folder = parent;
  }
  return undefined;
}

/** The site roots inside the workspace folders (a bounded search). */
export async function workspaceSites(limit = 50): Promise<string[]> {
  const found = await vscode.workspace.findFiles(`**/${CONFIG_FILE}`, SKIPPED, limit);
  return [...new Set(found.map((uri) => path.dirname(uri.fsPath)))].sort();
}

export async function hasSite(): Promise<boolean> {
  if ((vscode.workspace.workspaceFolders ?? []).length === 0) {
    return false;
  }
  return (await workspaceSites(1)).length > 0;
}

/** The site to act on: the active editor's, else the workspace's one, else the person's pick. */
export async function chooseSite(): Promise<string | undefined> {
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active !== undefined) {
    const root = await siteRootOf(active);
    if (root !== undefined) {
      return root;
    }
  }
  const sites = await workspaceSites();
  if (sites.length <= 1) {
    if (sites.length === 0) {
      void vscode.window.showWarningMessage(
        "letterhead: no Jekyll site (a folder with _config.yml) in this workspace.",
      );
    }
    return sites[0];
  }
  return vscode.window.showQuickPick(sites, { placeHolder: "Which site?" });
}
