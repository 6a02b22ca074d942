// JUnit XML for `vgicrr check --junit FILE`: one <testsuite> per run, one <testcase> per file
// (classname = its folder, name = the file), a failed file carrying a <failure> whose message
// is the first line of its report, whose type is `scenario` or `trace`, and whose text is the whole report (the divergence with
// both sides, or every failed expectation). The layout CI systems read (Jenkins, GitLab,
// GitHub test reporters): testsuites > testsuite > testcase > failure.

import { dirname } from 'node:path';
import type { CheckResult } from './check-file.js';

export function escapeXml(text: string): string {
  // Characters XML 1.0 cannot carry at all (control characters other than tab, LF, CR) are dropped.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to strip them
  const clean = text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '');
  return clean
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

export function junitXml(results: readonly CheckResult[], suite = 'vgicrr check', seconds?: number): string {
  const failures = results.filter((r) => !r.ok).length;
  const total = seconds ?? results.reduce((s, r) => s + r.ms, 0) / 1000;
  const cases = results.map((r) => {
    const attrs = `classname="${escapeXml(dirname(r.file))}" name="${escapeXml(r.file)}" time="${(r.ms / 1000).toFixed(3)}"`;
    if (r.ok) return `    <testcase ${attrs}/>`;
    return [
      `    <testcase ${attrs}>`,
      `      <failure message="${escapeXml(r.message)}" type="${r.kind}">${escapeXml(r.report)}</failure>`,
      '    </testcase>',
    ].join('\n');
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${escapeXml(suite)}" tests="${results.length}" failures="${failures}" errors="0" time="${total.toFixed(3)}">`,
    `  <testsuite name="${escapeXml(suite)}" tests="${results.length}" failures="${failures}" errors="0" skipped="0" time="${total.toFixed(3)}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
