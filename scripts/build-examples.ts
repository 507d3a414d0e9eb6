// Re-runs the example notebooks in notebooks/ and writes their outputs
// (<name>.outputs.json, with the artifact checksums `peragus rerun` compares)
// beside them: `npx tsx scripts/build-examples.ts`. Run it after editing an
// example notebook or its model.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createNotebookServices } from '../notebook-server/src/app/notebook-services.ts';
import { newCellFrom } from '../notebook-server/src/notebook/cells.ts';
import { decodeBundle } from '../srcmd/src/bundle.ts';
import { writeNotebookFiles } from '../srcmd/src/fs.ts';

const dir = resolve('notebooks');
for (const file of readdirSync(dir).filter((f) => f.endsWith('.src.md'))) {
  const name = file.slice(0, -'.src.md'.length);
  const work = mkdtempSync(join(tmpdir(), 'peragus-example-'));
  cpSync(join(dir, 'models'), join(work, 'models'), { recursive: true });
  const nb = decodeBundle(readFileSync(join(dir, file), 'utf8'), null);
  const services = await createNotebookServices({ root: join(work, '.sessions'), poolSize: 0 });
  try {
    const session = await services.sessions.create({ name: nb.title, work_dir: work });
    for (const cell of nb.cells) {
      await session.addCell({ id: cell.id, ...newCellFrom(cell) });
    }
    const runs = await session.execute('all');
    const failed = runs.find((r) => r.status !== 'ok');
    if (failed)
      throw new Error(
        `${file}: cell ${failed.cell_id} failed: ${failed.error?.ename}: ${failed.error?.evalue}`,
      );
    await writeNotebookFiles(dir, name, { ...session.toNotebook(), metadata: nb.metadata });
    process.stdout.write(`${file}: ${runs.length} cells ran, outputs written\n`);
  } finally {
    await services.close();
    rmSync(work, { recursive: true, force: true });
  }
}
