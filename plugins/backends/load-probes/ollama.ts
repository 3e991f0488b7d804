/**
 * Ollama's load: GET /api/ps, the models it holds in memory. Ollama publishes no slot or queue
 * figures, so its models keep the config's parallel limit. A model listed there is loaded
 * whatever its `expires_at` says: that time is the server's clock, and a clock that differs from
 * this machine's (skew) is noted, never believed over the listing.
 */
import type { LoadProbeRequest, ServerLoad } from '../../../core/types.ts';
import { fetchJson } from './bounded-fetch.ts';

interface Running {
  name?: unknown;
  model?: unknown;
  size_vram?: unknown;
  expires_at?: unknown;
}

/** How far a loaded model's expiry may lie in the past before the clocks are said to differ. */
const SKEW_MS = 60_000;

export function ollamaProbe(options: { base: string }): (request: LoadProbeRequest) => Promise<ServerLoad> {
  return async function probe({ signal, maxBytes }) {
    const ps = await fetchJson<{ models?: Running[] }>(`${options.base}/api/ps`, { signal, maxBytes });
    const models = Array.isArray(ps.models) ? ps.models : [];
    const notes: string[] = [];
    const now = Date.now();
    for (const m of models) {
      const expires = typeof m.expires_at === 'string' ? Date.parse(m.expires_at) : Number.NaN;
      // Ollama says "forever" with a far-future year; a past time on a listed model is another clock.
      if (Number.isFinite(expires) && expires < now - SKEW_MS) {
        notes.push(`${String(m.name ?? m.model)} expires_at ${String(m.expires_at)} is ${Math.round((now - expires) / 1000)} s in the past: the server's clock differs; taken as loaded`);
      }
    }
    return {
      slots: null,
      running: null,
      waiting: null,
      kvUsage: null,
      source: 'Ollama /api/ps',
      loadedModels: models.map((m) => String(m.name ?? m.model ?? '')).filter((n) => n !== ''),
      notes,
    };
  };
}
