/**
 * The package in the real Node-RED editor, in chromium: the palette, every dialog, the examples
 * imported and deployed as a user would, and the demo flow run from the editor against the
 * emulator with the real face engine. The browser is Debian's chromium when installed, else the
 * one of the npm package @sparticuz/chromium (scripts/editor.ts findChromium); the spec fails
 * (never skips) when neither can be launched.
 *
 * Writes docs/screenshots/{palette,edit-dialog,running-example}.png as it goes.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { startEmulator, type Emulator } from '../../emulator/server';
import {
  closeEditDialog,
  deploy,
  importNodes,
  openEditDialog,
  openEditor,
  removeNodes,
  type EditorGlobals,
  type EditorSession,
  type FlowJson,
} from '../../scripts/editor';
import {
  DEMO_IDS,
  demoFlows,
  freePort,
  OFFLINE_EDITOR_SETTINGS,
  prepareUserDir,
  ROOT,
  seedDemo,
  spawnNodeRed,
  stopProcess,
  waitForNodeRed,
  writeFlows,
} from '../../scripts/runtime';
import { NODE_TYPES } from '../nodes/harness';

const EXAMPLES = path.join(ROOT, 'examples');
const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');
const LOCALES = path.join(ROOT, 'nodes', 'locales', 'en-US');
const FLOW_TYPES = NODE_TYPES.filter((type) => type !== 'identities-config');

/** The palette label each node's en-US catalog gives (what the user reads). */
function paletteLabel(type: string): string {
  const catalog = JSON.parse(readFileSync(path.join(LOCALES, `${type}.json`), 'utf8')) as Record<
    string,
    { paletteLabel: string }
  >;
  return catalog[type]!.paletteLabel;
}

/** Polls `condition` until it holds or the deadline passes (the page works in the background). */
async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function pageErrors(session: EditorSession): Promise<string[]> {
  return session.errors.splice(0);
}

describe('the package in the Node-RED editor (chromium)', function () {
  this.timeout(120_000);

  let emulator: Emulator | undefined;
  let userDir: string | undefined;
  let nodeRed: ChildProcess | undefined;
  let session: EditorSession | undefined;
  let page: Page;
  let caFile: string;
  /** Node-RED's output, shown when something fails. */
  let runtimeLog = '';

  before(async function () {
    // The real face engine: the demo flow must match obama2.jpg against obama.jpg.
    emulator = await startEmulator({ port: 0, engine: 'faceapi', log: () => undefined });
    await seedDemo(emulator);
    userDir = mkdtempSync(path.join(tmpdir(), 'identities-e2e-'));
    caFile = path.join(userDir, 'emulator-ca.pem');
    writeFileSync(caFile, emulator.ca ?? '');
    const port = await freePort();
    prepareUserDir(userDir, { port, settings: OFFLINE_EDITOR_SETTINGS });
    const { flows, credentials } = demoFlows(emulator.url, caFile);
    writeFlows(userDir, flows, credentials);
    nodeRed = spawnNodeRed(userDir, 'pipe');
    nodeRed.stdout?.on('data', (chunk: Buffer) => (runtimeLog += chunk.toString()));
    nodeRed.stderr?.on('data', (chunk: Buffer) => (runtimeLog += chunk.toString()));
    const url = `http://127.0.0.1:${port}/`;
    await waitForNodeRed(url, nodeRed);
    session = await openEditor(url);
    const { source, executablePath } = session.browser;
    console.log(
      `      (the browser: ${source === 'npm' ? '@sparticuz/chromium' : 'Debian'}, ${executablePath})`,
    );
    page = session.page;
    mkdirSync(SCREENSHOTS, { recursive: true });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && runtimeLog) console.error(`Node-RED said:\n${runtimeLog}`);
  });

  after(async function () {
    await session?.close();
    if (nodeRed) await stopProcess(nodeRed);
    await emulator?.close();
    if (userDir) rmSync(userDir, { recursive: true, force: true });
  });

  it('shows every node in the palette with its label and icon', async function () {
    const category = page.locator('#red-ui-palette-identities');
    await category.waitFor();
    for (const type of FLOW_TYPES) {
      const entry = page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`);
      assert.equal((await entry.locator('.red-ui-palette-label').innerText()).trim(), paletteLabel(type));
      const icon = await entry.locator('.red-ui-palette-icon').evaluate(
        // The icon is a CSS background (or a mask, for SVG icons Node-RED recolours).
        (element) => {
          const style = (element as unknown as { style: Record<string, string> }).style;
          return `${style.backgroundImage ?? ''} ${style.maskImage ?? ''} ${style.webkitMaskImage ?? ''}`;
        },
      );
      assert.match(icon, new RegExp(`icons/node-red-contrib-econnect-identities/${type}\\.svg`), type);
      const iconUrl = new URL(
        `icons/node-red-contrib-econnect-identities/${type}.svg`,
        page.url(),
      ).toString();
      const response = await page.request.get(iconUrl);
      assert.equal(response.status(), 200, `${type}: ${iconUrl}`);
      assert.match(response.headers()['content-type'] ?? '', /svg/);
    }
    await category.screenshot({ path: path.join(SCREENSHOTS, 'palette.png') });
    assert.deepEqual(await pageErrors(session!), []);
  });

  it("opens each node's edit dialog with no console error", async function () {
    const tab = 'e2e-dialogs';
    await importNodes(page, [
      { id: tab, type: 'tab', label: 'dialogs' },
      ...FLOW_TYPES.map((type, index) => ({
        id: `e2e-${type}`,
        type,
        z: tab,
        server: DEMO_IDS.server,
        x: 150,
        y: 60 + index * 60,
        wires: [],
      })),
    ]);
    await page.evaluate((id) => (globalThis as unknown as EditorGlobals).RED.workspaces.show(id), tab);
    for (const type of FLOW_TYPES) {
      const kind = await openEditDialog(page, `e2e-${type}`);
      // Every dialog names its server and shows the demo's config node in it.
      assert.equal(await page.locator('#node-input-server').inputValue(), DEMO_IDS.server, type);
      // The operation nodes' select holds their default operation (it once offered only msg.operation).
      const operation = { 'identities-people': 'getPerson', 'identities-tags': 'listTags' }[type as string];
      if (operation) assert.equal(await page.locator('#node-input-operation').inputValue(), operation, type);
      await closeEditDialog(page, kind, 'cancel');
      assert.deepEqual(await pageErrors(session!), [], type);
    }
    await removeNodes(page, [tab]);
    // The screenshot shows a configured publish node: the demo flow's.
    await page.evaluate(
      (id) => (globalThis as unknown as EditorGlobals).RED.workspaces.show(id),
      DEMO_IDS.tab,
    );
    const kind = await openEditDialog(page, DEMO_IDS.publish);
    await page
      .locator('.red-ui-tray')
      .last()
      .screenshot({ path: path.join(SCREENSHOTS, 'edit-dialog.png') });
    await closeEditDialog(page, kind, 'cancel');
    assert.deepEqual(await pageErrors(session!), []);
  });

  it('shows password fields and the TLS choice in the config dialog', async function () {
    const kind = await openEditDialog(page, DEMO_IDS.server);
    assert.equal(kind, 'config');
    assert.equal(await page.locator('#node-config-input-password').getAttribute('type'), 'password');
    assert.equal(await page.locator('#node-config-input-username').getAttribute('type'), 'text');
    const tls = page.locator('select#node-config-input-tls');
    assert.equal(await tls.inputValue(), DEMO_IDS.tls);
    const choices = await tls.locator('option').allInnerTexts();
    assert.ok(choices.includes('emulator certificate'), choices.join());
    assert.ok(await page.locator('select#node-config-input-proxy').isVisible());
    await closeEditDialog(page, kind, 'cancel');
    assert.deepEqual(await pageErrors(session!), []);
  });

  it('shows what each node reads: sighting rows, publish switches by mode, every people operation', async function () {
    const tab = 'e2e-reads';
    const node = (type: string, index: number) => ({
      id: `e2e-reads-${type}`,
      type,
      z: tab,
      server: DEMO_IDS.server,
      x: 150,
      y: 60 + index * 60,
      wires: [],
    });
    await importNodes(page, [
      { id: tab, type: 'tab', label: 'reads' },
      ...['identities-publish', 'identities-recognize', 'identities-people'].map(node),
    ]);
    await page.evaluate((id) => (globalThis as unknown as EditorGlobals).RED.workspaces.show(id), tab);
    // A TypedInput hides its own input: its row's label tells whether the row shows.
    const visible = (name: string) => page.locator(`label[for="node-input-${name}"]`).isVisible();

    let kind = await openEditDialog(page, 'e2e-reads-identities-publish');
    const switches = ['largestFaceOnly', 'allowDoubleDetection', 'includePerson', 'includeNames'];
    for (const name of ['detectorName', 'ianaTimeZone', 'detectTime', ...switches]) {
      assert.ok(await visible(name), `publish with response shows ${name}`);
    }
    await page.locator('#node-input-mode').selectOption('fireAndForget');
    for (const name of switches) assert.ok(!(await visible(name)), `fire-and-forget hides ${name}`);
    assert.ok(await visible('detectorName'));
    await closeEditDialog(page, kind, 'cancel');

    // The same rows and defaults as publish: the detection time from msg.detectTime, the host's zone.
    kind = await openEditDialog(page, 'e2e-reads-identities-recognize');
    for (const name of ['detectorName', 'ianaTimeZone', 'detectTime']) assert.ok(await visible(name), name);
    assert.equal(await page.locator('#node-input-detectTime').inputValue(), 'detectTime');
    assert.equal(await page.locator('#node-input-detectTimeType').inputValue(), 'msg');
    assert.equal(
      await page.locator('#node-input-ianaTimeZone').getAttribute('placeholder'),
      "this host's time zone",
    );
    await closeEditDialog(page, kind, 'cancel');

    kind = await openEditDialog(page, 'e2e-reads-identities-people');
    const operations = await page
      .locator('#node-input-operation option')
      .evaluateAll((options) => options.map((option) => (option as unknown as { value: string }).value));
    assert.ok(operations.includes('queryPeopleByEntityField'), operations.join());
    await page.locator('#node-input-operation').selectOption('queryPeopleByEntityField');
    assert.match(
      await page.locator('#identities-people-needs').innerText(),
      /msg\.entityFieldName and msg\.entityFieldStringValue/,
    );
    await closeEditDialog(page, kind, 'cancel');

    await removeNodes(page, [tab]);
    assert.deepEqual(await pageErrors(session!), []);
  });

  describe('every example', function () {
    const files = readdirSync(EXAMPLES)
      .filter((file) => file.endsWith('.json'))
      .sort();

    it('exists for every flow node', function () {
      const used = new Set(
        files.flatMap((file) =>
          (JSON.parse(readFileSync(path.join(EXAMPLES, file), 'utf8')) as FlowJson[]).map(
            (node) => node.type,
          ),
        ),
      );
      for (const type of NODE_TYPES) assert.ok(used.has(type), `no example uses ${type}`);
    });

    for (const file of files) {
      it(`imports and deploys: ${file}`, async function () {
        const text = readFileSync(path.join(EXAMPLES, file), 'utf8');
        const flow = JSON.parse(text) as FlowJson[];
        assert.ok(!/"credentials"/.test(text), 'no credentials in an example');
        const tab = flow.find((node) => node.type === 'tab');
        const server = flow.find((node) => node.type === 'identities-config');
        assert.ok(tab && server, 'an example has its tab and its config node');
        assert.ok(
          flow.some((node) => node.type === 'comment'),
          'an example says what it shows',
        );

        // The editor's Import dialog, with the file's text pasted in.
        await page.evaluate(() =>
          (globalThis as unknown as EditorGlobals).RED.actions.invoke('core:show-import-dialog'),
        );
        const pasted = page.locator('#red-ui-clipboard-dialog-import-text');
        await pasted.fill(text);
        // The dialog checks the text on keyup (or paste), then enables Import.
        await pasted.press('End');
        await page.locator('#red-ui-clipboard-dialog-ok').click();
        await pasted.waitFor({ state: 'hidden' });
        await until(
          () =>
            page.evaluate(
              (ids) =>
                ids.every((id) => (globalThis as unknown as EditorGlobals).RED.nodes.node(id) !== null),
              flow.filter((node) => node.type !== 'tab').map((node) => node.id),
            ),
          'the imported nodes',
        );

        // As a user would: the server's URL, the credentials and the TLS configuration.
        const kind = await openEditDialog(page, server.id);
        await page.locator('#node-config-input-baseUrl').fill(emulator!.url);
        await page.locator('#node-config-input-username').fill('admin');
        await page.locator('#node-config-input-password').fill('admin');
        await page.locator('select#node-config-input-tls').selectOption(DEMO_IDS.tls);
        await closeEditDialog(page, kind);

        assert.equal(await deploy(page), 'deployed');
        assert.deepEqual(await pageErrors(session!), []);
        await removeNodes(page, [tab.id, server.id]);
        assert.equal(await deploy(page), 'deployed');
      });
    }
  });

  it('runs the demo flow from the editor: the debug sidebar shows the matched person', async function () {
    await page.evaluate((tab) => {
      const { RED } = globalThis as unknown as EditorGlobals;
      RED.workspaces.show(tab);
      RED.actions.invoke('core:show-debug-tab');
    }, DEMO_IDS.tab);
    const started = Date.now();
    await page.locator(`[id="${DEMO_IDS.inject}"] .red-ui-flow-node-button`).click();
    const message = page.locator('#red-ui-sidebar .red-ui-debug-msg').last();
    await message.waitFor({ timeout: 20_000 });
    // Opens the message's object tree, level by level, until the person's name shows.
    await until(
      async () => {
        const shown = await message.innerText();
        if (shown.includes('Obama') && shown.includes('VIP')) return true;
        const closed = message.locator('.red-ui-debug-msg-element.collapsed > .red-ui-debug-msg-expandable');
        if ((await closed.count()) > 0) await closed.first().click();
        return false;
      },
      'the person in the debug sidebar',
      15_000,
    );
    const text = await message.innerText();
    assert.match(text, /Barack/);
    assert.match(text, /VIP/);
    assert.ok(Date.now() - started < 30_000);
    await page.locator('#red-ui-sidebar').screenshot({ path: path.join(SCREENSHOTS, 'running-example.png') });
    assert.deepEqual(await pageErrors(session!), []);
  });
});
