import { detectJupyter } from '../../src/sites/detect-jupyter.js';

/**
 * Whether the host has Jupyter for notebook runs. Without it the notebook tests are skipped with a
 * loud message, unless EB_REQUIRE_JUPYTER=1 (CI), which makes it a failure.
 */
export async function jupyterForTests(what: string): Promise<boolean> {
  const found = await detectJupyter();
  if (found.available) return true;
  if (process.env.EB_REQUIRE_JUPYTER === '1') throw new Error(`EB_REQUIRE_JUPYTER=1 but ${found.reason}`);
  console.warn(`\n${'!'.repeat(78)}\n!! SKIPPED: ${what}\n!! because ${found.reason}.\n!! Set EB_REQUIRE_JUPYTER=1 to make this a failure.\n${'!'.repeat(78)}\n`);
  return false;
}
