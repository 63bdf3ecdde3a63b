/**
 * Summarises a V8 `.cpuprofile` (from `deno run --cpu-prof`): self time per
 * function and per source file, largest first.
 *
 * ```sh
 * deno run --allow-read bench/profile.ts .bench/prof/tuerca_fanout.cpuprofile [top]
 * ```
 *
 * @module
 */

/** One function's share of the profile. */
export interface ProfileEntry {
  /** `name (file:line)`, with the file relative to the repository when it is ours. */
  fn: string;
  /** Self time, in ms. */
  selfMs: number;
  /** Self time, in percent of the whole profile. */
  selfPct: number;
  /** Self time, in percent of the busy (not idle) time. */
  busyPct: number;
}

/** A profile, summarised. */
export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Time not idle (everything but `(idle)`), in ms. */
  busyMs: number;
  topFunctions: ProfileEntry[];
  /** Self time grouped by source (our files, the runtime's, V8's pseudo-entries). */
  bySource: ProfileEntry[];
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const ROOT = new URL("../", import.meta.url).href;

function shortUrl(url: string): string {
  if (url === "") return "";
  if (url.startsWith(ROOT)) return url.slice(ROOT.length);
  const npm = /node_modules\/(?:\.deno\/)?([^/]+)/.exec(url);
  if (npm) return `npm:${npm[1]}`;
  return url.replace(/^ext:/, "ext:").replace(/^file:\/\/.*\/(?=[^/]+$)/, "");
}

/** Summarises the profile in `path`. */
export function summariseProfile(path: string, top = 20): ProfileSummary {
  const profile = JSON.parse(Deno.readTextFileSync(path)) as CpuProfile;
  const byId = new Map<number, CpuProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; charge it to sample i's node.
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0));
  }
  const perFn = new Map<string, number>();
  const perSource = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)!.callFrame;
    const name = cf.functionName || "(anonymous)";
    const src = shortUrl(cf.url);
    const key = src ? `${name} (${src}:${cf.lineNumber + 1})` : name;
    perFn.set(key, (perFn.get(key) ?? 0) + us);
    const source = src ? src.replace(/:\d+$/, "") : name;
    perSource.set(source, (perSource.get(source) ?? 0) + us);
    total += us;
    if (name === "(idle)") idle += us;
  }
  const busy = total - idle;
  // `(idle)` is left out: V8 is idle, though the thread may be running the runtime's Rust side.
  const entries = (m: Map<string, number>, n: number) =>
    [...m].filter(([fn]) => fn !== "(idle)").sort((a, b) => b[1] - a[1]).slice(0, n).map(([fn, us]) => ({
      fn,
      selfMs: Math.round(us / 100) / 10,
      selfPct: total > 0 ? Math.round((1000 * us) / total) / 10 : 0,
      busyPct: busy > 0 ? Math.round((1000 * us) / busy) / 10 : 0,
    }));
  return {
    file: path,
    totalMs: Math.round(total / 1000),
    busyMs: Math.round((total - idle) / 1000),
    topFunctions: entries(perFn, top),
    bySource: entries(perSource, 12),
  };
}

if (import.meta.main) {
  const [path, top] = Deno.args;
  if (path === undefined) {
    console.error("usage: deno run --allow-read bench/profile.ts <file.cpuprofile> [top]");
    Deno.exit(2);
  }
  const s = summariseProfile(path, Number(top ?? 25));
  console.log(`${s.file}: ${s.totalMs} ms sampled, ${s.busyMs} ms busy`);
  console.log("\nself time by function:");
  const line = (e: ProfileEntry) =>
    `${e.busyPct.toFixed(1).padStart(6)}% of busy  ${String(e.selfMs).padStart(8)} ms  ${e.fn}`;
  for (const e of s.topFunctions) console.log(line(e));
  console.log("\nself time by source:");
  for (const e of s.bySource) console.log(line(e));
}
