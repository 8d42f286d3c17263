/**
 * The outbox of one config node: fire-and-forget detections that provably did not reach the
 * server, kept on disk until it answers again. No Node-RED import, so that it is tested alone.
 *
 * Storage: one file per entry, written to a temporary name, fsynced, renamed into place, and the
 * directory fsynced. Not an append-only log: an entry holds a camera image, the user's data, and a
 * file per entry is gone the moment it is delivered (a log keeps delivered images until it is
 * compacted), and a kill -9 mid-write leaves at worst a temporary file that the next start
 * removes, never a damaged queue. Each file ends with the SHA-256 of all it holds before (node's
 * zlib.crc32 needs Node 20.15+, the package supports 18), so a file damaged later (a full disk, a
 * bad SD card) is found, skipped with a report and removed, never a crash.
 *
 * Order: entries are named by a sequence number that only grows (the next start continues after the
 * highest found), and are delivered oldest first.
 *
 * Never a duplicate: an entry is renamed to `.sending` before its request goes out and back to
 * `.entry` only if the request provably never left. A `.sending` file found at start means the
 * process died during a send that may have reached the server: it is counted as lost and not sent
 * again. (The rename is not fsynced, for the delivery rate: a kill -9 keeps it, a power cut at that
 * instant may not.)
 *
 * Server identity: the directory remembers a hash of the server URL and user name (never the
 * password) it was filled for. Entries of another identity are moved aside into `held/<identity>/`
 * at open and are not sent unless the owner says `adopt` (the config node's option "send kept
 * detections of a previous server to this one"); held entries still age out.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** The exact fields of a fire-and-forget publish, as they were (or would have been) sent first. */
export interface OutboxEntry {
  expanded: Buffer;
  detectorName: string;
  ianaTimeZone: string;
  detectTimeUtc: string;
}

export interface StoredEntry extends OutboxEntry {
  readonly seq: number;
  /** When it was first tried (ms since the epoch): its age counts from here. */
  readonly storedAtMs: number;
}

/** Why entries left the outbox undelivered. */
export type DropReason = 'size' | 'age' | 'corrupt' | 'interrupted';

export interface OutboxOptions {
  /** This config node's own directory. */
  dir: string;
  /** serverIdentity() of the server the entries are for. */
  identity: string;
  maxBytes: number;
  maxAgeMs: number;
  /** Deliver entries kept for another server identity to this one (they are held aside otherwise). */
  adopt: boolean;
  /** Permission bits for directories (files get the same without execute bits). */
  mode: number;
  /** Told of every entry that leaves undelivered; `detail` names a corrupt file and its problem. */
  onDrop: (reason: DropReason, count: number, detail?: string) => void;
  now?: () => number;
}

interface Slot {
  seq: number;
  storedAtMs: number;
  bytes: number;
  /** Settles once the file is in place (or failed to be). */
  written: Promise<void>;
}

const MAGIC = Buffer.from('ECIDOBX1');
const HASH_BYTES = 32;
const LENGTH_BYTES = 4;
const ENTRY = '.entry';
const SENDING = '.sending';
const TEMP = '.tmp';
const IDENTITY_FILE = 'server.json';
const HELD = 'held';
/** 16 digits: sorted as text, sorted by number, for longer than any gateway runs. */
const NAME = /^(\d{16})-(\d{16})\.(entry|sending)$/;

/** The hash a directory remembers its server by: URL and user name, never the password. */
export function serverIdentity(baseUrl: string, username: string): string {
  return createHash('sha256').update(`econnect-identities-outbox\n${baseUrl}\n${username}`).digest('hex');
}

function fileName(seq: number, storedAtMs: number, suffix: string): string {
  return `${String(seq).padStart(16, '0')}-${String(Math.max(0, Math.floor(storedAtMs))).padStart(16, '0')}${suffix}`;
}

/** An entry as file bytes: magic, header length, header JSON, image, SHA-256 of all before. */
export function encodeEntry(entry: OutboxEntry, storedAtMs: number): Buffer {
  const { detectorName, ianaTimeZone, detectTimeUtc } = entry;
  const header = Buffer.from(JSON.stringify({ detectorName, ianaTimeZone, detectTimeUtc, storedAtMs }));
  const length = Buffer.alloc(LENGTH_BYTES);
  length.writeUInt32BE(header.length);
  const body = Buffer.concat([MAGIC, length, header, entry.expanded]);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

/** The entry in `data`, or the reason it is not one (truncated, damaged, not ours). */
export function decodeEntry(data: Buffer, seq: number): StoredEntry | string {
  const minimum = MAGIC.length + LENGTH_BYTES + HASH_BYTES;
  if (data.length < minimum) return `truncated (${data.length} bytes)`;
  if (!data.subarray(0, MAGIC.length).equals(MAGIC)) return 'not an outbox entry';
  const bodyEnd = data.length - HASH_BYTES;
  const hash = createHash('sha256').update(data.subarray(0, bodyEnd)).digest();
  if (!hash.equals(data.subarray(bodyEnd))) return 'checksum mismatch (damaged or truncated)';
  const headerLength = data.readUInt32BE(MAGIC.length);
  const headerStart = MAGIC.length + LENGTH_BYTES;
  if (headerLength > bodyEnd - headerStart) return 'header longer than the file';
  let header: unknown;
  try {
    header = JSON.parse(data.subarray(headerStart, headerStart + headerLength).toString('utf8'));
  } catch {
    return 'header is not JSON';
  }
  const { detectorName, ianaTimeZone, detectTimeUtc, storedAtMs } = (header ?? {}) as Record<string, unknown>;
  if (
    typeof detectorName !== 'string' ||
    typeof ianaTimeZone !== 'string' ||
    typeof detectTimeUtc !== 'string' ||
    typeof storedAtMs !== 'number'
  ) {
    return 'header lacks a field';
  }
  const expanded = data.subarray(headerStart + headerLength, bodyEnd);
  if (expanded.length === 0) return 'no image';
  return { seq, storedAtMs, detectorName, ianaTimeZone, detectTimeUtc, expanded };
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeAtomic(file: string, data: Buffer, mode: number): Promise<void> {
  const temp = `${file}${TEMP}`;
  const handle = await fs.open(temp, 'w', mode);
  try {
    // The umask would otherwise narrow (or a looser one widen) what the user directory grants.
    await handle.chmod(mode);
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temp, file);
  await fsyncDir(path.dirname(file));
}

/** A directory with exactly `mode` (mkdir's mode passes through the umask). */
async function makeDir(dir: string, mode: number): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode });
  await fs.chmod(dir, mode);
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export class Outbox {
  private readonly slots: Slot[] = [];
  private lastSeq = 0;
  private totalBytes = 0;
  /** The entry whose request is out: bounds never drop it (it may be arriving right now). */
  private sending: Slot | undefined;
  private heldCount = 0;
  private sweeping: Promise<void> | undefined;
  private closed = false;
  private readonly now: () => number;

  private constructor(private readonly options: OutboxOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Opens (or creates) the directory: removes temporary files, reports interrupted sends, sorts what is held. */
  static async open(options: OutboxOptions): Promise<Outbox> {
    const outbox = new Outbox(options);
    await outbox.load();
    return outbox;
  }

  /** Entries waiting for this server, including ones still being written. */
  get count(): number {
    return this.slots.length;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Entries kept for another server identity, not sent. */
  get held(): number {
    return this.heldCount;
  }

  /**
   * Keeps an entry at the end of the queue. Its place is taken at once (so entries keep the order
   * of the calls); the promise settles when the file is safely on disk. Past the size limit the
   * oldest entries go first.
   */
  add(entry: OutboxEntry): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the outbox is closed'));
    const storedAtMs = this.now();
    const data = encodeEntry(entry, storedAtMs);
    const seq = ++this.lastSeq;
    const file = path.join(this.options.dir, fileName(seq, storedAtMs, ENTRY));
    const slot: Slot = {
      seq,
      storedAtMs,
      bytes: data.length,
      written: writeAtomic(file, data, this.options.mode & 0o666),
    };
    this.slots.push(slot);
    this.totalBytes += slot.bytes;
    this.enforceBounds();
    return slot.written.catch(async (err: unknown) => {
      this.forget(slot);
      await fs.rm(`${file}${TEMP}`, { force: true });
      throw err;
    });
  }

  /** Refuses new entries and waits for those being written. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled(this.slots.map((slot) => slot.written));
  }

  /** Drops what is over the size limit or older than the maximum age, oldest first. */
  enforceBounds(): void {
    const oldest = this.now() - this.options.maxAgeMs;
    let aged = 0;
    let over = 0;
    // Oldest first, and done at the first entry within both limits: entries are in the order of
    // their first attempt, so this costs one look per call, not one per entry.
    for (let i = 0; i < this.slots.length;) {
      const slot = this.slots[i] as Slot;
      if (slot === this.sending) i++;
      else if (slot.storedAtMs < oldest) aged += this.discard(slot);
      else if (this.totalBytes > this.options.maxBytes) over += this.discard(slot);
      else break;
    }
    if (aged) this.options.onDrop('age', aged);
    if (over) this.options.onDrop('size', over);
  }

  /** The bounds, also for held entries (on disk only): for a timer, as nothing else moves them. */
  async sweep(): Promise<void> {
    this.enforceBounds();
    this.sweeping ??= this.pruneHeld().finally(() => (this.sweeping = undefined));
    await this.sweeping;
  }

  /**
   * The oldest entry, read from disk and checked, marked as being sent; corrupt ones on the way are
   * reported and removed. Undefined when the queue is empty. Follow with delivered() or kept().
   */
  async next(): Promise<StoredEntry | undefined> {
    for (;;) {
      this.enforceBounds();
      const slot = this.slots[0];
      if (!slot) return undefined;
      try {
        await slot.written;
      } catch {
        continue; // add() has taken it out of the queue.
      }
      if (this.slots[0] !== slot) continue;
      const entryFile = this.file(slot, ENTRY);
      let data: Buffer;
      try {
        data = await fs.readFile(entryFile);
      } catch (err) {
        this.forget(slot);
        this.options.onDrop('corrupt', 1, `${path.basename(entryFile)}: ${(err as Error).message}`);
        continue;
      }
      const decoded = decodeEntry(data, slot.seq);
      if (typeof decoded === 'string') {
        this.forget(slot);
        await fs.rm(entryFile, { force: true });
        this.options.onDrop('corrupt', 1, `${path.basename(entryFile)}: ${decoded}`);
        continue;
      }
      await fs.rename(entryFile, this.file(slot, SENDING));
      this.sending = slot;
      return decoded;
    }
  }

  /** The entry reached the server (or may have): its file is removed. */
  async delivered(entry: StoredEntry): Promise<void> {
    const slot = this.slots.find((candidate) => candidate.seq === entry.seq);
    if (slot === this.sending) this.sending = undefined;
    if (slot) this.forget(slot);
    await fs.rm(this.file(entry, SENDING), { force: true });
  }

  /** The request provably never left: the entry stays first in the queue. */
  async kept(entry: StoredEntry): Promise<void> {
    const slot = this.slots.find((candidate) => candidate.seq === entry.seq);
    if (slot === this.sending) this.sending = undefined;
    await fs.rename(this.file(entry, SENDING), this.file(entry, ENTRY));
  }

  private file(slot: { seq: number; storedAtMs: number }, suffix: string, dir = this.options.dir): string {
    return path.join(dir, fileName(slot.seq, slot.storedAtMs, suffix));
  }

  /** Takes a slot out of the queue and the count; returns 1 for the caller's tally. */
  private forget(slot: Slot): number {
    const index = this.slots.indexOf(slot);
    if (index < 0) return 0;
    this.slots.splice(index, 1);
    this.totalBytes -= slot.bytes;
    return 1;
  }

  private discard(slot: Slot): number {
    const dropped = this.forget(slot);
    void slot.written.then(
      () => fs.rm(this.file(slot, ENTRY), { force: true }),
      () => undefined,
    );
    return dropped;
  }

  private async load(): Promise<void> {
    const { dir, mode, identity } = this.options;
    await makeDir(dir, mode);
    const stored = await this.storedIdentity();
    const names = await listDir(dir);
    let interrupted = 0;
    for (const name of names.filter((n) => n.endsWith(TEMP)))
      await fs.rm(path.join(dir, name), { force: true });
    for (const name of names) {
      const match = NAME.exec(name);
      if (!match) continue;
      this.lastSeq = Math.max(this.lastSeq, Number(match[1]));
      if (match[3] === 'sending') {
        await fs.rm(path.join(dir, name), { force: true });
        interrupted++;
      }
    }
    if (interrupted) this.options.onDrop('interrupted', interrupted);
    if (stored !== undefined && stored !== identity) await this.holdAll(stored);
    await this.writeIdentity();
    if (this.options.adopt) await this.adoptHeld();
    await this.countHeld();
    for (const name of (await listDir(dir)).sort()) {
      const match = NAME.exec(name);
      if (!match || match[3] !== 'entry') continue;
      const { size } = await fs.stat(path.join(dir, name));
      const slot = {
        seq: Number(match[1]),
        storedAtMs: Number(match[2]),
        bytes: size,
        written: Promise.resolve(),
      };
      this.slots.push(slot);
      this.totalBytes += size;
    }
    this.enforceBounds();
    await this.pruneHeld();
  }

  private async storedIdentity(): Promise<string | undefined> {
    try {
      const parsed: unknown = JSON.parse(
        await fs.readFile(path.join(this.options.dir, IDENTITY_FILE), 'utf8'),
      );
      const value = (parsed as { identity?: unknown } | null)?.identity;
      return typeof value === 'string' ? value : undefined;
    } catch {
      // None yet, or unreadable: entries of an unknown server are not sent anywhere.
      return (await this.entryNames(this.options.dir)).length ? 'unknown' : undefined;
    }
  }

  private async writeIdentity(): Promise<void> {
    const file = path.join(this.options.dir, IDENTITY_FILE);
    await writeAtomic(
      file,
      Buffer.from(JSON.stringify({ identity: this.options.identity })),
      this.options.mode & 0o666,
    );
  }

  private async entryNames(dir: string): Promise<string[]> {
    return (await listDir(dir)).filter((name) => NAME.exec(name)?.[3] === 'entry');
  }

  /** Moves every entry aside, under the identity it was kept for. */
  private async holdAll(stored: string): Promise<void> {
    const target = path.join(this.options.dir, HELD, stored.replace(/[^\w-]/g, '_'));
    await makeDir(path.join(this.options.dir, HELD), this.options.mode);
    await makeDir(target, this.options.mode);
    for (const name of await this.entryNames(this.options.dir)) {
      await fs.rename(path.join(this.options.dir, name), path.join(target, name));
    }
  }

  /** Held entries join the queue; their sequence numbers are lower than any new one, so they go first. */
  private async adoptHeld(): Promise<void> {
    const heldRoot = path.join(this.options.dir, HELD);
    for (const identity of await listDir(heldRoot)) {
      const from = path.join(heldRoot, identity);
      for (const name of await this.entryNames(from)) {
        await fs.rename(path.join(from, name), path.join(this.options.dir, name));
      }
      await fs.rm(from, { recursive: true, force: true });
    }
  }

  private async countHeld(): Promise<void> {
    const heldRoot = path.join(this.options.dir, HELD);
    let count = 0;
    for (const identity of await listDir(heldRoot)) {
      const names = await this.entryNames(path.join(heldRoot, identity));
      for (const name of names) this.lastSeq = Math.max(this.lastSeq, Number(NAME.exec(name)?.[1]));
      count += names.length;
    }
    this.heldCount = count;
  }

  /** Held entries age out like the others. */
  private async pruneHeld(): Promise<void> {
    if (this.heldCount === 0) return;
    const heldRoot = path.join(this.options.dir, HELD);
    const oldest = this.now() - this.options.maxAgeMs;
    let aged = 0;
    for (const identity of await listDir(heldRoot)) {
      for (const name of await this.entryNames(path.join(heldRoot, identity))) {
        if (Number(NAME.exec(name)?.[2]) >= oldest) continue;
        await fs.rm(path.join(heldRoot, identity, name), { force: true });
        aged++;
      }
    }
    this.heldCount -= Math.min(aged, this.heldCount);
    if (aged) this.options.onDrop('age', aged);
  }
}
