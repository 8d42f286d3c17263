/**
 * The npm start demo in a real Node-RED and a real FlowFuse Dashboard 2.0 page in chromium: the
 * simulated camera's frames (example 11, set up as the demo sets it up) reach the door-monitor page
 * with their boxes on the faces, for a portrait, a landscape with two faces and a photo stored
 * sideways with an EXIF Orientation tag; the enroll form names a new person, and says when a photo
 * has no usable face. The boxes are checked against the API's own: faceDetect's bounding boxes of
 * the same photos, found in the drawn picture as lines of the outcome's colour.
 *
 * Writes docs/screenshots/{dashboard,annotated-frame}.png.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { IdentitiesClient } from '../../client/client';
import { startEmulator, type Emulator } from '../../emulator/server';
import { openEditor, type EditorSession } from '../../scripts/editor';
import {
  demoFlows,
  freePort,
  OFFLINE_EDITOR_SETTINGS,
  prepareUserDir,
  ROOT,
  seedDemo,
  spawnNodeRed,
  stopProcess,
  waitForNodeRed,
  writeCameraFrames,
  writeFlows,
} from '../../scripts/runtime';

const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');
/** The bound: from the camera's frame to the page. */
/**
 * How long the page may take before the test calls it stuck. The target, a frame on the page
 * within 5 s of the camera's shot, is a speed: it is measured and printed here (and in the closing
 * figures), not asserted, so that a slow machine cannot fail the test.
 */
const PAGE_STUCK_MS = 60_000;
const TARGET_MS = 5000;
/** Camera shot to picture on the page, per frame. */
const latencies: number[] = [];
/** The outcome colours of example 10's *boxes coloured by outcome*. */
const MATCHED = [0x2e, 0x7d, 0x32];
const UNKNOWN = [0xff, 0x8f, 0x00];

interface Frame {
  /** The drawn JPEG, as the page shows it. */
  jpeg: Buffer;
  /** The camera frame it was drawn on. */
  photo: string;
  /** The name the page shows. */
  name: string;
}

describe('the door-monitor dashboard of the demo (chromium)', function () {
  this.timeout(180_000);

  let emulator: Emulator | undefined;
  let client: IdentitiesClient;
  let userDir: string | undefined;
  let nodeRed: ChildProcess | undefined;
  let session: EditorSession | undefined;
  let page: Page;
  let runtimeLog = '';
  /** The demo camera's frames (DEMO_PHOTOS at a camera's size), in the order it shows them. */
  let frames: string[] = [];

  before(async function () {
    emulator = await startEmulator({ port: 0, engine: 'faceapi', log: () => undefined });
    await seedDemo(emulator);
    client = new IdentitiesClient({
      baseUrl: emulator.url,
      username: 'admin',
      password: 'admin',
      tls: { ca: emulator.ca },
    });
    userDir = mkdtempSync(path.join(tmpdir(), 'identities-dashboard-'));
    const caFile = path.join(userDir, 'emulator-ca.pem');
    writeFileSync(caFile, emulator.ca ?? '');
    const port = await freePort();
    prepareUserDir(userDir, { port, settings: OFFLINE_EDITOR_SETTINGS });
    frames = await writeCameraFrames(path.join(userDir, 'camera'));
    const { flows, credentials } = demoFlows(emulator.url, caFile, frames);
    writeFlows(userDir, flows, credentials);
    nodeRed = spawnNodeRed(userDir, 'pipe');
    nodeRed.stdout?.on('data', (chunk: Buffer) => (runtimeLog += chunk.toString()));
    nodeRed.stderr?.on('data', (chunk: Buffer) => (runtimeLog += chunk.toString()));
    const url = `http://127.0.0.1:${port}/`;
    await waitForNodeRed(url, nodeRed);
    // The editor first (its session blocks anything beyond loopback), then the dashboard beside it.
    session = await openEditor(url);
    page = await session.context.newPage();
    page.on('pageerror', (err) => session?.errors.push(`dashboard: ${err.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') session?.errors.push(`dashboard console: ${message.text()}`);
    });
    await page.goto(`${url}dashboard/door`);
    // The camera's first frame, with the face engine and the drawing warmed up: the latencies count from then on.
    await page.locator('.door-frame').waitFor({ timeout: 60_000 });
    mkdirSync(SCREENSHOTS, { recursive: true });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && runtimeLog) console.error(`Node-RED said:\n${runtimeLog}`);
  });

  after(async function () {
    if (latencies.length > 0) {
      const sorted = [...latencies].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)];
      console.log(
        `      camera shot to page: median ${median} ms, max ${sorted.at(-1)} ms over ${sorted.length} frames (target ${TARGET_MS} ms)`,
      );
    }
    client?.close();
    await session?.close();
    if (nodeRed) await stopProcess(nodeRed);
    await emulator?.close();
    if (userDir) rmSync(userDir, { recursive: true, force: true });
  });

  const frameSource = () =>
    page
      .locator('.door-frame')
      .getAttribute('src', { timeout: 1000 })
      .catch(() => null);

  /**
   * Turns the camera off and on with the page's switch (turning it on sends a frame at once) and
   * waits for that frame on the page.
   */
  async function nextFrame(): Promise<Frame> {
    const toggle = page.locator('.v-switch input[type="checkbox"]');
    await toggle.uncheck();
    const before = await frameSource();
    await toggle.check();
    const sent = Date.now();
    let source = before;
    while (source === before || !source) {
      assert.ok(Date.now() - sent < PAGE_STUCK_MS, `no new frame on the page within ${PAGE_STUCK_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      source = await frameSource();
    }
    latencies.push(Date.now() - sent);
    const jpeg = Buffer.from(source.replace(/^data:image\/jpeg;base64,/, ''), 'base64');
    const photo = (await page.locator('.door-frame').getAttribute('data-source')) ?? '';
    return { jpeg, photo, name: await page.locator('.door-name').innerText() };
  }

  /** Frames until one of `photo` comes (the camera shows the photos in turn). */
  /**
   * The README's annotated frame with each face pixelated inside its drawn box (the lines and labels
   * stay): the test photos' usage notice rules out pictures that could suggest endorsement.
   */
  async function pixelated(jpeg: Buffer, boxes: { x: number; y: number; width: number; height: number }[]) {
    const inset = 6;
    const tiles = await Promise.all(
      boxes.map(async ({ x, y, width, height }) => {
        const region = {
          left: x + inset,
          top: y + inset,
          width: width - 2 * inset,
          height: height - 2 * inset,
        };
        const coarse = await sharp(jpeg).extract(region).resize({ width: 6 }).toBuffer();
        const input = await sharp(coarse)
          .resize(region.width, region.height, { kernel: 'nearest' })
          .toBuffer();
        return { input, left: region.left, top: region.top };
      }),
    );
    return sharp(jpeg).composite(tiles).toBuffer();
  }

  async function frameOf(photo: string): Promise<Frame> {
    for (let tries = 0; tries < frames.length * 2; tries++) {
      const frame = await nextFrame();
      if (frame.photo === photo) return frame;
    }
    throw new Error(`no frame of ${photo}`);
  }

  /**
   * Whether a rectangle of `colour` is drawn along the box: of points sampled along its four edges,
   * nearly all have a pixel of that colour within 4 px across the edge (JPEG softens the lines).
   */
  async function boxDrawn(
    jpeg: Buffer,
    box: { x: number; y: number; width: number; height: number },
    colour: number[],
  ): Promise<number> {
    const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    const near = (x: number, y: number) => {
      for (let d = -4; d <= 4; d++) {
        for (const [px, py] of [
          [x + d, y],
          [x, y + d],
        ] as const) {
          if (px < 0 || py < 0 || px >= info.width || py >= info.height) continue;
          const at = (Math.round(py) * info.width + Math.round(px)) * info.channels;
          if (colour.every((c, i) => Math.abs((data[at + i] ?? 0) - c) < 60)) return true;
        }
      }
      return false;
    };
    const points: [number, number][] = [];
    for (let t = 0.1; t < 0.95; t += 0.1) {
      points.push([box.x + t * box.width, box.y], [box.x + t * box.width, box.y + box.height]);
      points.push([box.x, box.y + t * box.height], [box.x + box.width, box.y + t * box.height]);
    }
    return points.filter(([x, y]) => near(x, y)).length / points.length;
  }

  it('shows the camera frame of an enrolled person: the picture, the name and the detection', async function () {
    const frame = await frameOf(frames[0]!);
    assert.equal(frame.name, 'Barack Obama');
    assert.ok(await page.locator('.door-tag', { hasText: 'VIP' }).isVisible(), 'the tag VIP');
    assert.match(await page.locator('.door-notes').innerText(), /Prefers window seating/);
    const row = page
      .locator('table tbody tr', { hasText: 'FrontDoorCam' })
      .filter({ hasText: 'Barack Obama' });
    await row.first().waitFor({ timeout: PAGE_STUCK_MS });
    // The README's picture: a matched person with a tag and a note, before any test enrolls anyone.
    // The photo is blurred there: the test photos are official portraits whose usage notice rules out
    // pictures that could suggest endorsement (test/fixtures/README.md).
    const blur = await page.addStyleTag({ content: '.door-frame img { filter: blur(9px); }' });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard.png'), fullPage: true });
    await blur.evaluate((style) => (style as HTMLElement).remove());
    assert.deepEqual(session!.errors.splice(0), []);
  });

  it("draws each face's box where the API found it: portrait, landscape and EXIF-rotated", async function () {
    for (const photo of frames.slice(0, 3)) {
      const frame = await frameOf(photo);
      const upright = await sharp(readFileSync(photo)).autoOrient().toBuffer({ resolveWithObject: true });
      const drawn = await sharp(frame.jpeg).metadata();
      assert.deepEqual(
        [drawn.width, drawn.height],
        [upright.info.width, upright.info.height],
        `${photo} upright`,
      );
      const { detections } = await client.faceDetect({ image: readFileSync(photo) });
      assert.ok(detections.length > 0);
      for (const face of detections) {
        const colour = face.personId ? MATCHED : UNKNOWN;
        const covered = await boxDrawn(frame.jpeg, face.boundingBox, colour);
        assert.ok(covered > 0.9, `${path.basename(photo)}: ${Math.round(covered * 100)}% of the box drawn`);
      }
      if (photo.endsWith('two_people.jpg')) {
        await sharp(
          await pixelated(
            frame.jpeg,
            detections.map((face) => face.boundingBox),
          ),
        )
          .resize({ width: 800 })
          .png()
          .toFile(path.join(SCREENSHOTS, 'annotated-frame.png'));
      }
    }
    assert.deepEqual(session!.errors.splice(0), []);
  });

  it("says when the form's photo has no usable face", async function () {
    const blank = path.join(userDir!, 'wall.jpg');
    await sharp({ create: { width: 320, height: 240, channels: 3, background: '#8a8a80' } })
      .jpeg()
      .toFile(blank);
    await page.locator('.enroll-photo').setInputFiles(blank);
    await page.locator('.enroll-first').fill('Nobody');
    await page.locator('.enroll-last').fill('Here');
    await page.locator('.enroll-submit').click();
    const result = page.locator('.enroll-result.error');
    await result.waitFor({ timeout: 15_000 });
    assert.match(await result.innerText(), /No usable face/);
    session!.errors.splice(0);
  });

  it('enrolls through the form: the next frame of that person shows the new name, tags and banner', async function () {
    const biden = frames[3]!;
    assert.equal((await frameOf(biden)).name, 'Unknown visitor');
    await page.locator('.enroll-photo').setInputFiles(biden);
    await page.locator('.enroll-first').fill('Joe');
    await page.locator('.enroll-last').fill('Biden');
    await page.locator('.enroll-tags').fill('Watch list');
    await page.locator('.enroll-submit').click();
    const result = page.locator('.enroll-result.ok');
    await result.waitFor({ timeout: 15_000 });
    assert.equal(await result.innerText(), 'Enrolled Joe Biden (Watch list)');
    const frame = await frameOf(biden);
    assert.equal(frame.name, 'Joe Biden');
    assert.match(await page.locator('.door-banner').innerText(), /WATCH LIST: Watch list/);
    await page
      .locator('table tbody tr', { hasText: 'Joe Biden' })
      .first()
      .waitFor({ timeout: PAGE_STUCK_MS });
    assert.deepEqual(session!.errors.splice(0), []);
  });
});
