/**
 * The emulator in a process of its own, so that its CPU and memory are never counted as those of
 * the process measuring the client or Node-RED (the benchmark, the soak). Its parent starts it
 * with `startEmulatorProcess` (scripts/runtime.ts) and asks it over IPC for its statistics.
 */
import { startEmulator, type EmulatorOptions } from '../emulator/server';

/** The emulator's options that travel as JSON in argv[2]. */
export type EmulatorProcessOptions = Pick<EmulatorOptions, 'https' | 'tokenLifetimeSeconds' | 'faults'> & {
  engine: 'faceapi' | 'simple';
};

/** What the parent asks. */
export type EmulatorRequest = { type: 'stats'; id: number } | { type: 'stop' };

/** The process's CPU time and memory, and what the emulator saw. */
export interface EmulatorStats {
  cpuMicros: number;
  rss: number;
  /** Requests received per operation id. */
  counts: Record<string, number>;
  /** Faults injected, per `${operationId}:${fault type}`. */
  injected: Record<string, number>;
}

/** What the emulator process answers. */
export type EmulatorReply =
  | { type: 'ready'; url: string; ca: string | undefined }
  | ({ type: 'stats'; id: number } & EmulatorStats)
  | { type: 'failed'; message: string };

function reply(message: EmulatorReply): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as EmulatorProcessOptions;
  const emulator = await startEmulator({ ...options, log: () => undefined });
  process.on('message', (message: EmulatorRequest) => {
    if (message.type === 'stats') {
      const { user, system } = process.cpuUsage();
      reply({
        type: 'stats',
        id: message.id,
        cpuMicros: user + system,
        rss: process.memoryUsage.rss(),
        counts: emulator.counts,
        injected: emulator.faults.injected,
      });
    } else if (message.type === 'stop') {
      emulator.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    }
  });
  // Orphaned (the parent crashed): do not outlive it.
  process.on('disconnect', () => process.exit(0));
  reply({ type: 'ready', url: emulator.url, ca: emulator.ca });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    reply({ type: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exit(1);
  });
}
