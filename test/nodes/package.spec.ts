/**
 * The built package as a user gets it: installed in a Node-RED user directory and loaded by a real
 * runtime (in a child process, apart from the test helper's), with the editor's view of it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NODE_RED, NODE_TYPES } from './harness';

const ROOT = path.join(__dirname, '..', '..');
const MODULE = 'node-red-contrib-econnect-identities';

/** Starts Node-RED on a free port, deploys `flows`, prints what the editor would fetch, and stops. */
const RUNTIME_SCRIPT = `
const http = require('node:http');
const [userDir, flowsJson, redJs] = process.argv.slice(1);
// The runtime under test, with the express it serves its editor with.
const RED = require(redJs);
const express = require('node:module').createRequire(redJs)('express');
const app = express();
const server = http.createServer(app);
RED.init(server, {
  userDir,
  uiPort: 0,
  httpAdminRoot: '/',
  httpNodeRoot: '/api',
  credentialSecret: 'a-test-secret',
  flowFile: 'flows.json',
  logging: { console: { level: 'off', metrics: false, audit: false } },
});
const get = (path, accept) =>
  new Promise((resolve, reject) => {
    http.get({ port: server.address().port, path, headers: { Accept: accept, 'Accept-Language': 'en-US' } }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
const post = (path, payload) =>
  new Promise((resolve, reject) => {
    const req = http.request({ port: server.address().port, path, method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Node-RED-API-Version': 'v2', 'Node-RED-Deployment-Type': 'full' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(JSON.stringify(payload));
  });
server.listen(0, '127.0.0.1', async () => {
  try {
    await RED.start();
    app.use('/', RED.httpAdmin);
    const result = {
      list: JSON.parse((await get('/nodes', 'application/json')).body),
      html: (await get('/nodes', 'text/html')).body,
      catalogs: JSON.parse((await get('/nodes/messages?lng=en-US', 'application/json')).body),
      icon: (await get('/icons/${MODULE}/identities-publish.svg', 'image/svg+xml')).status,
      resources: await Promise.all(['defaults.js', 'editor.js'].map(async (file) => {
        const { status, body } = await get('/resources/${MODULE}/' + file, 'application/javascript');
        return { file, status, body };
      })),
      deployed: await post('/flows', JSON.parse(flowsJson)),
    };
    await new Promise((resolve) => setTimeout(resolve, 300));
    await RED.stop();
    server.close();
    process.stdout.write(JSON.stringify(result));
  } catch (err) {
    process.stderr.write(String(err && err.stack || err));
    process.exit(1);
  }
});
`;

interface NodeSetInfo {
  module: string;
  types: string[];
  enabled: boolean;
  err?: string;
}

describe('the built package in Node-RED', function () {
  this.timeout(60_000);
  let userDir: string;
  let result: {
    list: NodeSetInfo[];
    html: string;
    catalogs: Record<string, unknown>;
    icon: number;
    resources: { file: string; status: number; body: string }[];
    deployed: number;
  };

  const SECRET = 'Never-In-Flows-42';

  before(async function () {
    userDir = mkdtempSync(path.join(tmpdir(), 'identities-userdir-'));
    mkdirSync(path.join(userDir, 'node_modules'));
    symlinkSync(ROOT, path.join(userDir, 'node_modules', MODULE), 'dir');
    const flows = {
      flows: [
        { id: 'tab', type: 'tab', label: 'gate' },
        {
          id: 'server',
          type: 'identities-config',
          baseUrl: 'https://identities.invalid:5009',
          credentials: { username: 'gateway-user', password: SECRET },
        },
        { id: 'n1', type: 'identities-detect', z: 'tab', x: 100, y: 100, server: 'server', wires: [[], []] },
      ],
    };
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        // NODE_BIN: the Node that runs this runtime version, when the specs run on another.
        process.env.NODE_BIN || process.execPath,
        ['-e', RUNTIME_SCRIPT, userDir, JSON.stringify(flows), NODE_RED],
        { cwd: ROOT, timeout: 50_000, maxBuffer: 32 * 1024 * 1024 },
        (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)),
      );
    });
    result = JSON.parse(stdout) as typeof result;
  });

  after(function () {
    // Removes the link to the repository, not what it points at.
    rmSync(userDir, { recursive: true, force: true });
  });

  it('loads every node type without an error', function () {
    const sets = result.list.filter((set) => set.module === MODULE);
    assert.deepEqual(sets.flatMap((set) => set.types).sort(), [...NODE_TYPES].sort());
    for (const set of sets) {
      assert.equal(set.err, undefined, `${set.types.join()}: ${set.err}`);
      assert.equal(set.enabled, true);
    }
  });

  it('gives the editor a dialog, a help text with the four sections, strings and an icon per node', function () {
    for (const type of NODE_TYPES) {
      assert.ok(result.html.includes(`data-template-name="${type}"`), `${type}: no dialog`);
      const help = new RegExp(`data-help-name="${type}"[\\s\\S]*?</script>`).exec(result.html)?.[0] ?? '';
      assert.ok(help, `${type}: no help`);
      const sections =
        type === 'identities-config'
          ? ['Details', 'References']
          : ['Inputs', 'Outputs', 'Details', 'References'];
      for (const section of sections)
        assert.ok(help.includes(`<h3>${section}</h3>`), `${type}: no ${section}`);
      assert.ok(result.catalogs[`${MODULE}/${type}`], `${type}: no catalog`);
    }
    assert.equal(result.icon, 200);
  });

  it("serves the editor code every dialog shares from the package's resources folder, and each node set loads it", function () {
    for (const { file, status, body } of result.resources) {
      assert.equal(status, 200, file);
      assert.match(body, /econnectIdentities(Editor|Defaults)/, file);
    }
    // The editor gets one HTML chunk per node set, each headed by a red-module comment.
    const chunks = result.html.split(/(?=<!-- --- \[red-module:)/);
    for (const type of NODE_TYPES) {
      const chunk = chunks.find((html) => html.includes(`data-template-name="${type}"`)) ?? '';
      for (const { file } of result.resources) {
        assert.ok(chunk.includes(`<script src="resources/${MODULE}/${file}"></script>`), `${type}: ${file}`);
      }
    }
  });

  it('keeps the credentials out of flows.json and encrypts them', function () {
    assert.equal(result.deployed, 200);
    const flowsFile = readFileSync(path.join(userDir, 'flows.json'), 'utf8');
    assert.ok(flowsFile.includes('identities-config'));
    assert.ok(!flowsFile.includes(SECRET) && !flowsFile.includes('gateway-user'));
    const credentialsFile = readFileSync(path.join(userDir, 'flows_cred.json'), 'utf8');
    assert.ok(!credentialsFile.includes(SECRET), 'the credentials file is encrypted');
  });
});
