// The state pane's tabs, cut from what `vgicrr state` prints (replay/state-text.ts) so the
// terminal UI and the command always agree: the text is split into VM headers and sections
// (`  Distributor (vgic-v3)`, `  Interrupts: …`, `  vCPUs`, `  ITS (vgic-its)`, SDEI…), each
// tab takes its sections, and rows that name one thing in the state (an interrupt, a vCPU, a
// redistributor, the ITS) carry its state path (replay/state-path.ts) for `w`. Pure.

import type { StateView } from '../replay/state-view.js';
import type { Tab } from './ui-state.js';

export interface StateRow {
  text: string;
  /** The state path the row shows, when it shows one thing. */
  path?: string;
}

interface Section {
  vm: number;
  header: string;
  lines: string[];
}

const IRQ_ROW = /^ {4}(SGI|PPI|SPI|LPI)\s+(\d+)\s+(\S+)\s/;

function sectionTab(header: string): Tab | 'irq-table' {
  const h = header.trim();
  if (/^SDEI/i.test(h)) return 'sdei';
  if (h.startsWith('ITS')) return 'its';
  if (h.startsWith('Interrupts')) return 'irq-table';
  if (h.startsWith('Distributor') || h.startsWith('vGIC')) return 'irqs';
  return 'vcpu';
}

/** Splits `stateText` lines into per-VM sections. */
function sections(lines: readonly string[]): { headers: Map<number, string>; sections: Section[] } {
  const headers = new Map<number, string>();
  const out: Section[] = [];
  let vm = -1;
  for (const line of lines) {
    const vmHeader = /^VM (\d+)/.exec(line);
    if (vmHeader) {
      vm = Number(vmHeader[1]);
      headers.set(vm, line);
    } else if (/^ {2}\(/.test(line) && out.length > 0) {
      // A header's parenthesised remark wrapped onto its own line.
      out[out.length - 1]!.header += ` ${line.trim()}`;
    } else if (/^ {2}\S/.test(line)) {
      out.push({ vm, header: line, lines: [] });
    } else if (!line.startsWith(' ') && line !== '' && headers.has(vm)) {
      // The VM header's fields wrapped onto another line.
      headers.set(vm, `${headers.get(vm)}  ${line}`);
    } else if (line.trim() !== '' && out.length > 0) {
      out[out.length - 1]!.lines.push(line);
    }
  }
  return { headers, sections: out };
}

/** The rows of `tab` for the state whose view is `view` and text is `lines`. */
export function tabRows(view: StateView, lines: readonly string[], tab: Tab): StateRow[] {
  if (view.vms.length === 0) return [{ text: 'no VM yet (nothing has run)' }];
  const { headers, sections: all } = sections(lines);
  const rows: StateRow[] = [];
  for (const vm of view.vms) {
    const mine = all.filter((s) => s.vm === vm.id);
    const body: StateRow[] = [];
    for (const s of mine) {
      const kind = sectionTab(s.header);
      if (kind === 'irq-table') {
        body.push(...irqTable(vm.id, view, s, tab));
      } else if (tab === 'sdei' && kind === 'vcpu') {
        body.push(...nestedSdei(vm.id, view, s));
      } else if (kind === tab) {
        body.push({ text: s.header, path: sectionPath(vm.id, view, s.header) });
        for (const line of s.lines) body.push({ text: line, path: linePath(vm.id, view, s.header, line) });
      }
    }
    if (body.length === 0) body.push({ text: `  ${emptyNote(tab)}` });
    rows.push({ text: headers.get(vm.id) ?? `VM ${vm.id}` }, ...body);
  }
  return rows;
}

/**
 * SDEI blocks nested in the vCPU entries (a line starting `SDEI` and the lines after it indented
 * as deep or deeper: its wrapped fields and its events), each after its vCPU's line.
 */
function nestedSdei(vm: number, view: StateView, s: Section): StateRow[] {
  const rows: StateRow[] = [];
  let vcpuLine: string | undefined;
  let depth = -1;
  for (const line of s.lines) {
    const indent = line.length - line.trimStart().length;
    if (/^ {4}vCPU \d+\s/.test(line)) vcpuLine = line;
    if (depth >= 0 && indent >= depth) {
      rows.push({ text: line });
      continue;
    }
    depth = -1;
    if (/^\s+SDEI\b/.test(line)) {
      depth = indent;
      if (vcpuLine) rows.push({ text: vcpuLine, path: linePath(vm, view, s.header, vcpuLine) });
      const index = vcpuLine ? vcpuIndex(view, vm, Number(/vCPU (\d+)/.exec(vcpuLine)![1])) : undefined;
      rows.push({
        text: line,
        path: index === undefined ? undefined : `vms[${vm}].vcpus[${index}].devices.sdei`,
      });
    }
  }
  return rows;
}

function emptyNote(tab: Tab): string {
  switch (tab) {
    case 'its':
      return 'no ITS in this VM';
    case 'lpis':
      return 'no LPIs (no ITS, or none mapped)';
    case 'sdei':
      return 'no SDEI state in the state view (SDEI off, or not shown by this build)';
    case 'irqs':
      return 'no vGIC';
    case 'vcpu':
      return 'no vCPU';
  }
}

/** The interrupt table: SGI/PPI/SPI rows go to the IRQs tab, LPI rows to the LPIs tab. */
function irqTable(vm: number, view: StateView, s: Section, tab: Tab): StateRow[] {
  if (tab !== 'irqs' && tab !== 'lpis') return [];
  const rows: StateRow[] = [];
  const wanted: string[] = [];
  for (const line of s.lines) {
    const m = IRQ_ROW.exec(line);
    if (!m) continue;
    if ((m[1] === 'LPI') === (tab === 'lpis')) wanted.push(line);
  }
  if (tab === 'lpis' && wanted.length === 0) return [];
  rows.push({ text: tab === 'lpis' ? '  LPIs' : s.header });
  for (const line of s.lines) {
    const m = IRQ_ROW.exec(line);
    if (!m) rows.push({ text: line });
    else if (wanted.includes(line))
      rows.push({ text: line, path: irqPath(vm, view, m[1]!, Number(m[2]), m[3]!) });
  }
  return rows;
}

function vcpuIndex(view: StateView, vm: number, id: number): number | undefined {
  const i = view.vms.find((v) => v.id === vm)?.vcpus.find((c) => c.id === id)?.index;
  return i;
}

function irqPath(vm: number, view: StateView, kind: string, intid: number, vcpu: string): string | undefined {
  if (kind === 'SPI') return `vms[${vm}].devices.gic.spis[${intid - 32}]`;
  if (kind === 'LPI') return `vms[${vm}].devices.lpis.irqs[${intid}]`;
  const index = vcpuIndex(view, vm, Number(vcpu));
  return index === undefined ? undefined : `vms[${vm}].vcpus[${index}].devices.gic.irqs[${intid}]`;
}

function sectionPath(vm: number, view: StateView, header: string): string | undefined {
  const redist = /Redistributor and CPU interface, vCPU (\d+)/.exec(header);
  if (redist) {
    const index = vcpuIndex(view, vm, Number(redist[1]));
    return index === undefined ? undefined : `vms[${vm}].vcpus[${index}].devices.gic`;
  }
  if (header.trim().startsWith('ITS')) return `vms[${vm}].devices.its`;
  if (header.trim().startsWith('RAM')) return `vms[${vm}].ram`;
  return undefined;
}

function linePath(vm: number, view: StateView, header: string, line: string): string | undefined {
  const vcpu = /^ {4}vCPU (\d+)\s/.exec(line);
  if (vcpu) {
    const index = vcpuIndex(view, vm, Number(vcpu[1]));
    return index === undefined ? undefined : `vms[${vm}].vcpus[${index}].pc`;
  }
  if (/GICD_CTLR/.test(line)) return `vms[${vm}].devices.gic.enabled`;
  if (/GITS_CWRITER/.test(line)) return `vms[${vm}].devices.its.cwriter`;
  return sectionPath(vm, view, header);
}
