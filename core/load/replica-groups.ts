/**
 * Which listed models are one model served by several servers (replicas): the same id on
 * several backends, the same weights (`artifact`: a GGUF's name, an Ollama digest) under different ids, or a
 * config entry's `replicaOf`. Each group becomes one catalogue model; its first member (in the
 * order backends are configured) names it, and every member is a replica.
 */
import type { ModelMeta } from '../config/schema.ts';
import type { BackendModel } from '../types.ts';

export interface Listing {
  backend: string;
  models: BackendModel[];
}

export interface ReplicaGroup {
  /** The catalogue id (the first member's id, or the id `replicaOf` names). */
  id: string;
  meta: ModelMeta | undefined;
  members: Array<{ backend: string; model: BackendModel }>;
}

function metaFor(meta: readonly ModelMeta[], id: string, backend: string): ModelMeta | undefined {
  return meta.find((m) => m.id === id && (m.backend === undefined || m.backend === backend));
}

export function groupReplicas(listings: readonly Listing[], meta: readonly ModelMeta[]): ReplicaGroup[] {
  const groups = new Map<string, ReplicaGroup>();
  const byArtifact = new Map<string, string>();
  for (const { backend, models } of listings) {
    for (const model of models) {
      const own = metaFor(meta, model.id, backend);
      const artifactKey = model.artifact?.toLowerCase();
      const id = own?.replicaOf ?? (artifactKey !== undefined ? (byArtifact.get(artifactKey) ?? model.id) : model.id);
      if (artifactKey !== undefined && !byArtifact.has(artifactKey)) byArtifact.set(artifactKey, id);
      const group = groups.get(id) ?? { id, meta: undefined, members: [] };
      // One replica per backend: a backend listing the same model twice is one server.
      if (group.members.some((m) => m.backend === backend)) continue;
      group.members.push({ backend, model });
      group.meta ??= own?.replicaOf ? metaFor(meta, id, backend) : own;
      groups.set(id, group);
    }
  }
  for (const group of groups.values()) group.meta ??= metaFor(meta, group.id, group.members[0]!.backend);
  return [...groups.values()];
}
