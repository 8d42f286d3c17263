#!/usr/bin/env node
/**
 * `npx econnect-identities-check-server URL` where the package is installed (`npm run check-server --
 * URL` in a clone): runs the read-only operations of the API against a real server and
 * prints a conformance report (each operation's outcome, and every place where an answer differs
 * from openapi/identities.yaml) that a user can send us. The guide is cut short in places and no
 * real server is within our reach: this is how the field tells us what the contract got wrong.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { ApiError } from './errors';
import { IdentitiesClient, type DriftReport, type IdentityPersonItem } from './client';
import type { TlsOptions } from './http';

const USAGE = `usage: npx econnect-identities-check-server URL [--insecure] [--ca FILE] [--person ID]
       (in a clone of the repository: npm run check-server -- URL ...)

Checks a real eConnect Identities server against the contract this package was built from, with
read-only calls only, and prints a report to send to the package's maintainers.

  URL          https://<customer>.econnectcloud.com/identities (cloud) or https://<host>:5009 (on-prem)
  --insecure   do not verify the server's TLS certificate (an on-premise server's self-signed one)
  --ca FILE    trust the CA certificate(s) in this PEM file (better than --insecure)
  --person ID  read this person; by default the first person found by one of the server's tags

Credentials come from the environment, IDENTITIES_USERNAME and IDENTITIES_PASSWORD, or are asked
for (the password is not echoed); never from the command line, where other users and the shell's
history could read them. The report holds no password and no token.

What it calls: authenticate, renewToken, getUserProfile, listTags, getTag (one tag), queryPeople
(filtered by a tag, never everyone), getPerson, getAliases, getPersonTags, getNotes,
getEntityFields and queryPeopleByEntityField of one person, getDetectionsByPerson (the 5 latest) and
checkImageReference of a reference that does not exist.

What it does not call, and why: every write (enroll, upserts, deletes, tags, uploads, settings)
changes the server's data; publish and publishWithResponse record a detection; recognize carries
a detector and a time and may record one too; lookup, faceDetect, faceCompare and enroll need
a face image and run face recognition, which is no part of a check and may be logged. Photos and
documents need ids that no read-only call gives.

Exit status: 0 when every call succeeded and every answer matched the contract, 1 otherwise, 2 for
a usage error.`;

export type Outcome =
  | { operation: string; status: 'ok'; detail?: string }
  | { operation: string; status: 'failed'; detail: string }
  | { operation: string; status: 'skipped'; detail: string };

export interface Report {
  outcomes: Outcome[];
  drift: DriftReport[];
}

export interface CheckOptions {
  baseUrl: string;
  username: string;
  password: string;
  tls?: TlsOptions;
  personId?: string;
}

/** Tags whose people are looked for until a person turns up: a check makes a handful of calls. */
const MAX_TAGS_TRIED = 5;

const count = (items: unknown, noun: string): string | undefined =>
  Array.isArray(items) ? `${items.length} ${noun}${items.length === 1 ? '' : 's'}` : undefined;

/** Runs the check; a failed call is an outcome, not an exception. */
export async function checkServer(options: CheckOptions): Promise<Report> {
  const report: Report = { outcomes: [], drift: [] };
  const client = new IdentitiesClient({
    baseUrl: options.baseUrl,
    username: options.username,
    password: options.password,
    tls: options.tls,
    // What the server answers, not what a second try would: retries would hide a flaky endpoint.
    retry: { maxRetries: 0 },
    onDrift: (drift) => report.drift.push(drift),
  });
  const skip = (operation: string, why: string) =>
    report.outcomes.push({ operation, status: 'skipped', detail: why });
  async function run<T>(
    operation: string,
    call: () => Promise<T>,
    describe?: (value: T) => string | undefined,
  ) {
    try {
      const value = await call();
      const detail = describe?.(value);
      report.outcomes.push(
        detail === undefined ? { operation, status: 'ok' } : { operation, status: 'ok', detail },
      );
      return value;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      // The message starts with the operation, which the report's line names already.
      const detail = `${err.code}: ${err.message.slice(err.operation.length + 2)}`;
      report.outcomes.push({ operation, status: 'failed', detail });
      return undefined;
    }
  }

  try {
    // run() gives undefined for a failure, so the login's success is a value of its own.
    if ((await run('authenticate', () => client.login().then(() => true))) === undefined) {
      skip('everything else', 'no login');
      return report;
    }
    await run('renewToken', () => client.renew());
    await run('getUserProfile', () => client.getUserProfile());

    const tags = await run(
      'listTags',
      () => client.listTags(),
      (list) => count(list, 'tag'),
    );
    const tagIds = (tags ?? []).map((tag) => tag.tagId).filter((id): id is string => typeof id === 'string');
    if (tagIds[0] === undefined) skip('getTag', 'no tag with a tagId');
    else await run('getTag', () => client.getTag(tagIds[0] as string));

    let personId = options.personId;
    if (personId === undefined) {
      for (const tagId of tagIds.slice(0, MAX_TAGS_TRIED)) {
        const people: IdentityPersonItem[] | undefined = await run(
          'queryPeople',
          () => client.queryPeople({ tagId }),
          (list) => count(list, 'person'),
        );
        const found = people?.find((person) => typeof person.personId === 'string');
        if (found) {
          personId = found.personId;
          break;
        }
      }
    }
    if (personId === undefined) {
      const why = `no person found by the first ${MAX_TAGS_TRIED} tags (name one with --person ID)`;
      for (const operation of ['getPerson', 'getAliases', 'getPersonTags', 'getNotes', 'getEntityFields']) {
        skip(operation, why);
      }
      skip('queryPeopleByEntityField', why);
      skip('getDetectionsByPerson', why);
    } else {
      const id = personId;
      await run('getPerson', () => client.getPerson(id));
      await run(
        'getAliases',
        () => client.getAliases(id),
        (list) => count(list, 'alias'),
      );
      await run(
        'getPersonTags',
        () => client.getPersonTags(id),
        (list) => count(list, 'tag'),
      );
      await run(
        'getNotes',
        () => client.getNotes(id),
        (list) => count(list, 'note'),
      );
      const fields = await run(
        'getEntityFields',
        () => client.getEntityFields(id),
        (list) => count(list, 'field'),
      );
      const field = fields?.find(
        (f) => typeof f.name === 'string' && typeof f.stringValue === 'string' && f.stringValue,
      );
      if (field) {
        await run(
          'queryPeopleByEntityField',
          () => client.queryPeopleByEntityField(field.name, field.stringValue as string),
          (list) => count(list, 'person'),
        );
      } else skip('queryPeopleByEntityField', 'the person has no entity field with a text value');
      await run(
        'getDetectionsByPerson',
        () => client.getDetectionsByPerson(id, { take: 5, dateAscending: false }),
        (list) => count(list, 'detection'),
      );
    }
    await run(
      'checkImageReference',
      () => client.checkImageReference(`check-server-${randomUUID()}`),
      (answer) =>
        answer.exists === false ? 'not found, as asked' : `exists: ${JSON.stringify(answer.exists)}`,
    );
    return report;
  } finally {
    client.close();
  }
}

const PROBLEMS: Record<DriftReport['problem'], string> = {
  unknown: 'a field the contract lacks',
  missing: 'a required field is missing',
  type: 'another type than the contract says',
};

export function formatReport(report: Report, server: { url: string; tls: string }): string {
  const version = (
    JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }
  ).version;
  const width = Math.max(...report.outcomes.map((o) => o.operation.length));
  const lines = [
    'eConnect Identities conformance report',
    `server:  ${server.url} (${server.tls})`,
    `client:  node-red-contrib-econnect-identities ${version}, Node.js ${process.version}`,
    `date:    ${new Date().toISOString()}`,
    '',
    'Operations',
    ...report.outcomes.map(
      (o) => `  ${o.operation.padEnd(width)}  ${o.detail ? `${o.status.padEnd(7)}  ${o.detail}` : o.status}`,
    ),
    '',
    `Differences from the contract: ${report.drift.length === 0 ? 'none' : report.drift.length}`,
    ...report.drift.map(
      (d) =>
        `  ${d.operation} ${d.field === '' ? '(the answer)' : d.field}: ${PROBLEMS[d.problem]}` +
        (d.expected ? `; contract: ${d.expected}` : '') +
        (d.actual ? `; server: ${d.actual}` : ''),
    ),
    '',
    clean(report)
      ? 'Result: clean: every call succeeded and every answer matched the contract.'
      : 'Result: differences found. Please send this report to the package maintainers (it holds no password or token).',
  ];
  return `${lines.join('\n')}\n`;
}

export const clean = (report: Report): boolean =>
  report.drift.length === 0 && report.outcomes.every((o) => o.status !== 'failed');

/** Asks on stderr (stdout is the report's); a secret is read without echo, from a terminal only. */
async function ask(question: string, secret: boolean): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY)
    throw new Error(
      `no terminal to ask for the ${secret ? 'password' : 'username'}: set IDENTITIES_${secret ? 'PASSWORD' : 'USERNAME'}`,
    );
  if (!secret) {
    const lines = createInterface({ input, output: process.stderr });
    try {
      return await lines.question(question);
    } finally {
      lines.close();
    }
  }
  process.stderr.write(question);
  input.setRawMode(true);
  input.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = '';
      const onData = (chunk: Buffer) => {
        for (const char of chunk.toString('utf8')) {
          if (char === '\r' || char === '\n') {
            input.off('data', onData);
            return resolve(typed);
          }
          if (char === '\u0003') {
            input.off('data', onData);
            return reject(new Error('cancelled'));
          }
          typed = char === '\u007f' || char === '\b' ? typed.slice(0, -1) : typed + char;
        }
      };
      input.on('data', onData);
    });
  } finally {
    input.setRawMode(false);
    input.pause();
    process.stderr.write('\n');
  }
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        insecure: { type: 'boolean', default: false },
        ca: { type: 'string' },
        person: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(USAGE);
    return 2;
  }
  const url = positionals[0] as string;
  const tls: TlsOptions = {};
  if (values.ca) tls.ca = readFileSync(values.ca);
  if (values.insecure) tls.rejectUnauthorized = false;
  const username = process.env.IDENTITIES_USERNAME || (await ask('username: ', false));
  const password = process.env.IDENTITIES_PASSWORD || (await ask('password: ', true));
  const report = await checkServer({ baseUrl: url, username, password, tls, personId: values.person });
  const tlsNote = !url.startsWith('https:')
    ? 'plain HTTP'
    : values.insecure
      ? 'certificate NOT verified (--insecure)'
      : values.ca
        ? 'certificate verified against --ca'
        : 'certificate verified';
  process.stdout.write(formatReport(report, { url, tls: tlsNote }));
  return clean(report) ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err instanceof ApiError || err instanceof Error ? err.message : String(err));
      process.exitCode = 2;
    },
  );
}
