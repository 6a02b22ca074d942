import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../tui/App.js';
import { demoController } from './demo-trace.js';

const WIDTH = 100;
const HEIGHT = 30;

const KEYS: Record<string, string> = {
  right: '\u001B[C',
  left: '\u001B[D',
  down: '\u001B[B',
  tab: '\t',
  enter: '\r',
  escape: '\u001B',
};

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

/** Lets Ink read stdin and re-render (no timers: only the event loop's turns). */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function open() {
  const { controller, flush } = demoController();
  const app = render(<App controller={controller} width={WIDTH} height={HEIGHT} color={false} />);
  cleanup = app.unmount;
  await settle();
  const press = async (...keys: string[]) => {
    for (const key of keys) {
      app.stdin.write(KEYS[key] ?? key);
      await settle();
      flush();
      await settle();
    }
  };
  const frame = () => app.lastFrame() ?? '';
  const status = () => frame().split('\n').at(-2) ?? '';
  const bottom = () => frame().split('\n').at(-1) ?? '';
  return { app, controller, press, frame, status, bottom };
}

describe('tui app on the demo trace (100×30, no colour)', () => {
  it('first frame: event list at #0, IRQ tab, empty diff, status and hints', async () => {
    const { frame, status, bottom } = await open();
    const lines = frame().split('\n');
    expect(lines).toHaveLength(HEIGHT);
    expect(lines[0]).toMatch(/^Events \(49\)\s+\|\[Distributor IRQs\] vCPU {2}ITS {2}LPIs {2}SDEI/);
    expect(lines[1]).toMatch(/^> *#0 \(initial state\)/);
    expect(lines[2]).toContain('#1 vm host=gicv3 ipa_bits=40 sdei=on  -> rc=0');
    expect(frame()).toContain('no VM yet (nothing has run)');
    expect(frame()).toContain('Changes: none at #0 (the initial state)');
    expect(status()).toMatch(/^ #0\/49 \| mark - \| no VM \| Distributor IRQs/);
    expect(bottom()).toMatch(/^l\/h step/);
  });

  it('l, ->, h, ← step; L, 0 and G jump', async () => {
    const { press, status, frame } = await open();
    await press('l', 'l', 'l');
    expect(status()).toMatch(/^ #3\/49 /);
    expect(frame()).toMatch(/> *#3 create_vcpu 1/);
    await press('h');
    expect(status()).toMatch(/^ #2\/49 /);
    await press('right', 'right', 'left');
    expect(status()).toMatch(/^ #3\/49 /);
    await press('G');
    expect(status()).toMatch(/^ #49\/49 \| mark stopped\+9 \| VM 0 /);
    await press('0');
    expect(status()).toMatch(/^ #0\/49 /);
    await press('L');
    expect(status()).toMatch(/^ #49\/49 /);
  });

  it('the diff pane lists what the current event changed, old -> new', async () => {
    const { press, frame } = await open();
    await press('g', ...'27', 'enter');
    expect(frame()).toContain('Changed by #27 irq_line spi 40 1');
    expect(frame()).toMatch(/vms\[0\]\.devices\.gic\.spis\[8\]\.pendingLatch {2}false -> true/);
  });

  it('state pane tabs: IRQ table, vCPU, ITS, LPIs, SDEI', async () => {
    const { press, frame, status } = await open();
    await press('g', ...'stopped', 'enter');
    expect(status()).toMatch(/^ #40\/49 \| mark stopped \| VM 0 \| Distributor IRQs/);
    expect(frame()).toContain('Distributor (vgic-v3)');
    expect(frame()).toMatch(/TYPE INTID VCPU PLAEHCG/);
    expect(frame()).toMatch(/SPI {5}40 {4}- P\.\.E\.\.G 0xa0/);
    await press('tab');
    expect(frame()).toContain('[vCPU]');
    expect(frame()).toMatch(/vCPU 0 {2}MPIDR 0x80000000 {2}stopped/);
    expect(frame()).toMatch(/vCPU 1 {2}MPIDR 0x80000001 {2}stopped/);
    await press('tab');
    expect(frame()).toContain('[ITS]');
    expect(frame()).toContain('no ITS in this VM');
    await press('tab');
    expect(frame()).toContain('[LPIs]');
    expect(frame()).toContain('no LPIs');
    await press('tab');
    expect(frame()).toContain('[SDEI]');
    expect(status()).toContain('| SDEI');
    expect(frame()).toMatch(/vCPU 0 {2}MPIDR 0x80000000/);
    expect(frame()).toMatch(/SDEI PE masked/);
  });

  it('/ condition then c and C land on the hits; a bad condition shows its column', async () => {
    const { press, status, bottom } = await open();
    await press('/', ...'position = 1', 'enter');
    expect(bottom()).toContain("column 10: expected '==' (comparison), not '='");
    await press('escape', '/', ...'vms[0].devices.gic.spis[8].pendingLatch', 'enter');
    expect(bottom()).toContain('c next, C previous');
    await press('c');
    expect(status()).toMatch(/^ #27\/49 /);
    expect(bottom()).toContain('#27: vms[0].devices.gic.spis[8].pendingLatch');
    await press('c');
    expect(status()).toMatch(/^ #37\/49 /);
    await press('c');
    expect(status()).toMatch(/^ #37\/49 /);
    expect(bottom()).toMatch(/no position after #37/);
    await press('C');
    expect(status()).toMatch(/^ #27\/49 /);
  });

  it('w watches the selected row; ] and [ jump to its changes', async () => {
    const { press, status, frame, bottom } = await open();
    await press('g', ...'30', 'enter');
    for (let i = 0; i < 30 && !/> *SPI/.test(frame()); i++) await press('j');
    expect(frame()).toMatch(/> *SPI {5}40/);
    await press('w');
    expect(bottom()).toContain('watching vms[0].devices.gic.spis[8]');
    expect(status()).toContain('watch vms[0].devices.gic.spis[8]');
    await press(']');
    expect(status()).toMatch(/^ #32\/49 /);
    await press('[');
    expect(status()).toMatch(/^ #29\/49 /);
    await press('[', '[');
    expect(status()).toMatch(/^ #26\/49 /);
  });

  it("m sets a mark shown in the list and status; ' jumps back to it; d diffs against it", async () => {
    const { press, status, frame } = await open();
    await press('g', ...'29', 'enter', 'm', 'enter');
    expect(frame()).toMatch(/> *#29 'a vcpu 0 mrs ICC_IAR1_EL1/);
    expect(status()).toContain('mark a |');
    await press('l', 'l');
    expect(status()).toContain('mark a+2 |');
    await press('G', "'", 'a', 'enter');
    expect(status()).toMatch(/^ #29\/49 /);
    await press('G', 'd', 'a', 'enter');
    expect(frame()).toContain('Diff a (#29) -> #49');
    expect(status()).toContain('diff vs a');
    await press('d');
    expect(frame()).toContain('Changed by #49');
  });

  it('? shows the key help over the panes; any key closes it; q exits', async () => {
    const { press, frame, controller } = await open();
    await press('?');
    expect(frame()).toContain('Keys');
    expect(frame()).toMatch(/\[ {2}\] {6}previous \/ next change of the watched path/);
    expect(frame()).not.toContain('Events (49)');
    await press('escape');
    expect(frame()).toContain('Events (49)');
    let quit = false;
    controller.onQuit(() => {
      quit = true;
    });
    await press('q');
    expect(quit).toBe(true);
  });
});
