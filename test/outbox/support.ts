/**
 * What the outbox specs share: a Node-RED user directory of their own (the outbox lives under it),
 * a fire-and-forget publish node on a config node with the outbox on, and an emulator that can be
 * stopped and started again on the same port, keeping its records.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FaceEngine } from '../../emulator/engine/engine';
import { createSimpleEngine } from '../../emulator/engine/simple';
import type { Emulator } from '../../emulator/server';
import { PUBLISH_SETTINGS } from '../../scripts/runtime';
import { emulator, helper, serverNode, type FlowNode } from '../nodes/harness';

/** The helper's runtime settings (the harness's typing of the helper leaves this out). */
function settings(values: Record<string, unknown>): void {
  (helper as unknown as { settings(values: Record<string, unknown>): void }).settings(values);
}

/** Points the test runtime at a fresh user directory; `release` removes it and unsets it again. */
export function userDirectory(): { dir: string; release: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'outbox-userdir-'));
  settings({ userDir: dir });
  return {
    dir,
    release: () => {
      settings({ userDir: undefined });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function outboxServer(emu: { url: string }, settings: Record<string, unknown> = {}): FlowNode {
  return serverNode(emu as Emulator, { outbox: true, timeout: 2, ...settings });
}

export function fireAndForget(detectorName: string): FlowNode {
  return {
    ...PUBLISH_SETTINGS,
    id: 'publish',
    server: 'server',
    mode: 'fireAndForget',
    detectorName,
    wires: [['out']],
  };
}

/**
 * The simple engine, but finding one face at once without decoding: the emulator then records a
 * publish before it answers it, so the order of its records is the order the requests came in,
 * whatever the speed of the machine (decoding runs on libuv's thread pool, and two decodes may
 * finish in either order).
 */
function instantEngine(): FaceEngine {
  const descriptor = new Float32Array(128).fill(1 / Math.sqrt(128));
  const box = { x: 0, y: 0, width: 64, height: 64 };
  return {
    ...createSimpleEngine(),
    detect: () => Promise.resolve([{ box, confidence: 0.99, quality: 0.9, descriptor }]),
  };
}

/** An emulator on a port and data directory that outlive it: stop() and start() again keep its records. */
export class RestartableEmulator {
  current: Emulator | undefined;
  private port = 0;
  private readonly engine = instantEngine();
  readonly dataDir = mkdtempSync(path.join(tmpdir(), 'outbox-emulator-'));

  async start(): Promise<Emulator> {
    this.current = await emulator({ port: this.port, dataDir: this.dataDir, engine: this.engine });
    this.port = this.current.port;
    return this.current;
  }

  /**
   * Closes it, and lets the client's idle keep-alive sockets see that they were closed (one turn of
   * the event loop's poll phase reads the FIN already in the kernel): a request written to a socket
   * whose close is not yet read may have reached a server, for all the client can tell, and would
   * not be kept.
   */
  async stop(): Promise<void> {
    await this.current?.close();
    this.current = undefined;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The detection times recorded for a detector, in the order the server recorded them. */
  times(detectorName: string): string[] {
    return (this.current?.store.detectionsWhere((d) => d.detectorName === detectorName) ?? []).map(
      (d) => d.detectTimeUtc,
    );
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
