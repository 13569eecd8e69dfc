/**
 * A {@link FileSource} over a folder on disk. Paths come already checked by the static
 * handler (no `..`); symbolic links that lead outside the folder are refused as well, by
 * resolving each file's real path against the folder's.
 */
import { open, realpath, stat } from 'node:fs/promises';
import { sep } from 'node:path';
import type { FileInfo, FileSource } from '@morgana/http';

/** Serves files below `root`. */
export async function createFolderSource(root: string): Promise<FileSource> {
  const base = await realpath(root);
  const resolve = async (path: string): Promise<string | undefined> => {
    try {
      const real = await realpath(path === '' ? base : `${base}${sep}${path}`);
      return real === base || real.startsWith(base + sep) ? real : undefined;
    } catch {
      return undefined;
    }
  };
  return {
    async stat(path: string): Promise<FileInfo | undefined> {
      const real = await resolve(path);
      if (real === undefined) return undefined;
      const info = await stat(real);
      return { size: info.size, mtimeMs: info.mtimeMs, isDirectory: info.isDirectory() };
    },
    async read(path: string, start: number, end: number): Promise<Uint8Array> {
      const real = await resolve(path);
      if (real === undefined) throw new Error(`not servable: ${path}`);
      const handle = await open(real, 'r');
      try {
        const buffer = new Uint8Array(end - start);
        let offset = 0;
        while (offset < buffer.length) {
          const { bytesRead } = await handle.read(buffer, offset, buffer.length - offset, start + offset);
          if (bytesRead === 0) break;
          offset += bytesRead;
        }
        return offset === buffer.length ? buffer : buffer.subarray(0, offset);
      } finally {
        await handle.close();
      }
    },
  };
}
