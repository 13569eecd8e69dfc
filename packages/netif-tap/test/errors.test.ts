import { UnsupportedError } from '@morgana/core';
import { describe, expect, it } from 'vitest';
import { explainOpenError } from '../src/tap.js';

function errnoError(code: string, syscall: string, message: string): Error {
  return Object.assign(new Error(message), { code, syscall });
}

describe('openTap error messages', () => {
  it('names the missing /dev/net/tun and how to get it', () => {
    const error = explainOpenError(errnoError('ENOENT', 'open', 'cannot open /dev/net/tun: No such file'), 'tap0', undefined);
    expect(error).toBeInstanceOf(UnsupportedError);
    expect(error.message).toMatch(/\/dev\/net\/tun is missing.*modprobe tun.*--device \/dev\/net\/tun/);
  });

  it('names CAP_NET_ADMIN when TUNSETIFF is not permitted', () => {
    const error = explainOpenError(errnoError('EPERM', 'ioctl(TUNSETIFF)', 'cannot attach'), 'tap0', undefined);
    expect(error).toBeInstanceOf(UnsupportedError);
    expect(error.message).toMatch(/not permitted to attach TAP device tap0 \(EPERM.*CAP_NET_ADMIN.*ip tuntap add dev tap0 mode tap user/);
  });

  it('says when /dev/net/tun is there but not accessible', () => {
    const error = explainOpenError(errnoError('EACCES', 'open', 'cannot open /dev/net/tun: Permission denied'), 'tap0', undefined);
    expect(error.message).toMatch(/not accessible to this user/);
  });

  it('tells how to create a missing device, and in which namespace', () => {
    const error = explainOpenError(errnoError('ENODEV', 'if_nametoindex', 'no such network device'), 'tap9', 'test-ns');
    expect(error.message).toBe(
      'no TAP device named tap9 in network namespace test-ns: create it (`ip tuntap add dev tap9 mode tap`) or pass create: true',
    );
  });

  it('explains a TUN device, a busy device, a bad MTU and a missing namespace', () => {
    expect(explainOpenError(errnoError('EINVAL', 'ioctl(TUNSETIFF)', 'x'), 'tun0', undefined).message).toMatch(/not a TAP device/);
    expect(explainOpenError(errnoError('EBUSY', 'ioctl(TUNSETIFF)', 'x'), 'tap0', undefined).message).toMatch(/already attached/);
    expect(explainOpenError(errnoError('EINVAL', 'ioctl(SIOCSIFMTU)', 'x'), 'tap0', undefined).message).toMatch(/68 to 65521/);
    expect(explainOpenError(errnoError('ENOENT', 'open', 'cannot open the network namespace'), 'tap0', 'gone').message).toMatch(
      /no network namespace gone \(\/run\/netns\/gone does not exist\)/,
    );
    expect(explainOpenError(errnoError('EPERM', 'setns', 'cannot enter'), 'tap0', 'ns1').message).toMatch(/CAP_SYS_ADMIN/);
  });
});
