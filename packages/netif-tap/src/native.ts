/**
 * Loads the native addon (src/native/tap.c, built at install time into build/Release). When it
 * is missing, openTap fails with an UnsupportedError that says why and how to build it, and the
 * rest of the package (the virtio-net header codec) still works.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnsupportedError } from '@morgana/core';

/** An open device inside the addon. */
export interface TapHandle {
  readonly __tapHandle: unique symbol;
}

/** What the addon's open() returns. */
export interface NativeTapDevice {
  readonly handle: TapHandle;
  /** The kernel's name for the device (chosen by the kernel when none was asked for). */
  readonly name: string;
  /** The device's MTU after any change. */
  readonly mtu: number;
  readonly ifindex: number;
}

/** Called once per drained batch: `count` frames, then `errno` (0, or why reading stopped). */
export type NativeBatchHandler = (count: number, errno: number) => void;

/** The functions of src/native/tap.c. */
export interface TapBinding {
  open(
    name: string | null,
    create: boolean,
    vnetHeader: boolean,
    offloadFlags: number,
    netnsPath: string | null,
    mtu: number,
  ): NativeTapDevice;
  attach(handle: TapHandle, rx: Uint8Array, meta: Uint32Array, maxFrames: number, frameRoom: number, tx: Uint8Array): void;
  start(handle: TapHandle, onBatch: NativeBatchHandler): void;
  stop(handle: TapHandle): void;
  /** Bytes written, or -errno. */
  write(handle: TapHandle, length: number): number;
  close(handle: TapHandle): void;
}

/**
 * The addon's path: `$MORGANA_TAP_ADDON` when set (for bundled applications, whose code no
 * longer sits in this package), else build/Release/morgana_tap.node in the package, where
 * node-gyp or the install script's compiler fallback puts it (src/ and dist/ are one level down).
 */
export function addonPath(): string {
  const override = process.env.MORGANA_TAP_ADDON;
  if (override !== undefined && override !== '') return override;
  return fileURLToPath(new URL('../build/Release/morgana_tap.node', import.meta.url));
}

let loaded: TapBinding | undefined;

/** The addon, loaded once; throws {@link UnsupportedError} naming what is missing. */
export function loadBinding(): TapBinding {
  if (loaded !== undefined) return loaded;
  const path = addonPath();
  if (!existsSync(path)) {
    // The install script leaves its log next to Release/ when the build failed.
    const buildLog = join(dirname(dirname(path)), 'native-build.log');
    let reason = 'it was never built';
    if (existsSync(buildLog)) {
      const log = readFileSync(buildLog, 'utf8').trim().split('\n');
      reason = `the install-time build failed (${buildLog}): ${log.slice(-3).join(' | ')}`;
    }
    throw new UnsupportedError(
      `@morgana/netif-tap: the native addon ${path} is missing: ${reason}. ` +
        'Build it with `npm rebuild @morgana/netif-tap` (or `node scripts/build-native.mjs` in the package); ' +
        "it needs a C compiler and Node's headers (include/node next to the node binary, or node-gyp's download).",
    );
  }
  try {
    loaded = createRequire(import.meta.url)(path) as TapBinding;
  } catch (error) {
    throw new UnsupportedError(
      `@morgana/netif-tap: cannot load the native addon ${path} (${(error as Error).message}); ` +
        'rebuild it for this Node with `npm rebuild @morgana/netif-tap`.',
    );
  }
  return loaded;
}
