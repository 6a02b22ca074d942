// Primitive events as scenario text (scenario-language.md): what `vgicrr dump --format vgs`
// prints, what divergence reports quote, and what the debugger lists. Parsing the text of an
// event and expanding it gives the same event back (tested), so a trace can become a `.vgs` file.

import {
  ADDR_ATTRS,
  ATTR_GROUPS,
  CTRL_ATTRS,
  MPIDR_ATTR_GROUPS,
  nameOf,
  type RegisterSpace,
  registerAt,
  registerByName,
  SDEI_FUNCTIONS,
  SDEI_ONE_REGS,
} from '../devices/names.js';
import { coreRegIndex } from '../engine/core.js';
import { formatRc } from '../engine/errno.js';
import { CORE_REG_NAMES, type Effect, type EngineEvent, type Output } from '../engine/events.js';

export function hex(value: bigint | number): string {
  const v = typeof value === 'number' ? BigInt(value) : value;
  return v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
}

const REG_SPACE_OF_GROUP: Record<number, RegisterSpace> = {
  [ATTR_GROUPS.DIST_REGS!]: 'gicd',
  [ATTR_GROUPS.REDIST_REGS!]: 'gicr',
  [ATTR_GROUPS.ITS_REGS!]: 'gits',
  [ATTR_GROUPS.CPU_SYSREGS!]: 'icc',
};

/** `NAME+4` for the high word of a 64-bit register (QEMU moves those as two 32-bit halves). */
function highHalf(space: RegisterSpace, offset: number): string | undefined {
  const name = registerAt(space, offset - 4);
  return name && registerByName(name)?.bytes === 8 ? `${name}+4` : undefined;
}

/** `GROUP ATTR` and the ` mpidr=M` option (empty when zero) of a device-attr statement. */
function attrParts(group: number, attr: bigint): { head: string; mpidr: string } {
  const hasMpidr = MPIDR_ATTR_GROUPS.includes(group);
  const low = hasMpidr ? attr & 0xffff_ffffn : attr;
  const mpidr = hasMpidr ? attr >> 32n : 0n;
  let name: string | undefined;
  if (low <= 0xffff_ffffn) {
    const space = REG_SPACE_OF_GROUP[group];
    if (space) name = registerAt(space, Number(low)) ?? highHalf(space, Number(low));
    else if (group === ATTR_GROUPS.ADDR) name = nameOf(ADDR_ATTRS, Number(low));
    else if (group === ATTR_GROUPS.CTRL) name = nameOf(CTRL_ATTRS, Number(low));
  }
  const groupName = nameOf(ATTR_GROUPS, group) ?? String(group);
  return { head: `${groupName} ${name ?? hex(low)}`, mpidr: mpidr !== 0n ? ` mpidr=${hex(mpidr)}` : '' };
}

function attrCall(verb: string, dev: string, group: number, attr: bigint, rest: string): string {
  const { head, mpidr } = attrParts(group, attr);
  return `${verb} ${dev} ${head}${rest}${mpidr}`;
}

function sysregText(encoding: number): string {
  const name = registerAt('icc', encoding);
  if (name) return name;
  const op0 = (encoding >> 14) & 3;
  const op1 = (encoding >> 11) & 7;
  const crn = (encoding >> 7) & 15;
  const crm = (encoding >> 3) & 15;
  const op2 = encoding & 7;
  return `S${op0}_${op1}_C${crn}_C${crm}_${op2}`;
}

function oneRegText(id: bigint): string {
  const core = coreRegIndex(id);
  if (core !== undefined) return CORE_REG_NAMES[core]!;
  for (const [name, value] of Object.entries(SDEI_ONE_REGS)) if (value === id) return name;
  return hex(id);
}

function functionText(id: bigint): string {
  for (const [name, value] of Object.entries(SDEI_FUNCTIONS)) if (BigInt(value) === id) return name;
  return hex(id);
}

function sizeText(size: number): string {
  return size === 4 ? '' : ` size=${size}`;
}

/** The scenario statement that produces exactly `event`. */
export function statementText(event: EngineEvent): string {
  switch (event.type) {
    case 'vm.create':
      return `vm host=${event.host} ipa_bits=${event.ipaBits} sdei=${event.sdei ? 'on' : 'off'}${
        event.quirks.length ? ` quirks=${event.quirks.join(',')}` : ''
      }`;
    case 'vcpu.create':
      return `create_vcpu ${event.vcpu}`;
    case 'device.create':
      return `create_device ${event.kind}`;
    case 'attr.set':
      return attrCall(
        'set_attr',
        event.dev,
        event.group,
        event.attr,
        event.value === null ? '' : ` ${hex(event.value)}`,
      );
    case 'attr.get':
      return attrCall(
        'get_attr',
        event.dev,
        event.group,
        event.attr,
        event.preset === null ? '' : ` index=${hex(event.preset)}`,
      );
    case 'attr.has':
      return attrCall('has_attr', event.dev, event.group, event.attr, '');
    case 'irq.line':
      return event.kind === 'spi'
        ? `irq_line spi ${event.intid} ${event.level}`
        : `irq_line ppi ${event.vcpu} ${event.intid} ${event.level}`;
    case 'msi.signal':
      return `signal_msi ${event.devid} ${event.eventid}`;
    case 'reg.get':
      return `get_reg ${event.vcpu} ${oneRegText(event.reg)}`;
    case 'reg.set':
      return `set_reg ${event.vcpu} ${oneRegText(event.reg)} ${hex(event.value)}`;
    case 'vcpu.run':
      return `run ${event.vcpu}`;
    case 'vcpu.reset':
      return `reset_vcpu ${event.vcpu}`;
    case 'sdei.inject':
      return `sdei_inject ${event.vcpu} ${event.event}`;
    case 'vm.stop':
      return 'stop';
    case 'vm.cont':
      return 'cont';
    case 'guest.read':
      return `vcpu ${event.vcpu} read ${hex(event.addr)}${sizeText(event.size)}`;
    case 'guest.write':
      return `vcpu ${event.vcpu} write ${hex(event.addr)} ${hex(event.value)}${sizeText(event.size)}`;
    case 'guest.mrs':
      return `vcpu ${event.vcpu} mrs ${sysregText(event.sysreg)}`;
    case 'guest.msr':
      return `vcpu ${event.vcpu} msr ${sysregText(event.sysreg)} ${hex(event.value)}`;
    case 'guest.hvc': {
      let n = event.args.length;
      while (n > 1 && event.args[n - 1] === 0n) n--;
      const args = event.args.slice(1, n).map(hex);
      return `vcpu ${event.vcpu} hvc ${functionText(event.args[0] ?? 0n)}${args.length ? ` ${args.join(' ')}` : ''}`;
    }
    case 'guest.reg':
      return `vcpu ${event.vcpu} reg ${CORE_REG_NAMES[event.reg] ?? event.reg}`;
    case 'mem.read':
      return `mem read ${hex(event.addr)}${sizeText(event.size)}`;
    case 'mem.write':
      return `mem write ${hex(event.addr)} ${hex(event.value)}${sizeText(event.size)}`;
    case 'trace.mark':
      return `mark ${event.name}`;
    case 'trace.note':
      return `note ${event.text}`;
    case 'vm.select':
      return `use_vm ${event.vm}`;
    case 'ram.transfer':
      return `ram_transfer ${event.from} ${event.to}`;
    case 'migrate.begin':
      return `migrate_begin vmm=${event.vmm}${event.quirks ? ` quirks=${event.quirks}` : ''}`;
    case 'migrate.end':
      return 'migrate_end';
  }
}

/** `rc=0 value=0x10`, `x0=0x0 x1=…`: an output as `expect` would name its parts. */
export function outputText(output: Output): string {
  const parts: string[] = [];
  if (output.rc !== undefined)
    parts.push(`rc=${output.rc < 0 ? formatRc(output.rc).split(' ')[0] : output.rc}`);
  if (output.value !== undefined) parts.push(`value=${hex(output.value)}`);
  if (output.x) {
    for (let i = 0; i < output.x.length; i++) parts.push(`x${i}=${hex(output.x[i]!)}`);
  }
  return parts.join(' ');
}

export function effectText(effect: Effect): string {
  const fields = Object.keys(effect)
    .filter((k) => k !== 'type')
    .map((k) => {
      const v = effect[k]!;
      return `${k}=${typeof v === 'bigint' ? hex(v) : String(v)}`;
    });
  return [effect.type, ...fields].join(' ');
}
