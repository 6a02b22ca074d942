// A seeded, realistic-shaped event stream for the benchmarks: a 4-vCPU VM whose guests mostly
// touch RAM, poke GIC frames and CPU-interface registers, make hypercalls, and are stopped and
// resumed by the VMM now and then. Deterministic: the same seed gives the same events.

import { registerByName } from '../devices/names.js';
import { CORE_REG_PC, coreRegX } from '../engine/core.js';
import type { AccessSize, EngineEvent } from '../engine/events.js';

/** mulberry32: a small seeded PRNG (no Math.random anywhere near the engine). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SIZES: AccessSize[] = [1, 2, 4, 8];
const SYSREGS = ['ICC_IAR1_EL1', 'ICC_EOIR1_EL1', 'ICC_PMR_EL1', 'ICC_HPPIR1_EL1', 'ICC_SGI1R_EL1'].map(
  (n) => registerByName(n)!.offset,
);

export function workload(seed: number, count: number): EngineEvent[] {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const vcpus = 4;
  const events: EngineEvent[] = [{ type: 'vm.create', host: 'gicv3', quirks: [], ipaBits: 40, sdei: true }];
  for (let v = 0; v < vcpus; v++) events.push({ type: 'vcpu.create', vcpu: v });
  for (let v = 0; v < vcpus; v++) events.push({ type: 'vcpu.run', vcpu: v });
  let stopped = false;
  // A working set of a few hundred pages, as a guest kernel's hot data would be.
  const ramAddr = () => BigInt(0x4000_0000 + Math.floor(rand() * 256) * 4096 + Math.floor(rand() * 4096 - 8));
  while (events.length < count) {
    const vcpu = Math.floor(rand() * vcpus);
    const r = rand();
    if (stopped) {
      const s = rand();
      if (s < 0.4)
        events.push({
          type: 'reg.get',
          vcpu,
          reg: s < 0.2 ? CORE_REG_PC : coreRegX(Math.floor(rand() * 31)),
        });
      else if (s < 0.6)
        events.push({
          type: 'reg.set',
          vcpu,
          reg: coreRegX(Math.floor(rand() * 31)),
          value: BigInt(Math.floor(rand() * 2 ** 32)),
        });
      else if (s < 0.8) events.push({ type: 'mem.read', addr: ramAddr(), size: 8 });
      else {
        events.push({ type: 'vm.cont' });
        stopped = false;
      }
    } else if (r < 0.4) {
      const size = pick(SIZES);
      events.push({
        type: 'guest.write',
        vcpu,
        addr: ramAddr(),
        value: BigInt(Math.floor(rand() * 2 ** Math.min(32, size * 8))),
        size,
      });
    } else if (r < 0.65) {
      events.push({ type: 'guest.read', vcpu, addr: ramAddr(), size: pick(SIZES) });
    } else if (r < 0.8) {
      const addr = BigInt(0x0800_0000 + Math.floor(rand() * 0x100) * 4);
      events.push(
        rand() < 0.5
          ? { type: 'guest.read', vcpu, addr, size: 4 }
          : { type: 'guest.write', vcpu, addr, value: BigInt(Math.floor(rand() * 0x100)), size: 4 },
      );
    } else if (r < 0.93) {
      const sysreg = pick(SYSREGS);
      events.push(
        rand() < 0.6
          ? { type: 'guest.mrs', vcpu, sysreg }
          : { type: 'guest.msr', vcpu, sysreg, value: BigInt(Math.floor(rand() * 1024)) },
      );
    } else if (r < 0.99) {
      events.push({
        type: 'guest.hvc',
        vcpu,
        args: [BigInt(0xc400_0020 + Math.floor(rand() * 19)), BigInt(Math.floor(rand() * 2)), 0n, 0n, 0n, 0n],
      });
    } else if (r < 0.998) {
      events.push({ type: 'guest.reg', vcpu, reg: Math.floor(rand() * 33) });
    } else {
      events.push({ type: 'vm.stop' });
      stopped = true;
    }
  }
  return events.slice(0, count);
}
