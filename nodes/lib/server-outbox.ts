/**
 * The config node's side of the outbox (nodes/lib/outbox.ts): where it lives, how its entries are
 * sent (through the config node's client and dispatcher, like any request), what users see
 * ("outbox: N waiting") and the warnings, at most one per 30 s for what left it undelivered.
 */
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { Node, NodeAPI } from 'node-red';
import type { IdentitiesClient } from '../../client/client';
import type { Dispatcher } from './dispatcher';
import { translate } from './i18n';
import { Outbox, serverIdentity, type DropReason, type OutboxEntry } from './outbox';
import { Courier, requestOf, type OutboxHolder } from './outbox-delivery';

export interface OutboxSettings {
  maxMegabytes: number;
  maxAgeHours: number;
  /** Send entries kept for another server URL or user to this server. */
  adopt: boolean;
}

/** Outbox directories live here, under Node-RED's user directory, one per config node id. */
export const OUTBOX_FOLDER = 'econnect-identities-outbox';
export const WARNING_INTERVAL_MS = 30_000;
/** How often the age limit is applied while nothing else happens (a long outage, held entries). */
const SWEEP_MS = 60_000;
/** Users' status follows the count at most this often: a delivery runs at hundreds a second. */
const STATUS_MS = 500;
/** A send in flight is waited for this long at close; Node-RED gives a closing node 15 s. */
const CLOSE_WAIT_MS = 10_000;

/** Calls `flush` soon after `note()`, but at most once per `intervalMs`: for warnings that count. */
export function throttled(intervalMs: number, flush: () => void): { note(): void; cancel(): void } {
  let last = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  const run = () => {
    timer = undefined;
    last = Date.now();
    flush();
  };
  return {
    note() {
      if (timer) return;
      const wait = last + intervalMs - Date.now();
      if (wait <= 0) run();
      else timer = setTimeout(run, wait);
    },
    cancel() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

/** Node-RED's user directory, as the runtime knows it (its default when the settings name none). */
function userDirectory(RED: NodeAPI): string {
  const dir = (RED.settings as { userDir?: unknown }).userDir;
  return typeof dir === 'string' && dir ? dir : path.join(homedir(), '.node-red');
}

/** The images are the user's data: they get the permissions of the user directory, not the umask's. */
function directoryMode(dir: string): number {
  try {
    return statSync(dir).mode & 0o777;
  } catch {
    return 0o700;
  }
}

export interface ServerOutbox extends OutboxHolder {
  /** Stops delivering (waiting for a send in flight) and for entries being written. */
  close(): Promise<void>;
}

export function startServerOutbox(
  RED: NodeAPI,
  node: Node,
  settings: OutboxSettings,
  server: { client: IdentitiesClient; username: string; dispatcher: Dispatcher },
  /** The users' status: "outbox: N waiting", or undefined once it is empty. */
  showWaiting: (text: string | undefined) => void,
): ServerOutbox {
  const { client, dispatcher } = server;
  const t = (key: string, values?: Record<string, string | number>) =>
    translate(RED, `identities-config.${key}`, values);
  const userDir = userDirectory(RED);
  const counts: Record<DropReason | 'lost', number> = {
    size: 0,
    age: 0,
    corrupt: 0,
    interrupted: 0,
    lost: 0,
  };
  let lastDetail = '';
  let closed = false;

  const warning = throttled(WARNING_INTERVAL_MS, () => {
    if (closed) return;
    const total = Object.values(counts).reduce((sum, count) => sum + count, 0);
    if (total === 0) return;
    node.warn(
      t('warnings.outboxDropped', {
        count: total,
        ...counts,
        maxMB: settings.maxMegabytes,
        maxHours: settings.maxAgeHours,
        detail: lastDetail || '-',
      }),
    );
    for (const reason of Object.keys(counts) as (keyof typeof counts)[]) counts[reason] = 0;
  });
  const dropped = (reason: keyof typeof counts, count: number, detail?: string) => {
    counts[reason] += count;
    if (detail) lastDetail = detail;
    warning.note();
  };

  let outbox: Outbox | undefined;
  let statusTimer: NodeJS.Timeout | undefined;
  const refreshStatus = () => {
    statusTimer ??= setTimeout(() => {
      statusTimer = undefined;
      if (closed) return;
      const waiting = outbox?.count ?? 0;
      showWaiting(waiting > 0 ? t('status.outbox', { count: waiting }) : undefined);
    }, STATUS_MS);
  };

  const ready = Outbox.open({
    dir: path.join(userDir, OUTBOX_FOLDER, node.id),
    identity: serverIdentity(client.baseUrl, server.username),
    maxBytes: settings.maxMegabytes * 1024 * 1024,
    maxAgeMs: settings.maxAgeHours * 3600_000,
    adopt: settings.adopt,
    mode: directoryMode(userDir),
    onDrop: (reason, count, detail) => {
      dropped(reason, count, detail);
      refreshStatus();
    },
  });

  let delivery: Courier | undefined;
  const sweeper = setInterval(() => void outbox?.sweep().then(refreshStatus), SWEEP_MS);
  sweeper.unref();
  // Never aborted: a send in flight is waited for at close, as aborting it could not tell whether it arrived.
  const sending = new AbortController().signal;

  const opened = ready.then((box) => {
    outbox = box;
    if (box.held > 0) {
      node.warn(t('warnings.outboxHeld', { count: box.held, maxHours: settings.maxAgeHours }));
    }
    delivery = new Courier({
      outbox: box,
      send: (entry) =>
        dispatcher.submit(
          (signal, deadline) => client.publish(requestOf(entry), { signal, deadline }),
          sending,
        ),
      onLost: (err) => dropped('lost', 1, err instanceof Error ? err.message : String(err)),
      onStorageError: (err) => node.warn(t('warnings.outboxFailed', { reason: String(err) })),
      onChange: refreshStatus,
    });
    refreshStatus();
    if (!closed) delivery.wake(false);
    return box;
  });
  opened.catch((err: unknown) => {
    if (!closed)
      node.warn(t('warnings.outboxFailed', { reason: err instanceof Error ? err.message : String(err) }));
  });

  return {
    get waiting() {
      // Until it has opened, entries from before a restart may be there: new ones queue behind them.
      return outbox ? outbox.count : 1;
    },
    async keep(entry: OutboxEntry, failed: boolean) {
      const box = await opened;
      if (closed) throw new Error(t('errors.outboxClosed'));
      await box.add(entry);
      refreshStatus();
      delivery?.wake(failed);
    },
    async close() {
      closed = true;
      warning.cancel();
      clearTimeout(statusTimer);
      clearInterval(sweeper);
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)));
      await Promise.race([delivery?.stop(), waited]);
      clearTimeout(timer);
      await outbox?.close();
    },
  };
}
