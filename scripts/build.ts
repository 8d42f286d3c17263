/**
 * The build: tsc emits CommonJS into dist/, then each node's .html, the locales and the icons are
 * copied beside the compiled nodes, where Node-RED looks for them.
 */
import { execFileSync } from 'node:child_process';
import { cp, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist');

async function build(): Promise<void> {
  await rm(DIST, { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')],
    {
      stdio: 'inherit',
    },
  );
  const nodes = path.join(ROOT, 'nodes');
  for (const entry of await readdir(nodes)) {
    if (entry.endsWith('.html')) await cp(path.join(nodes, entry), path.join(DIST, 'nodes', entry));
  }
  await cp(path.join(nodes, 'locales'), path.join(DIST, 'nodes', 'locales'), { recursive: true });
  await cp(path.join(ROOT, 'icons'), path.join(DIST, 'nodes', 'icons'), { recursive: true });
}

build().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
