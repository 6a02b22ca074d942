// Linux errno values (include/uapi/asm-generic/errno-base.h, errno.h) as KVM returns them, negated.

export const EPERM = 1;
export const ENOENT = 2;
export const EIO = 5;
export const ENXIO = 6;
export const E2BIG = 7;
export const EBADF = 9;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const EOPNOTSUPP = 95;

/** Errno names accepted in scenarios (with a leading minus) and printed in reports. */
export const ERRNO_NAMES: Readonly<Record<string, number>> = {
  EPERM,
  ENOENT,
  EIO,
  ENXIO,
  E2BIG,
  EBADF,
  ENOMEM,
  EACCES,
  EFAULT,
  EBUSY,
  EEXIST,
  ENODEV,
  EINVAL,
  EOPNOTSUPP,
};

const BY_VALUE: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(ERRNO_NAMES).map(([name, value]) => [value, name]),
);

/** `-EINVAL (-22)` for a known negative errno, the plain number otherwise. */
export function formatRc(rc: number): string {
  const name = rc < 0 ? BY_VALUE[-rc] : undefined;
  return name ? `-${name} (${rc})` : String(rc);
}
