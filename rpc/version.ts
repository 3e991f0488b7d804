/** Mai's version, from its package.json (core/package-root.ts finds it from the sources, dist/ or the bundle). */
import { maiPackage } from '../core/package-root.ts';

export function maiVersion(): string {
  return maiPackage()?.version ?? '0.0.0';
}
