/**
 * `npm start`: the emulator (HTTPS with a self-signed certificate, the real face engine, the demo
 * users) and Node-RED with this package, its examples and a demo flow whose config node points at
 * the emulator and trusts its certificate properly. Everything on loopback; Ctrl-C stops both.
 *
 * Demo state lives in .demo/ (git-ignored): the emulator's data survives restarts, and the flows
 * are written only when there are none, so edits made in the editor are kept.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startEmulator } from '../emulator/server';
import {
  demoFlows,
  prepareUserDir,
  ROOT,
  seedDemo,
  spawnNodeRed,
  writeCameraFrames,
  writeFlows,
} from './runtime';

const DEMO = path.join(ROOT, '.demo');
const USER_DIR = path.join(DEMO, 'node-red');
const CA_FILE = path.join(DEMO, 'emulator-ca.pem');
const EMULATOR_PORT = Number(process.env.EMULATOR_PORT ?? 5009);
const NODE_RED_PORT = Number(process.env.NODE_RED_PORT ?? 1880);

async function main(): Promise<void> {
  mkdirSync(USER_DIR, { recursive: true });
  const emulator = await startEmulator({
    port: EMULATOR_PORT,
    dataDir: path.join(DEMO, 'emulator-data'),
    log: (message) => console.error(`emulator: ${message}`),
  });
  writeFileSync(CA_FILE, emulator.ca ?? '');
  await seedDemo(emulator);
  console.log(`emulator: listening on ${emulator.url} (demo users admin/admin, edge/edge, viewer/viewer)`);

  prepareUserDir(USER_DIR, { port: NODE_RED_PORT });
  if (!existsSync(path.join(USER_DIR, 'flows.json'))) {
    const frames = await writeCameraFrames(path.join(DEMO, 'camera'));
    const { flows, credentials } = demoFlows(emulator.url, CA_FILE, frames);
    writeFlows(USER_DIR, flows, credentials);
  }

  const nodeRed = spawnNodeRed(USER_DIR);
  nodeRed.stdout?.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    if (chunk.toString().includes('Started flows')) {
      console.log(
        `\nNode-RED editor: http://127.0.0.1:${NODE_RED_PORT}/  (open it, click the inject node of the demo flow)\n` +
          `Door-monitor dashboard: http://127.0.0.1:${NODE_RED_PORT}/dashboard/door`,
      );
    }
  });
  const stop = () => {
    nodeRed.kill('SIGINT');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  nodeRed.once('exit', (code) => {
    emulator.close().finally(() => process.exit(code ?? 0));
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
