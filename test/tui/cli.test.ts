import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { DEMO } from './demo-trace.js';

describe('vgicrr tui without a terminal', () => {
  it('prints a one-screen summary of a scenario and exits 0', async () => {
    const r = await cli('tui', DEMO);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toContain('no terminal: summary only');
    expect(r.stdout).toMatch(/events {6}49 in 1 chunk\(s\)/);
    expect(r.stdout).toMatch(/marks {7}booted #24, stopped #40/);
    expect(r.stdout).toMatch(/divergence {2}none \(49 events replayed/);
    expect(r.stdout).toContain('#49  vcpu 0 mrs ICC_IAR1_EL1  → value=0x28');
    expect(lines.length).toBeLessThanOrEqual(24);
  });

  it('takes exactly one input', async () => {
    const r = await cli('tui');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('tui takes one trace or scenario');
  });

  it('is listed in the usage and has help', async () => {
    expect((await cli('--help')).stdout).toMatch(/^ {2}tui +time-travel debugger/m);
    expect((await cli('tui', '--help')).stdout).toContain('Usage: vgicrr tui TRACE|FILE.vgs');
  });
});
