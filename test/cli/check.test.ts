// `vgicrr check`: in-process with -j 1 (TypeScript sources, no worker threads), and the built
// CLI (bin/vgicrr.js → dist/) with -j 2 on worker threads. The built part rebuilds dist/ when it
// is missing or older than the sources, and is skipped, saying why, if that build fails.

import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collectFiles, parseShard, shardFiles } from '../../cli/check/corpus.js';
import { escapeXml, junitXml } from '../../cli/check/junit.js';
import { headerOf } from '../../cli/commands/run.js';
import { defaultRegistry } from '../../replay/machine.js';
import { createRecorder, memorySink } from '../../replay/recorder.js';
import { parseScenario } from '../../scenario/parser.js';
import { runScenario } from '../../scenario/runner.js';
import { cli } from '../helpers/cli.js';

const ROOT = join(import.meta.dirname, '..', '..');
const GOLDEN = join(ROOT, 'traces', 'golden');
const WORKER = join(ROOT, 'dist', 'cli', 'check', 'worker.js');
const dir = mkdtempSync(join(tmpdir(), 'vgicrr-check-'));

afterAll(() => {
  // left for inspection on failure; the OS cleans tmp
});

/** A folder with two golden traces and a copy of one with a byte flipped inside its first chunk. */
function corruptedCorpus(): { folder: string; bad: string } {
  const folder = join(dir, 'corrupt');
  mkdirSync(folder, { recursive: true });
  copyFileSync(join(GOLDEN, 'v2-gic-spi-edge-uart.vgt'), join(folder, 'a-good.vgt'));
  copyFileSync(join(GOLDEN, 'v2-its-msi-delivery.vgt'), join(folder, 'c-good.vgt'));
  const bytes = readFileSync(join(GOLDEN, 'v2-sdei-register-signal-complete.vgt'));
  bytes[Math.floor(bytes.length * 0.75)]! ^= 0x5a;
  const bad = join(folder, 'b-corrupted.vgt');
  writeFileSync(bad, bytes);
  return { folder, bad };
}

function failureOf(xml: string, name: string): string | undefined {
  const at = xml.indexOf(`name="${name}"`);
  if (at < 0) return undefined;
  const end = xml.indexOf('</testcase>', at);
  const self = xml.indexOf('/>', at);
  if (self >= 0 && (end < 0 || self < xml.indexOf('>', at) + 1)) return undefined;
  return xml.slice(at, end);
}

describe('vgicrr check, in-process (-j 1)', () => {
  it('passes the GIC corpus and writes one JUnit test case per file', async () => {
    const junit = join(dir, 'gic.xml');
    const r = await cli('check', 'traces/corpus/gic', '-j', '1', '--junit', junit);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const files = collectFiles(['traces/corpus/gic']);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('ok ')).length).toBe(files.length);
    expect(r.stdout).toContain(`${files.length} file(s): ${files.length} passed`);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites /);
    expect(xml.match(/<testcase /g)?.length).toBe(files.length);
    expect(xml).not.toContain('<failure');
    expect(xml).toContain(`<testcase classname="traces/corpus/gic" name="${files[0]}" time="`);
  });

  it('fails on a corrupted trace, naming it in the output and the JUnit report', async () => {
    const { folder, bad } = corruptedCorpus();
    const junit = join(dir, 'corrupt.xml');
    const r = await cli('check', folder, '-j', '1', '--junit', junit);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`FAIL  ${bad}: `);
    expect(r.stdout).toContain('1 failed, 2 passed');
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toContain('tests="3" failures="1"');
    expect(failureOf(xml, bad)).toMatch(
      /^name="[^"]*b-corrupted\.vgt".*\n\s*<failure message="[^"]*checksum mismatch/,
    );
    expect(failureOf(xml, join(folder, 'a-good.vgt'))).toBeUndefined();
  });

  it('reports a trace whose recorded output the engine no longer produces, with both sides', async () => {
    // A well-formed trace (every checksum right) in which the IAR read of event #N recorded
    // INTID 36 as 37: what a behaviour change in a later build looks like to `check`.
    const source = join(ROOT, 'traces', 'corpus', 'gic', 'spi-edge-uart.vgs');
    const scenario = parseScenario(readFileSync(source, 'utf8'), source);
    const sink = memorySink();
    const recorder = createRecorder(sink, headerOf(scenario));
    let position = 0;
    let altered = 0;
    runScenario(scenario, {
      registry: defaultRegistry(),
      onFrame: (frame, machine) => {
        position++;
        const iar = frame.event.type === 'guest.mrs' && frame.output.value === 36n && !altered;
        if (iar) altered = position;
        recorder.onFrame(iar ? { ...frame, output: { ...frame.output, value: 37n } } : frame, machine);
      },
    });
    recorder.finish();
    expect(altered).toBeGreaterThan(0);
    const folder = join(dir, 'diverged');
    mkdirSync(folder, { recursive: true });
    const trace = join(folder, 'uart.vgt');
    writeFileSync(trace, sink.bytes());
    const junit = join(dir, 'diverged.xml');
    const r = await cli('check', folder, '-j', '1', '--junit', junit);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`FAIL  ${trace}: diverged at #${altered} (output): vcpu 0 mrs ICC_IAR1_EL1`);
    expect(r.stdout).toContain('        expected: value=0x25');
    expect(r.stdout).toContain('        got:      value=0x24');
    const failure = failureOf(readFileSync(junit, 'utf8'), trace);
    expect(failure).toContain(
      `<failure message="diverged at #${altered} (output): vcpu 0 mrs ICC_IAR1_EL1" type="trace">`,
    );
    expect(failure).toContain('  expected: value=0x25\n  got:      value=0x24</failure>');
  });

  it('reports every failed expectation of a scenario', async () => {
    const folder = join(dir, 'failing');
    mkdirSync(folder, { recursive: true });
    writeFileSync(
      join(folder, 'bad.vgs'),
      'board virt vcpus=1 its=off\nrun 0\nvcpu 0 mrs ICC_IAR1_EL1 expect 40\nvcpu 0 mrs ICC_PMR_EL1 expect 0xf0\n',
    );
    const r = await cli('check', folder, '-j', '1', '--json');
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout);
    expect(json).toMatchObject({ ok: false, files: 1, failed: 1, passed: 0, shard: null });
    expect(json.results[0].message).toBe('2 of 2 expectations failed');
    expect(json.results[0].report).toContain('bad.vgs:3: expected 0x28, got 0x3ff');
    expect(json.results[0].report).toContain('bad.vgs:4: ');
  });

  it('migrate-checks every cut with --migrate', async () => {
    const r = await cli(
      'check',
      'traces/corpus/sdei/complete-and-resume.vgs',
      '--migrate',
      '-j',
      '1',
      '--json',
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).results[0].cuts).toBeGreaterThan(5);
  });

  it('splits a corpus into disjoint, deterministic shards', async () => {
    const all = collectFiles(['traces']);
    const shards = [1, 2, 3].map((i) => shardFiles(all, parseShard(`${i}/3`)));
    expect(shards.flat().sort()).toEqual([...all].sort());
    expect(shards[1]![0]).toBe(all[1]);
    expect(shardFiles(all, parseShard('2/3'))).toEqual(shards[1]);
    const r = await cli('check', 'traces/corpus/its', '--shard', '2/4', '-j', '1', '--json');
    expect(r.code).toBe(0);
    const its = collectFiles(['traces/corpus/its']);
    expect(JSON.parse(r.stdout).results.map((x: { file: string }) => x.file)).toEqual(
      its.filter((_f, k) => k % 4 === 1),
    );
  });

  it.each([
    [['check'], 'one or more files'],
    [['check', 'traces/demo', '-j', '0'], '-j takes'],
    [['check', 'traces/demo', '--shard', '3/2'], '--shard takes i/n'],
    [['check', 'traces/demo', '--vmm', 'xen'], 'unknown VMM'],
    [['check', 'no/such/folder'], 'cannot read no/such/folder'],
    [['check', 'README.md'], 'not a scenario'],
    [['check', 'traces/demo/tour.vgs', '-j', '1', '--junit', '/nonexistent/dir/out.xml'], 'cannot write'],
  ])('%j is a usage or input error (exit 2)', async (argv, message) => {
    const r = await cli(...argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('escapes XML in JUnit reports', () => {
    expect(escapeXml(`a<b>&"c'\u0001`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
    const xml = junitXml([
      {
        file: 'x/<y>.vgs',
        kind: 'scenario',
        ok: false,
        events: 1,
        expectations: 1,
        cuts: 0,
        message: 'expected "a" & got <b>',
        report: 'expected "a" & got <b>\nmore',
        warnings: [],
        ms: 1.5,
      },
    ]);
    expect(xml).toContain('name="x/&lt;y&gt;.vgs" time="0.002"');
    expect(xml).toContain('<failure message="expected &quot;a&quot; &amp; got &lt;b&gt;" type="scenario">');
  });
});

/** Builds dist/ when it is missing or older than any source; the reason it cannot be used, if any. */
function ensureDist(): string | undefined {
  const newest = (d: string): number =>
    Math.max(
      0,
      ...readdirSync(d, { withFileTypes: true }).map((e) =>
        e.isDirectory()
          ? newest(join(d, e.name))
          : e.name.endsWith('.ts')
            ? statSync(join(d, e.name)).mtimeMs
            : 0,
      ),
    );
  const sources = Math.max(
    ...['cli', 'replay', 'scenario', 'engine', 'devices'].map((d) => newest(join(ROOT, d))),
  );
  if (!existsSync(WORKER) || statSync(WORKER).mtimeMs < sources) {
    try {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'ignore' });
    } catch {
      // tsc emits despite type errors elsewhere; the worker file decides below
    }
  }
  if (!existsSync(WORKER) || statSync(WORKER).mtimeMs < sources)
    return 'dist/ is missing or stale and `npm run build` did not refresh it';
  return undefined;
}

const noDist = ensureDist();

describe.skipIf(noDist !== undefined)(
  `vgicrr check, built CLI with worker threads (-j 2)${noDist ? ` — skipped: ${noDist}` : ''}`,
  () => {
    const run = (...argv: string[]) =>
      spawnSync(process.execPath, [join(ROOT, 'bin', 'vgicrr.js'), ...argv], { cwd: ROOT, encoding: 'utf8' });

    it('passes the whole of traces/ and writes the JUnit report', () => {
      const junit = join(dir, 'all.xml');
      const r = run('check', 'traces/', '-j', '2', '--junit', junit);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/file\(s\): \d+ passed in [\d.]+ s \(-j 2\)/);
      const xml = readFileSync(junit, 'utf8');
      expect(xml.match(/<testcase /g)?.length).toBe(collectFiles(['traces']).length);
      expect(xml).not.toContain('<failure');
    });

    it('fails on a corrupted copy of a trace and names it in the JUnit report', () => {
      const { folder, bad } = corruptedCorpus();
      const junit = join(dir, 'corrupt-j2.xml');
      const r = run('check', folder, '-j', '2', '--junit', junit);
      expect(r.status).toBe(1);
      expect(r.stdout).toContain(`FAIL  ${bad}: `);
      // In path order whatever order the workers finished in.
      expect(r.stdout.indexOf('a-good.vgt')).toBeLessThan(r.stdout.indexOf('b-corrupted.vgt'));
      expect(r.stdout.indexOf('b-corrupted.vgt')).toBeLessThan(r.stdout.indexOf('c-good.vgt'));
      expect(failureOf(readFileSync(junit, 'utf8'), bad)).toContain('<failure message=');
    });
  },
);
