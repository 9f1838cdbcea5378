/**
 * The calls whose results are still to be delivered, in a small JSON file under OpenClaw's
 * state directory (only this user may read it). The host's keyed state store would do, but
 * this release refuses it to plugins installed from a path or npm ("only available for
 * trusted plugins"), and a result must survive a restart however the plugin was installed.
 * Operations are serialised in this process, and each write replaces the file atomically.
 */

import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

export class PendingFile<T> {
  private readonly path: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(path: string) {
    this.path = path;
  }

  register(key: string, value: T): Promise<void> {
    return this.change((rows) => {
      rows[key] = value;
    });
  }

  delete(key: string): Promise<void> {
    return this.change((rows) => {
      delete rows[key];
    });
  }

  entries(): Promise<T[]> {
    return this.serial(async () => Object.values(await this.read()));
  }

  private serial<R>(operation: () => Promise<R>): Promise<R> {
    const next = this.queue.then(operation);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private change(edit: (rows: Record<string, T>) => void): Promise<void> {
    return this.serial(async () => {
      const rows = await this.read();
      edit(rows);
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      const temporary = `${this.path}.${process.pid}.tmp`;
      await writeFile(temporary, JSON.stringify(rows), { mode: 0o600 });
      await rename(temporary, this.path);
    });
  }

  private async read(): Promise<Record<string, T>> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
      throw error;
    }
    const rows: unknown = JSON.parse(text);
    return typeof rows === "object" && rows !== null && !Array.isArray(rows)
      ? (rows as Record<string, T>)
      : {};
  }
}
