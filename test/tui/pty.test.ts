// Drives the real program (bin/vgicrr.js → dist/) in a pseudo-terminal through tmux: keys in,
// screen out (capture-pane), polling with a timeout. Needs `npm run build` first (the test
// builds when dist/ is missing or older than tui/). Skipped, with the reason, without tmux.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const TMUX = ['/usr/bin/tmux', '/usr/local/bin/tmux'].find((p) => existsSync(p));
const SOCKET = `vgicrr-tui-${process.pid}-${Date.now().toString(36)}`;
const SESSION = 'tui';
const DIST = join(ROOT, 'dist', 'tui', 'run.js');

function tmux(...args: string[]): string {
  return execFileSync(TMUX!, ['-L', SOCKET, ...args], { encoding: 'utf8' });
}

function screen(): string {
  return tmux('capture-pane', '-p', '-t', SESSION);
}

/** Polls the pane until `test` accepts it; fails with the last screen after `timeoutMs`. */
async function waitFor(test: (text: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < end) {
    text = screen();
    if (test(text)) return text;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}; screen:\n${text}`);
}

const statusShows = (n: number) => (text: string) => new RegExp(`^ #${n}/49 `, 'm').test(text);

let dir = '';

describe.skipIf(!TMUX)('vgicrr tui in a pseudo-terminal (tmux)', () => {
  beforeAll(() => {
    const sources = readdirSync(join(ROOT, 'tui')).map((f) => join(ROOT, 'tui', f));
    sources.push(join(ROOT, 'replay', 'condition.ts'), join(ROOT, 'cli', 'commands', 'tui.ts'));
    const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs));
    const stale = !existsSync(DIST) || statSync(DIST).mtimeMs < newest;
    if (stale) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'ignore' });
    dir = mkdtempSync(join(tmpdir(), 'vgicrr-tui-'));
    const status = join(dir, 'status');
    const env = { ...process.env };
    delete env.CI;
    // The shell writes the program's exit status where the test can read it.
    tmux(
      'new-session',
      '-d',
      '-s',
      SESSION,
      '-x',
      '100',
      '-y',
      '30',
      '-e',
      'NO_COLOR=1',
      `env -u CI node ${join(ROOT, 'bin', 'vgicrr.js')} tui ${join(ROOT, 'traces', 'demo', 'demo.vgs')}; echo $? > ${status}; sleep 30`,
    );
  }, 120_000);

  afterAll(() => {
    spawnSync(TMUX!, ['-L', SOCKET, 'kill-server']);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('steps, jumps, searches and quits with status 0', async () => {
    await waitFor(statusShows(0), 'the first frame');
    for (const _ of [1, 2, 3]) tmux('send-keys', '-t', SESSION, 'l');
    await waitFor(statusShows(3), '#3 after l l l');
    tmux('send-keys', '-t', SESSION, 'h');
    await waitFor(statusShows(2), '#2 after h');
    tmux('send-keys', '-t', SESSION, 'G');
    await waitFor(statusShows(49), '#49 after G');
    tmux('send-keys', '-t', SESSION, '0');
    await waitFor(statusShows(0), '#0 after 0');
    tmux('send-keys', '-t', SESSION, '/');
    await waitFor((t) => t.includes('search condition:'), 'the search prompt');
    tmux('send-keys', '-t', SESSION, '-l', 'event.type == "guest.mrs" && output.value == 0x28');
    tmux('send-keys', '-t', SESSION, 'Enter');
    await waitFor((t) => t.includes('c next, C previous'), 'the condition accepted');
    tmux('send-keys', '-t', SESSION, 'c');
    await waitFor(statusShows(29), 'the first hit, #29');
    tmux('send-keys', '-t', SESSION, 'c');
    await waitFor(statusShows(49), 'the second hit, #49');
    tmux('send-keys', '-t', SESSION, 'q');
    const status = join(dir, 'status');
    const end = Date.now() + 15_000;
    while (!existsSync(status) && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(readFileSync(status, 'utf8').trim()).toBe('0');
  }, 120_000);
});

if (!TMUX) {
  describe('vgicrr tui in a pseudo-terminal', () => {
    it.skip('skipped: tmux is not installed (looked in /usr/bin and /usr/local/bin)', () => {});
  });
}
