// vitest integration, published as `vgicrr/vitest` (dist/cli/vitest.js): one test per scenario
// (.vgs, every `expect` checked) and per trace (.vgt, replayed with every output verified) under
// a folder, failing with the same report `vgicrr check` prints (the failed expectations, or the
// first divergence with both sides). In a project's test file:
//
//   import { vgicrrSuite } from 'vgicrr/vitest';
//   vgicrrSuite('traces');                              // every file under traces/, recursively
//   vgicrrSuite('traces/migration', { migrate: true }); // and migrate-check each at every cut
//
// Paths are relative to the working directory vitest runs in (the project root), or absolute.
// It lives under cli/ because it drives the same per-file check as `vgicrr check`
// (cli/check/check-file.ts); it imports `vitest` itself, so only a test file should import it.

import { relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CheckFileOptions, checkFile } from './check/check-file.js';
import { collectFiles } from './check/corpus.js';

export type { CheckFileOptions, CheckResult } from './check/check-file.js';
export { checkFile } from './check/check-file.js';

export interface VgicrrSuiteOptions extends CheckFileOptions {
  /** The `describe` title (default: the paths). */
  title?: string;
  /** Each test's name from the file's path relative to the folder (default: that path). */
  name?: (file: string) => string;
  /** Which files to keep (default: all). */
  filter?: (file: string) => boolean;
}

/**
 * Declares one vitest `describe` with one test per `.vgs`/`.vgt` file under `paths` (files or
 * folders, searched recursively, sorted), plus a test that the folder is not empty. Call it at
 * the top level of a test file. A failing test's message is the file's full check report.
 */
export function vgicrrSuite(paths: string | readonly string[], options: VgicrrSuiteOptions = {}): void {
  const list = typeof paths === 'string' ? [paths] : [...paths];
  const { title, name, filter, ...check } = options;
  const root = list.length === 1 ? list[0]! : '.';
  const files = collectFiles(list).filter((f) => !filter || filter(f));
  describe(title ?? list.join(', '), () => {
    it('finds files to check', () => {
      expect(files.length).toBeGreaterThan(0);
    });
    for (const file of files) {
      const rel = relative(root, file) || file;
      it(name ? name(rel) : rel, () => {
        const result = checkFile(file, check);
        if (!result.ok)
          throw new CheckFailure(result.report.includes(file) ? result.report : `${file}: ${result.report}`);
      });
    }
  });
}

/** The error a failed file's test throws: its message is the check report, without a stack. */
export class CheckFailure extends Error {
  constructor(report: string) {
    super(report);
    this.name = 'CheckFailure';
    this.stack = `${this.name}: ${report}`;
  }
}
