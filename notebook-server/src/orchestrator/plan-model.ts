// Where a plan's model text comes from when an MCP client sent the plan: the
// inline content, a file in <home>/inbox (opened without following links), or
// a model already in the catalog (a stored blob, or the model of an earlier
// plan, by sha256). Never a host path: an MCP client is not the host's user.
// (`peragus run plan.json` reads paths relative to the plan file instead:
// PlanRunner.modelText.)
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Catalog } from '../catalog/catalog.ts';
import { readInside } from '../confine/fs.ts';
import { PathError } from '../confine/relative.ts';
import { PeragusError, type PeragusErrorOptions } from '../errors/index.ts';
import type { Plan } from '../schemas/plan.ts';

const CATALOG = /^catalog:([0-9a-f]{64})(?:\/([^/]+))?$/;

export class PlanModelError extends PeragusError {
  override readonly name = 'PlanModelError';
  constructor(message: string, options?: PeragusErrorOptions) {
    super('plan_model_invalid', message, options);
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function fixes(home: string): string {
  return (
    `Over MCP a plan's model comes from model.content (the model text), a file in ${join(home, 'inbox')} ` +
    '(source: "inbox/NAME.mdl" or "NAME.mdl"), or a model already in the catalog ' +
    '(source: "catalog:SHA256/NAME.mdl", the sha256 of a stored artifact or of an earlier plan\'s model).'
  );
}

/** The model of an earlier plan with this sha256 (the catalog records model_sha256 per experiment). */
function fromEarlierPlan(home: string, sha: string): string | undefined {
  const dir = join(home, 'plans');
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return undefined;
  }
  for (const name of names) {
    try {
      const text = (JSON.parse(readFileSync(join(dir, name), 'utf8')) as { model_text?: unknown }).model_text;
      if (typeof text === 'string' && sha256(text) === sha) return text;
    } catch {
      // an unreadable plan file is not a model
    }
  }
  return undefined;
}

export async function clientModelText(plan: Plan, home: string, catalog: Catalog): Promise<string> {
  if (plan.model.content !== undefined) return plan.model.content;
  const source = plan.model.source;
  const fromCatalog = CATALOG.exec(source);
  if (fromCatalog) {
    const sha = fromCatalog[1] as string;
    const blob = await catalog.store.stat(sha);
    const text = blob ? readFileSync(blob.path, 'utf8') : fromEarlierPlan(home, sha);
    if (text === undefined || sha256(text) !== sha) {
      throw new PlanModelError(
        `model.source "${source}": no model with that sha256 in the catalog. ${fixes(home)}`,
      );
    }
    return text;
  }
  const inbox = join(home, 'inbox');
  const name = source.startsWith('inbox/') ? source.slice('inbox/'.length) : source;
  try {
    return readInside(inbox, name, { what: 'model.source', where: inbox }).toString('utf8');
  } catch (err) {
    if (!(err instanceof PathError)) throw err;
    throw new PlanModelError(`${err.message}. ${fixes(home)}`, { cause: err });
  }
}
