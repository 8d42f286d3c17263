/**
 * The emulator in a process of its own, so that its CPU is never counted as the client's: the
 * benchmark asks it over IPC for its CPU time and its engine's cache statistics.
 * Started by bench/index.ts as `node --import tsx bench/emulator-process.ts <engine>`.
 */
import { startEmulator } from '../emulator/server';

export type EmulatorEngine = 'faceapi' | 'simple';

/** What the benchmark asks. */
export type EmulatorRequest = { type: 'cpu'; id: number } | { type: 'stop' };

/** What the emulator process answers. */
export type EmulatorReply =
  | { type: 'ready'; url: string }
  | { type: 'cpu'; id: number; userMicros: number; systemMicros: number; rss: number }
  | { type: 'failed'; message: string };

function reply(message: EmulatorReply): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const engine = process.argv[2] === 'faceapi' ? 'faceapi' : 'simple';
  // Plain HTTP: TLS would add the same handshake-free record cost to both sides and blur the client's figure.
  const emulator = await startEmulator({ https: false, engine, log: () => undefined });
  process.on('message', (message: EmulatorRequest) => {
    if (message.type === 'cpu') {
      const { user, system } = process.cpuUsage();
      reply({
        type: 'cpu',
        id: message.id,
        userMicros: user,
        systemMicros: system,
        rss: process.memoryUsage.rss(),
      });
    } else if (message.type === 'stop') {
      emulator.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    }
  });
  // Orphaned (the benchmark crashed): do not outlive it.
  process.on('disconnect', () => process.exit(0));
  reply({ type: 'ready', url: emulator.url });
}

main().catch((err: unknown) => {
  reply({ type: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
