/**
 * Types for the systeminformation modules the sample worker imports one by one (the package
 * types only its index): the same functions as the index's mem() and graphics().
 */
declare module 'systeminformation/lib/memory.js' {
  import type { Systeminformation } from 'systeminformation';
  const memory: { mem(): Promise<Systeminformation.MemData> };
  export default memory;
}
declare module 'systeminformation/lib/graphics.js' {
  import type { Systeminformation } from 'systeminformation';
  const graphics: { graphics(): Promise<Systeminformation.GraphicsData> };
  export default graphics;
}
declare module 'systeminformation/lib/util.js' {
  const util: { getCodepage(): string; getPowershell(): void };
  export default util;
}
