/**
 * The vendor docs' own curl examples, run against the emulator over HTTPS exactly as the docs print
 * them, apart from the base URL, the token, the ids the docs leave as placeholders (<faceId>, the
 * example personId...) and, where said, a file name. Each command is kept here verbatim, and the
 * first test checks that the docs still print it word for word.
 *
 * Only two things are added around a command, neither touching its documented part: `set -euo
 * pipefail` before it (so a failing curl is not hidden by `| jq`), and `-w` after `curl -sk`, which
 * writes the HTTP status and content type to stderr.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { IdentitiesClient, type OperationId } from '../../client';
import { startEmulator, type Emulator } from '../../emulator/server';

const DOCS = path.join(__dirname, '..', '..', '..', 'shared', 'api-docs');
const FIXTURES = path.join(__dirname, '..', 'fixtures');

const DOC_FILES = {
  lookup: '000_431e3ddddbc15380.txt',
  faces: '001_2742d451cb2b267b.txt',
  publish: '003_a163a40484de325a.txt',
  files: '004_3ad1031e200828ee.txt',
} as const;
type Doc = keyof typeof DOC_FILES;

const DOC_BASE_URL = 'https://customername.econnectcloud.com/identities';
const DOC_TOKEN = 'your_jwt';
const DOC_PERSON_ID = '0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d';

// ---- the docs' text, verbatim (String.raw keeps the backslashes) ----

const HEADER = String.raw`API_URL="https://customername.econnectcloud.com/identities"
TOKEN="your_jwt"`;

const FACES = {
  image: String.raw`IMG_B64=$(base64 -w 0 face.jpg)`,
  enroll: String.raw`curl -sk -X POST "$API_URL/api/v1/faces/faceEnroll" \
-H "Authorization: Bearer $TOKEN" \
-H "Content-Type: application/json" \
-d "{\"faceImage\": \"$IMG_B64\", \"photoReferenceId\": \"ext-123\"}" | jq`,
  existing: String.raw`# POST "$API_URL/api/v1/faces/faceEnroll?personId=<personId>&forceEnrollment=false"`,
  detect: String.raw`curl -sk -X POST "$API_URL/api/v1/faces/faceDetect" \
-H "Authorization: Bearer $TOKEN" \
-H "Content-Type: application/json" \
-d "{\"image\": \"$IMG_B64\"}" | jq`,
  image2: String.raw`IMG2_B64=$(base64 -w 0 face2.jpg)`,
  compare: String.raw`curl -sk -X POST "$API_URL/api/v1/faces/faceCompare" \
-H "Authorization: Bearer $TOKEN" \
-H "Content-Type: application/json" \
-d "{\"image1\": \"$IMG_B64\", \"image2\": \"$IMG2_B64\"}" | jq`,
  check: String.raw`curl -sk -X GET "$API_URL/api/v1/faces/checkImageReference/ext-123" \
-H "Authorization: Bearer $TOKEN" | jq`,
};

const PUBLISH_WITH_RESPONSE = String.raw`# Define variables
API_URL="https://customername.econnectcloud.com/identities"
TOKEN="your_jwt" # from POST /api/v1/authenticate
FACE_FILE="face.jpg" # the detected face image
# byte[] fields are sent as base64 strings in JSON. "expanded" is required.
EXPANDED_B64=$(base64 -w 0 "$FACE_FILE")
REQUEST=$(cat <<EOF
{
"expanded": "$EXPANDED_B64",
"detectorName": "FrontDoorCam",
"ianaTimeZone": "America/Los_Angeles",
"detectTimeUtc": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
"largestFaceOnly": true,
"includePerson": true,
"includeNames": true,
"includeTags": true,
"includeFields": true
}
EOF
)
curl -sk -X POST "$API_URL/api/v1/faceEdge/publishWithResponse" \
-H "Authorization: Bearer $TOKEN" \
-H "Content-Type: application/json" \
-d "$REQUEST" | jq`;

const LOOKUP = String.raw`API_URL="https://customername.econnectcloud.com/identities"
TOKEN="your_jwt"

# multipart/form-data upload - send the files directly (no base64 needed).
curl -sk -X POST "$API_URL/api/v1/faceEdge/lookup" \
-H "Authorization: Bearer $TOKEN" \
-F "CroppedAligned=@cropped-aligned.jpg" \
-F "Embeddings=@embeddings.bin" \
-F "RecognitionModel=arcface" | jq`;

const FILES = {
  enrollmentPhoto: String.raw`curl -sk "$API_URL/api/v1/people/enrollmentPhoto/<faceId>" \
-H "Authorization: Bearer $TOKEN" -o enrollment.jpg`,
  detectionPhoto: String.raw`curl -sk "$API_URL/api/v1/people/detectionPhoto/<faceId>/<detectionId>" \
-H "Authorization: Bearer $TOKEN" -o detection.jpg`,
  upload: String.raw`curl -sk -X POST "$API_URL/api/v1/people/fileDocuments/upload" \
-H "Authorization: Bearer $TOKEN" \
-F "personId=0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d" \
-F "name=ID Card" \
-F "description=Front of ID" \
-F "file=@id-card.pdf"`,
  download: String.raw`curl -sk "$API_URL/api/v1/people/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d/fileDocuments/<documentId>/data" \
-H "Authorization: Bearer $TOKEN" -o id-card.pdf`,
};

const EXCERPTS: [Doc, string][] = [
  ...[HEADER, ...Object.values(FACES)].map((text): [Doc, string] => ['faces', text]),
  ['publish', PUBLISH_WITH_RESPONSE],
  ['lookup', LOOKUP],
  ...[HEADER, ...Object.values(FILES)].map((text): [Doc, string] => ['files', text]),
];

/** The enroll command sent to the URL the docs give (as a comment) for adding a face to a person. */
function addToExistingCommand(): string {
  const url = /^# POST (".+")$/.exec(FACES.existing)?.[1];
  assert.ok(url, 'the docs give the URL for adding a face to an existing person');
  const enrollUrl = '"$API_URL/api/v1/faces/faceEnroll"';
  assert.ok(FACES.enroll.includes(enrollUrl));
  return FACES.enroll.replace(enrollUrl, url);
}

// ---- running a command ----

const WRITE_OUT = `-w '%{stderr}%{http_code} %{content_type}\\n'`;

function installed(command: string): boolean {
  try {
    execFileSync('bash', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
/** The docs pipe JSON answers into jq. Without jq on the machine the pipe is dropped, nothing else. */
const HAS_JQ = installed('jq');

function bash(
  script: string,
  cwd: string,
): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['-c', script],
      { cwd, maxBuffer: 16 * 1024 * 1024, timeout: 20_000 },
      (error, stdout, stderr) => resolve({ code: error ? (error.code ?? 'killed') : 0, stdout, stderr }),
    );
  });
}

let emu: Emulator;
let token: string;
let workDir: string;

interface CurlAnswer {
  status: number;
  contentType: string;
  stdout: string;
}

/**
 * Runs doc excerpts as one bash script in `cwd`, after putting in the emulator's URL, the token and
 * the given placeholder values. Fails unless the script exits 0 after one 2xx answer.
 */
async function runDocs(excerpts: string[], placeholders: Record<string, string> = {}, cwd = workDir) {
  let script = excerpts.join('\n').replace(DOC_BASE_URL, emu.url).replace(`"${DOC_TOKEN}"`, `"${token}"`);
  for (const [placeholder, value] of Object.entries(placeholders))
    script = script.split(placeholder).join(value);
  if (!HAS_JQ) script = script.replace(/ \| jq$/m, '');
  assert.equal(script.match(/curl -sk /g)?.length, 1, 'one curl command per run');
  script = script.replace('curl -sk ', `curl -sk ${WRITE_OUT} `);
  assert.ok(!/<\w+>/.test(script), `a placeholder is left in:\n${script}`);

  const run = await bash(`set -euo pipefail\n${script}`, cwd);
  assert.equal(run.code, 0, `exit ${run.code}\nstderr: ${run.stderr}\nstdout: ${run.stdout.slice(0, 500)}`);
  const written = /^(\d{3}) (.*)$/m.exec(run.stderr);
  assert.ok(written, `no status written: ${run.stderr}`);
  const answer: CurlAnswer = { status: Number(written[1]), contentType: written[2]!, stdout: run.stdout };
  assert.ok(
    answer.status >= 200 && answer.status < 300,
    `HTTP ${answer.status}: ${run.stdout.slice(0, 500)}`,
  );
  return answer;
}

/** A JSON answer: documented shape (the contract), and exactly the documented top-level fields. */
function jsonAnswer<T>(op: OperationId, answer: CurlAnswer, fields: string[]): T {
  assert.match(answer.contentType, /^application\/json/);
  const body = JSON.parse(answer.stdout) as T;
  assert.equal(emu.routes.validateResponse(op, answer.status, body), undefined, `${op}: ${answer.stdout}`);
  assert.deepEqual(Object.keys(body as object).sort(), [...fields].sort(), `${op}: documented fields`);
  return body;
}

function authenticate(): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      `${emu.url}/api/v1/authenticate`,
      { method: 'POST', ca: emu.ca, agent: false, headers: { 'Content-Type': 'application/json' } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          try {
            const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            assert.equal(response.statusCode, 200);
            assert.equal(emu.routes.validateResponse('authenticate', 200, body), undefined);
            resolve((body as { token: string }).token);
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify({ username: 'admin', password: 'admin' }));
  });
}

interface DetectedFaceAnswer {
  faceId: string;
  detectId: string;
  person: Record<string, unknown>;
}

describe('the vendor docs\u2019 curl examples against the emulator (HTTPS, curl -sk)', function () {
  let client: IdentitiesClient;
  let downloads: string;
  const files: Record<string, Buffer> = {};
  /** What earlier answers said, for the placeholders of later commands. */
  const ids: { personId?: string; faceId?: string; publishedFace?: DetectedFaceAnswer; documentId?: string } =
    {};

  before(async function () {
    emu = await startEmulator({ port: 0, https: true, engine: 'simple' });
    client = new IdentitiesClient({
      baseUrl: emu.url,
      username: 'admin',
      password: 'admin',
      tls: { ca: emu.ca },
    });
    token = await authenticate();
    workDir = await mkdtemp(path.join(os.tmpdir(), 'identities-curl-'));
    downloads = path.join(workDir, 'downloads');
    await mkdir(downloads);
    // The docs pass base64 images as one command-line argument, which Linux caps at 128 KiB: small images.
    const small = (name: string) =>
      sharp(readFileSync(path.join(FIXTURES, name)))
        .resize({ width: 300 })
        .jpeg()
        .toBuffer();
    files['face.jpg'] = await small('obama.jpg');
    files['face2.jpg'] = await small('obama2.jpg');
    files['cropped-aligned.jpg'] = await sharp(files['face.jpg'])
      .extract({ left: 75, top: 40, width: 150, height: 150 })
      .jpeg()
      .toBuffer();
    files['id-card.pdf'] = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n');
    for (const [name, data] of Object.entries(files)) await writeFile(path.join(workDir, name), data);
  });

  after(async function () {
    client?.close();
    await emu?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('curl is installed (the commands need it)', async function () {
    const run = await bash('curl --version', workDir);
    assert.equal(run.code, 0, 'curl is missing');
    assert.match(run.stdout, /^curl \d+\.\d+/);
    assert.ok(files['face.jpg']!.length < 64 * 1024, 'face.jpg small enough for one argument as base64');
  });

  it('the commands here are the docs\u2019 own, word for word', function () {
    const docs = Object.fromEntries(
      Object.entries(DOC_FILES).map(([doc, file]) => [doc, readFileSync(path.join(DOCS, file), 'utf8')]),
    );
    const missing = EXCERPTS.filter(([doc, text]) => !docs[doc]!.includes(text)).map(
      ([doc, text]) => `${doc}: ${text}`,
    );
    assert.deepEqual(missing, []);
  });

  describe('001 Face Recognition', function () {
    it('faceEnroll: creates a new person and returns its personId', async function () {
      const answer = await runDocs([HEADER, FACES.image, FACES.enroll]);
      const { personId } = jsonAnswer<{ personId: string }>('faceEnroll', answer, ['personId']);
      const person = await client.getPerson(personId);
      assert.deepEqual(
        person.faces.map((f) => f.photoReferenceId),
        ['ext-123'],
      );
      ids.personId = personId;
    });

    it('faceEnroll?personId=<personId>&forceEnrollment=false: adds a face to that person', async function () {
      assert.ok(ids.personId, 'needs the enrolled person');
      // The file name is the one change: the second photo, face2.jpg, is the one added.
      const image2 = FACES.image.replace('face.jpg', 'face2.jpg');
      const answer = await runDocs([HEADER, image2, addToExistingCommand()], { '<personId>': ids.personId });
      const { personId } = jsonAnswer<{ personId: string }>('faceEnroll', answer, ['personId']);
      assert.equal(personId, ids.personId);
      assert.equal((await client.getPerson(personId)).faces.length, 2);
    });

    it('faceDetect: the enrolled face, with its personId', async function () {
      const answer = await runDocs([HEADER, FACES.image, FACES.detect]);
      const { detections } = jsonAnswer<{ detections: Record<string, unknown>[] }>('faceDetect', answer, [
        'detections',
      ]);
      assert.equal(detections.length, 1);
      assert.deepEqual(Object.keys(detections[0]!).sort(), [
        'boundingBox',
        'confidence',
        'faceId',
        'personId',
        'quality',
      ]);
      assert.equal(detections[0]!.personId, ids.personId);
    });

    it('faceCompare: match and confidence', async function () {
      const answer = await runDocs([HEADER, FACES.image, FACES.image2, FACES.compare]);
      const { match, confidence } = jsonAnswer<{ match: boolean; confidence: number }>(
        'faceCompare',
        answer,
        ['match', 'confidence'],
      );
      // The simple engine tells people apart by bytes: two different photos are no match.
      assert.deepEqual([match, confidence < 0.5], [false, true]);
    });

    it('checkImageReference/ext-123: exists, with the enrolled face and its detection', async function () {
      const answer = await runDocs([HEADER, FACES.check]);
      const check = jsonAnswer<{ exists: boolean; faceId: string; detectId: string }>(
        'checkImageReference',
        answer,
        ['exists', 'faceId', 'detectId'],
      );
      assert.equal(check.exists, true);
      const person = await client.getPerson(ids.personId!);
      assert.equal(check.faceId, person.faces[0]?.faceId);
      const detections = await client.getDetectionsByFace(check.faceId);
      assert.ok(detections.some((d) => d.detectId === check.detectId));
      ids.faceId = check.faceId;
    });
  });

  describe('003 publishWithResponse (the REQUEST heredoc)', function () {
    it('returns the detected face with the requested sections of its person', async function () {
      assert.ok(ids.personId && ids.faceId, 'needs the enrolled person');
      // The person of the docs' sample response: Jane Doe, tagged VIP, LoyaltyTier Gold.
      await client.upsertAlias(ids.personId, { firstName: 'Jane', lastName: 'Doe' });
      const vip = await client.createTag({ name: 'VIP' });
      await client.upsertPersonTag(ids.personId, { tagId: vip.tagId });
      await client.upsertEntityField(ids.personId, { name: 'LoyaltyTier', stringValue: 'Gold' });

      const answer = await runDocs([PUBLISH_WITH_RESPONSE]);
      const { detectedFaces } = jsonAnswer<{ detectedFaces: DetectedFaceAnswer[] }>(
        'publishWithResponse',
        answer,
        ['detectedFaces'],
      );
      assert.equal(detectedFaces.length, 1);
      const [face] = detectedFaces;
      assert.deepEqual(Object.keys(face!).sort(), [
        'boundingBox',
        'confidence',
        'detectId',
        'faceId',
        'faceQuality',
        'person',
      ]);
      assert.equal(face!.faceId, ids.faceId);
      assert.deepEqual(Object.keys(face!.person).sort(), [
        'aliases',
        'entityFields',
        'friendlyName',
        'personId',
        'personTags',
      ]);
      assert.deepEqual([face!.person.personId, face!.person.friendlyName], [ids.personId, 'Jane Doe']);
      const personTags = await client.getPersonTags(ids.personId);
      assert.deepEqual(
        personTags.map((t) => [t.tagId, t.tag.name]),
        [[vip.tagId, 'VIP']],
      );
      assert.deepEqual(face!.person.personTags, personTags);
      assert.deepEqual(face!.person.entityFields, [
        { name: 'LoyaltyTier', stringValue: 'Gold', dateValue: null, numberValue: null, boolValue: null },
      ]);
      const detection = (await client.getDetectionsByFace(face!.faceId)).find(
        (d) => d.detectId === face!.detectId,
      );
      assert.deepEqual(
        [detection?.detectorName, detection?.ianaTimeZone],
        ['FrontDoorCam', 'America/Los_Angeles'],
      );
      ids.publishedFace = face;
    });
  });

  describe('000 lookup (multipart)', function () {
    it('CroppedAligned + Embeddings + RecognitionModel: the EdgePerson of the enrolled face', async function () {
      assert.ok(ids.faceId, 'needs the enrolled face');
      // Embeddings: the enrolled face's 128-d descriptor as little-endian float32, as an edge model sends it.
      const descriptor = emu.store.face(ids.faceId)!.descriptor;
      const embeddings = Buffer.alloc(descriptor.length * 4);
      descriptor.forEach((value, i) => embeddings.writeFloatLE(value, i * 4));
      await writeFile(path.join(workDir, 'embeddings.bin'), embeddings);

      const answer = await runDocs([LOOKUP]);
      const person = jsonAnswer<Record<string, unknown>>('lookup', answer, [
        'faceId',
        'personId',
        'firstName',
        'lastName',
        'tags',
      ]);
      assert.deepEqual(person, {
        faceId: ids.faceId,
        personId: ids.personId,
        firstName: 'Jane',
        lastName: 'Doe',
        tags: [{ name: 'VIP' }],
      });
    });
  });

  describe('004 Photos & Documents', function () {
    /** A download written with -o into the downloads folder: its bytes and type. */
    async function downloaded(answer: CurlAnswer, name: string, contentType: string): Promise<Buffer> {
      assert.equal(answer.contentType, contentType);
      assert.equal(answer.stdout, '', 'the body went to the file');
      return readFile(path.join(downloads, name));
    }

    it('enrollmentPhoto/<faceId> -o enrollment.jpg: the enrolled JPEG', async function () {
      assert.ok(ids.faceId, 'needs the enrolled face');
      const answer = await runDocs([HEADER, FILES.enrollmentPhoto], { '<faceId>': ids.faceId }, downloads);
      const photo = await downloaded(answer, 'enrollment.jpg', 'image/jpeg');
      assert.ok(photo.equals(files['face.jpg']!), 'the bytes of face.jpg');
    });

    it('detectionPhoto/<faceId>/<detectionId> -o detection.jpg: the published JPEG', async function () {
      const face = ids.publishedFace;
      assert.ok(face, 'needs the published face');
      const answer = await runDocs(
        [HEADER, FILES.detectionPhoto],
        { '<faceId>': face.faceId, '<detectionId>': face.detectId },
        downloads,
      );
      const photo = await downloaded(answer, 'detection.jpg', 'image/jpeg');
      assert.ok(photo.equals(files['face.jpg']!), 'the bytes of face.jpg');
    });

    it('fileDocuments/upload (-F personId, name, description, file): stored, empty answer', async function () {
      assert.ok(ids.personId, 'needs the enrolled person');
      const answer = await runDocs([HEADER, FILES.upload], { [DOC_PERSON_ID]: ids.personId });
      assert.equal(answer.status, 200);
      assert.equal(answer.stdout, '', 'empty body');
      assert.equal(emu.routes.validateResponse('uploadFileDocument', 200, undefined), undefined);
      const [document] = (await client.getPerson(ids.personId)).fileDocuments;
      assert.deepEqual(
        { ...document, publicId: typeof document?.publicId },
        {
          publicId: 'string',
          name: 'ID Card',
          description: 'Front of ID',
          fileName: 'id-card.pdf',
          contentType: 'application/pdf',
          size: files['id-card.pdf']!.length,
        },
      );
      ids.documentId = document?.publicId;
    });

    it('<personId>/fileDocuments/<documentId>/data -o id-card.pdf: the uploaded bytes', async function () {
      assert.ok(ids.personId && ids.documentId, 'needs the uploaded document');
      const answer = await runDocs(
        [HEADER, FILES.download],
        { [DOC_PERSON_ID]: ids.personId, '<documentId>': ids.documentId },
        downloads,
      );
      const document = await downloaded(answer, 'id-card.pdf', 'application/pdf');
      assert.ok(document.equals(files['id-card.pdf']!), 'the bytes of id-card.pdf');
    });
  });
});
