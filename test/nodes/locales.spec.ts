/**
 * The translations of the nodes: every language folder under nodes/locales (found on disk, so that a
 * language added later is checked too) must match en-US, the source language, for every node type
 * in package.json: the same catalog keys, the same __placeholders__ in each string, values that are
 * actually translated, and help with the same outline (help name, sections, message properties,
 * links). These are plain file checks: they need no build and no Node-RED runtime.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const LOCALES = path.join(ROOT, 'nodes', 'locales');
const SOURCE_LANGUAGE = 'en-US';

/**
 * Catalog keys (full key paths, the catalog's top-level namespace included) whose value may be the
 * same as in en-US in any language. Anything else that equals its English value is taken to be
 * untranslated. Keep this list short: it is for names, not for English a translator overlooked.
 */
const SAME_AS_ENGLISH = new Set([
  // Node-RED keeps node type names in English in every language (the core's German palette still
  // says inject, debug, http request), and the help texts refer to the nodes by these names.
  'identities-publish.paletteLabel',
  'identities-recognize.paletteLabel',
  'identities-lookup.paletteLabel',
  'identities-enroll.paletteLabel',
  'identities-compare.paletteLabel',
  'identities-detect.paletteLabel',
  'identities-people.paletteLabel',
  'identities-tags.paletteLabel',
  // Words that German (like most languages) uses as they are; the core's German catalog has the same
  // "Name", "Server", "TLS" and "Proxy".
  'identities-config.label.name',
  'identities-config.label.tls',
  'identities-config.label.proxy',
  'identities.label.name',
  'identities.label.server',
  // The machine-learning term, as the API and the eConnect documentation use it.
  'identities-recognize.label.embeddings',
  'identities-lookup.label.embeddings',
  // Nothing to translate: only placeholders and a unit, or brackets.
  'identities.status.count',
  'identities.status.bytes',
  'identities.errors.subject',
]);

/** Marks a <dt> without a property type: a dialog setting (config node), whose name is translated. */
const SETTING = '(setting)';

interface PackageJson {
  'node-red': { nodes: Record<string, string> };
}

interface HelpOutline {
  helpName: string | undefined;
  sections: number;
  /** The <dt> names of message properties in order, or SETTING for a dialog setting's label. */
  properties: string[];
  links: string[];
  /** The first paragraph, the tooltip, as text. */
  tooltip: string;
}

function relative(file: string): string {
  return path.relative(ROOT, file).split(path.sep).join('/');
}

function readText(file: string): string {
  assert.ok(existsSync(file), `${relative(file)} is missing`);
  return readFileSync(file, 'utf8');
}

function readJson(file: string): unknown {
  const text = readText(file);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    return assert.fail(
      `${relative(file)} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

function nodeTypes(): string[] {
  const pkg = readJson(path.join(ROOT, 'package.json')) as PackageJson;
  return Object.keys(pkg['node-red'].nodes);
}

function translations(): string[] {
  return readdirSync(LOCALES, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name !== SOURCE_LANGUAGE)
    .map((entry) => entry.name)
    .sort();
}

/** Every leaf of a catalog by its dotted key path, e.g. `identities-compare.status.match`. */
function leaves(value: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) leaves(child, prefix ? `${prefix}.${key}` : key, out);
  } else {
    out.set(prefix, value);
  }
  return out;
}

/** The i18next substitutions in a string, e.g. `__count__`, sorted and without repeats. */
function placeholders(text: string): string[] {
  return [...new Set(text.match(/__\w+?__/g) ?? [])].sort();
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function outline(html: string): HelpOutline {
  const properties = [...html.matchAll(/<dt\b[^>]*>([\s\S]*?)<\/dt>/g)].map(([, inner = '']) => {
    const typed = inner.indexOf('<span class="property-type"');
    return typed < 0 ? SETTING : collapse(inner.slice(0, typed));
  });
  const tooltip = /<p>([\s\S]*?)<\/p>/.exec(html)?.[1] ?? '';
  return {
    helpName: /<script type="text\/html" data-help-name="([^"]*)">/.exec(html)?.[1],
    sections: html.match(/<h3[\s>]/g)?.length ?? 0,
    properties,
    links: [...html.matchAll(/href="([^"]*)"/g)].map(([, href = '']) => href),
    tooltip: collapse(tooltip.replace(/<[^>]+>/g, '')),
  };
}

function list(items: Iterable<string>): string {
  return [...items].join(', ') || '(none)';
}

function catalogFile(language: string, type: string): string {
  return path.join(LOCALES, language, `${type}.json`);
}

function helpFile(language: string, type: string): string {
  return path.join(LOCALES, language, `${type}.html`);
}

const TYPES = nodeTypes();
const LANGUAGES = translations();

describe('nodes/locales', () => {
  it(`has a catalog and help in ${SOURCE_LANGUAGE} for every node type, and at least one translation`, () => {
    assert.ok(TYPES.length > 0, 'package.json lists no node types under node-red.nodes');
    for (const type of TYPES) {
      assert.ok(
        existsSync(catalogFile(SOURCE_LANGUAGE, type)),
        `${relative(catalogFile(SOURCE_LANGUAGE, type))} is missing`,
      );
      assert.ok(
        existsSync(helpFile(SOURCE_LANGUAGE, type)),
        `${relative(helpFile(SOURCE_LANGUAGE, type))} is missing`,
      );
    }
    assert.ok(LANGUAGES.length > 0, `no language folder besides ${SOURCE_LANGUAGE} in ${relative(LOCALES)}`);
  });

  it('allows English values only for keys that exist', () => {
    const known = new Set(
      TYPES.flatMap((type) => [...leaves(readJson(catalogFile(SOURCE_LANGUAGE, type))).keys()]),
    );
    const stale = [...SAME_AS_ENGLISH].filter((key) => !known.has(key));
    assert.deepEqual(
      stale,
      [],
      `SAME_AS_ENGLISH names keys that no ${SOURCE_LANGUAGE} catalog has: ${list(stale)}`,
    );
  });

  for (const language of LANGUAGES) {
    describe(language, () => {
      it(`has no files that ${SOURCE_LANGUAGE} lacks`, () => {
        const source = new Set(readdirSync(path.join(LOCALES, SOURCE_LANGUAGE)));
        const extra = readdirSync(path.join(LOCALES, language)).filter((name) => !source.has(name));
        assert.deepEqual(
          extra,
          [],
          `nodes/locales/${language} has files without an ${SOURCE_LANGUAGE} original: ${list(extra)}`,
        );
      });

      for (const type of TYPES) {
        describe(type, () => {
          const catalog = catalogFile(language, type);
          const english = (): Map<string, unknown> => leaves(readJson(catalogFile(SOURCE_LANGUAGE, type)));
          const translated = (): Map<string, unknown> => leaves(readJson(catalog));

          it(`has exactly the catalog keys of ${SOURCE_LANGUAGE}`, () => {
            const source = english();
            const target = translated();
            const missing = [...source.keys()].filter((key) => !target.has(key));
            const extra = [...target.keys()].filter((key) => !source.has(key));
            assert.ok(
              missing.length === 0 && extra.length === 0,
              `${relative(catalog)}: missing keys: ${list(missing)}; extra keys: ${list(extra)}`,
            );
          });

          it(`keeps the __placeholders__ of ${SOURCE_LANGUAGE} in every string`, () => {
            const target = translated();
            const problems: string[] = [];
            for (const [key, sourceValue] of english()) {
              const value = target.get(key);
              if (value === undefined || typeof sourceValue !== 'string') continue;
              if (typeof value !== 'string') {
                problems.push(`${key} is a ${typeof value}, not a string`);
                continue;
              }
              const expected = placeholders(sourceValue);
              const found = placeholders(value);
              if (expected.join() !== found.join()) {
                problems.push(`${key} has ${list(found)} where ${SOURCE_LANGUAGE} has ${list(expected)}`);
              }
            }
            assert.deepEqual(problems, [], `${relative(catalog)}: ${problems.join('; ')}`);
          });

          it('translates every value that is not a name or a technical term', () => {
            const target = translated();
            const untranslated = [...english()]
              .filter(([key, value]) => typeof value === 'string' && target.get(key) === value)
              .filter(([key]) => !SAME_AS_ENGLISH.has(key))
              .map(([key, value]) => `${key} ("${String(value)}")`);
            assert.deepEqual(
              untranslated,
              [],
              `${relative(catalog)}: still the ${SOURCE_LANGUAGE} text (translate it, or add the key to ` +
                `SAME_AS_ENGLISH if it is a name): ${untranslated.join(', ')}`,
            );
          });

          it(`has help with the outline of ${SOURCE_LANGUAGE}`, () => {
            const file = helpFile(language, type);
            const source = outline(readText(helpFile(SOURCE_LANGUAGE, type)));
            const target = outline(readText(file));
            const where = relative(file);
            assert.equal(
              source.helpName,
              type,
              `${relative(helpFile(SOURCE_LANGUAGE, type))}: data-help-name is not ${type}`,
            );
            assert.equal(target.helpName, source.helpName, `${where}: data-help-name`);
            assert.equal(target.sections, source.sections, `${where}: number of <h3> sections`);
            assert.deepEqual(
              target.properties,
              source.properties,
              `${where}: <dt> property names (in order)`,
            );
            assert.deepEqual(target.links, source.links, `${where}: link targets (in order)`);
            assert.notEqual(
              target.tooltip,
              source.tooltip,
              `${where}: the first paragraph (the tooltip) is not translated`,
            );
          });
        });
      }
    });
  }
});
