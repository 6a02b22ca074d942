import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import type { MachineState } from '../../engine/state.js';
import { keyName } from '../../tui/keys.js';
import { Layout } from '../../tui/Layout.js';
import { fit, valueText, vmLabel } from '../../tui/screen.js';
import { demoController } from './demo-trace.js';

describe('tui screen pieces', () => {
  it('shows source/destination once there are two VMs, else the VM index', () => {
    const vm = (current: number, n: number) =>
      ({ current, vms: Array(n).fill({}) }) as unknown as MachineState;
    expect(vmLabel(vm(-1, 0))).toBe('no VM');
    expect(vmLabel(vm(0, 1))).toBe('VM 0');
    expect(vmLabel(vm(0, 2))).toBe('source');
    expect(vmLabel(vm(1, 2))).toBe('destination');
  });

  it('fits text to a width and formats values', () => {
    expect(fit('abcdef', 4)).toBe('abc~');
    expect(fit('ab', 4)).toBe('ab  ');
    expect(valueText(0x28n)).toBe('0x28');
    expect(valueText(undefined)).toBe('(absent)');
    expect(valueText('x')).toBe('"x"');
    expect(valueText([1, 2])).toBe('[2 items]');
    expect(valueText(true)).toBe('true');
  });

  it('names keys', () => {
    expect(keyName('', { leftArrow: true })).toBe('left');
    expect(keyName('', { tab: true, shift: true })).toBe('shift-tab');
    expect(keyName('', { return: true })).toBe('enter');
    expect(keyName('', { delete: true })).toBe('backspace');
    expect(keyName('c', { ctrl: true })).toBe('ctrl-c');
    expect(keyName('x', { ctrl: true })).toBeUndefined();
    expect(keyName(' ', {})).toBe('space');
    expect(keyName('G', { shift: true })).toBe('G');
  });

  it('draws every line at the fixed width; colour only when asked (NO_COLOR path has no escapes)', () => {
    const { controller } = demoController();
    controller.key('G');
    const screen = controller.screen(80, 24);
    const plain = render(<Layout screen={screen} color={false} />);
    const lines = plain.lastFrame()!.split('\n');
    expect(lines).toHaveLength(24);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    expect(plain.lastFrame()).not.toContain('\u001b[');
    expect(lines[0]).toMatch(/^Events \(49\) +\|\[IRQs\] vCPU {2}ITS {2}LPIs {2}SDEI/);
    expect(lines.at(-2)).toMatch(/^ #49\/49 \| mark stopped\+9 \| VM 0 \| Distributor IRQs/);
    plain.unmount();
    const coloured = render(<Layout screen={screen} color={true} />);
    const strip = (t: string) => t.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '');
    expect(strip(coloured.lastFrame()!)).toBe(lines.join('\n'));
    coloured.unmount();
  });
});

describe('tui state tabs at a narrow width', () => {
  it('keeps wrapped SDEI fields in the SDEI tab', async () => {
    const { tabRows } = await import('../../tui/state-tabs.js');
    const { stateText } = await import('../../replay/state-text.js');
    const { stateView } = await import('../../replay/state-view.js');
    const { controller } = demoController();
    controller.key('G');
    const view = stateView(controller.player.state);
    // The vCPU lines (path …pc) introduce each block; their own fields wrap differently.
    const sdeiRows = (width: number) =>
      tabRows(view, stateText(view, { width }), 'sdei')
        .filter((r) => !r.path?.endsWith('.pc'))
        .map((r) => r.text.trim());
    const narrow = sdeiRows(40);
    const wide = sdeiRows(200);
    expect(wide.join(' ').replace(/\s+/g, ' ')).toContain('SDEI');
    // The same words whatever the wrapping.
    const words = (rows: string[]) => rows.join(' ').split(/\s+/).sort();
    expect(words(narrow.slice(1))).toEqual(words(wide.slice(1)));
  });
});
