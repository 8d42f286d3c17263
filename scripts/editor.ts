/**
 * Driving the real Node-RED editor in chromium (playwright-core), shared by the example generator
 * (scripts/examples.ts) and the editor tests (test/e2e/editor.spec.ts). Callbacks passed to
 * page.evaluate run in the page and reach the editor's `RED` through the types below, which
 * declare only what is used here.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's chromium package, used when it is installed. */
export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

/** Nothing that would reach beyond loopback (updates, sync, QUIC probes), and no sandbox (root). */
const OFFLINE_ARGS = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** @sparticuz/chromium's switches that would test a laxer browser than a user's: left out. */
const LAX_ARGS = new Set(['--disable-web-security', '--allow-running-insecure-content']);

export interface Chromium {
  executablePath: string;
  args: string[];
  /** Where it came from, for messages: 'debian' or 'npm'. */
  source: 'debian' | 'npm';
}

/**
 * The browser to drive: Debian's chromium when installed, else the headless Chromium that the npm
 * package @sparticuz/chromium (a devDependency) ships, unpacked into the temp dir on first use, so
 * that `npm install` is all a machine needs. IDENTITIES_CHROMIUM=npm picks the npm one even where
 * Debian's is installed (as on a machine without it); IDENTITIES_CHROMIUM=debian requires Debian's.
 */
export async function findChromium(): Promise<Chromium> {
  const wanted = process.env.IDENTITIES_CHROMIUM ?? '';
  if (!['', 'npm', 'debian'].includes(wanted))
    throw new Error(`IDENTITIES_CHROMIUM=${wanted}: expected npm, debian or nothing`);
  if (wanted !== 'npm' && existsSync(DEBIAN_CHROMIUM))
    return {
      executablePath: DEBIAN_CHROMIUM,
      args: ['--headless', '--disable-gpu', ...OFFLINE_ARGS],
      source: 'debian',
    };
  if (wanted === 'debian')
    throw new Error(`${DEBIAN_CHROMIUM} is missing: install Debian's chromium package`);
  // An ES module (its CommonJS build is typed as one too): imported when needed.
  const { default: npmChromium } = await import('@sparticuz/chromium');
  return {
    executablePath: await npmChromium.executablePath(),
    args: [...npmChromium.args.filter((arg) => !LAX_ARGS.has(arg)), ...OFFLINE_ARGS],
    source: 'npm',
  };
}

/** A flow node or config node as the editor keeps it (the parts used here). */
export interface EditorNode {
  id: string;
  type: string;
  z?: string;
  name?: string;
  valid?: boolean;
  changed?: boolean;
  [property: string]: unknown;
}

/** A node as exported: plain JSON. */
export type FlowJson = Record<string, unknown> & { id: string; type: string };

/** The editor's RED, as far as these scripts use it (Node-RED 4.1 editor-client). */
export interface RedEditor {
  nodes: {
    node(id: string): EditorNode | null;
    workspace(id: string): EditorNode | null;
    filterNodes(filter: { z?: string; type?: string }): EditorNode[];
    createExportableNodeSet(set: EditorNode[]): FlowJson[];
    getType(type: string): object | null;
    remove(id: string): unknown;
    dirty(): boolean;
  };
  view: {
    importNodes(
      nodes: object[],
      options: { generateIds: boolean; applyNodeDefaults: boolean; notify: boolean },
    ): void;
    redraw(full: boolean): void;
  };
  workspaces: { active(): string; show(id: string): void; delete(tab: EditorNode): void };
  editor: { edit(node: EditorNode): void; editConfig(name: string, type: string, id: string): void };
  actions: { invoke(name: string, ...args: unknown[]): void };
}

/** The few DOM calls made in the page (the project's TypeScript has no DOM library). */
interface PageDocument {
  querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }>;
}

/**
 * The page's globals, for `globalThis as unknown as EditorGlobals` inside page.evaluate callbacks
 * (a helper function would not exist in the page: playwright sends only the callback's source).
 */
export interface EditorGlobals {
  RED: RedEditor;
  document: PageDocument;
}

export interface EditorSession {
  /** The browser it runs in. */
  browser: Chromium;
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught page errors since the page opened. */
  errors: string[];
  close(): Promise<void>;
}

/**
 * Chromium (findChromium) with a fresh profile in a temp dir, removed on close. Fails (rather than
 * skipping) when no browser can be launched.
 */
export async function openEditor(url: string): Promise<EditorSession> {
  const browser = await findChromium();
  const profile = mkdtempSync(path.join(tmpdir(), 'identities-chromium-'));
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: browser.executablePath,
      args: browser.args,
      headless: true,
      viewport: { width: 1400, height: 900 },
      locale: 'en-US',
    });
    // tsx compiles with esbuild's keepNames, which wraps functions in page.evaluate callbacks in
    // a __name() helper that exists only in Node; the page gets a no-op one.
    await context.addInitScript('globalThis.__name = (fn) => fn;');
    const errors: string[] = [];
    // Loopback only: anything else the page asks for is refused, and reported as an error.
    await context.route(
      (requested) =>
        !['127.0.0.1', 'localhost'].includes(requested.hostname) && requested.protocol !== 'data:',
      async (route) => {
        errors.push(`blocked: ${route.request().url()}`);
        await route.abort('blockedbyclient');
      },
    );
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (err) => errors.push(`page: ${err.message}`));
    await page.goto(url);
    await waitForEditorReady(page);
    const opened = context;
    return {
      browser,
      context: opened,
      page,
      errors,
      async close() {
        await opened.close();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
}

/** The editor has loaded the node types, this package's palette entries and the flows. */
export async function waitForEditorReady(page: Page, timeoutMs = 30_000): Promise<void> {
  await page
    .locator('.red-ui-palette-node[data-palette-type="identities-publish"]')
    .waitFor({ timeout: timeoutMs });
  await page.waitForFunction(
    () => {
      const { RED } = globalThis as unknown as EditorGlobals;
      return RED.nodes.getType('identities-config') !== null && RED.workspaces.active() !== '';
    },
    undefined,
    { timeout: timeoutMs },
  );
  await page.locator('#red-ui-loading-progress').waitFor({ state: 'hidden', timeout: timeoutMs });
}

/** The Done/Update and Cancel buttons of a flow node's dialog and of a config node's dialog. */
const DIALOG_BUTTONS = {
  node: { done: '#node-dialog-ok', cancel: '#node-dialog-cancel' },
  config: { done: '#node-config-dialog-ok', cancel: '#node-config-dialog-cancel' },
} as const;

export type DialogKind = keyof typeof DIALOG_BUTTONS;

/** Opens the edit dialog of `id` (a flow node or a config node) and waits until it takes clicks. */
export async function openEditDialog(page: Page, id: string): Promise<DialogKind> {
  const kind = await page.evaluate((nodeId) => {
    const { RED } = globalThis as unknown as EditorGlobals;
    const node = RED.nodes.node(nodeId);
    if (!node) throw new Error(`no node ${nodeId}`);
    if (node.z === undefined || node.z === '') {
      RED.editor.editConfig('', node.type, node.id);
      return 'config';
    }
    RED.editor.edit(node);
    return 'node';
  }, id);
  await page.locator(DIALOG_BUTTONS[kind].done).waitFor({ state: 'visible' });
  return kind;
}

/** Clicks Done (Update for a config node) or Cancel, and waits for the dialog to close. */
export async function closeEditDialog(
  page: Page,
  kind: DialogKind,
  button: 'done' | 'cancel' = 'done',
): Promise<void> {
  const selector = DIALOG_BUTTONS[kind][button];
  await page.locator(selector).click();
  await page.locator(selector).waitFor({ state: 'detached' });
}

/** Imports `nodes` keeping their ids (the examples' ids are deterministic). */
export async function importNodes(page: Page, nodes: object[]): Promise<void> {
  await page.evaluate((flow) => {
    const { RED } = globalThis as unknown as EditorGlobals;
    RED.view.importNodes(flow, { generateIds: false, applyNodeDefaults: true, notify: false });
  }, nodes);
}

/**
 * Deletes tabs (with everything on them, as the tab's Delete does) and config nodes, so that the
 * next import of the same ids is not a duplicate.
 */
export async function removeNodes(page: Page, ids: string[]): Promise<void> {
  await page.evaluate((list) => {
    const { RED } = globalThis as unknown as EditorGlobals;
    for (const nodeId of list) {
      const tab = RED.nodes.workspace(nodeId);
      if (tab) RED.workspaces.delete(tab);
      else if (RED.nodes.node(nodeId)) RED.nodes.remove(nodeId);
    }
    RED.view.redraw(true);
  }, ids);
}

/** What the editor exports for a tab: the tab, its nodes and the config nodes they use, without credentials. */
export async function exportTab(page: Page, tabId: string): Promise<FlowJson[]> {
  return page.evaluate((id) => {
    const { RED } = globalThis as unknown as EditorGlobals;
    const tab = RED.nodes.workspace(id);
    if (!tab) throw new Error(`no tab ${id}`);
    return RED.nodes.createExportableNodeSet([tab, ...RED.nodes.filterNodes({ z: id })]);
  }, tabId);
}

/**
 * Clicks Deploy and waits for the outcome: 'deployed' once the editor has nothing left to deploy,
 * or the text of the warning it showed instead (nodes not properly configured, unknown types).
 */
export async function deploy(page: Page, timeoutMs = 15_000): Promise<string> {
  await page.locator('#red-ui-header-button-deploy').click();
  const outcome = await page.waitForFunction(
    () => {
      const { RED, document } = globalThis as unknown as EditorGlobals;
      const warning = Array.from(document.querySelectorAll('.red-ui-notification'))
        .map((notification) => notification.textContent ?? '')
        .find((text) => /not properly configured|unknown type/i.test(text));
      if (warning) return `warning: ${warning}`;
      return RED.nodes.dirty() ? false : 'deployed';
    },
    undefined,
    { timeout: timeoutMs },
  );
  return (await outcome.jsonValue()) as string;
}
