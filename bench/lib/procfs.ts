/**
 * CPU and memory of processes, from Linux's /proc, and what the report says about
 * the machine.
 *
 * @module
 */

/** Clock ticks per second of /proc/<pid>/stat times (CLK_TCK; 100 on Linux x86-64). */
export const CLK_TCK = 100;

/** utime + stime of one process, in ticks (0 when it is gone). */
export function cpuTicks(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name (which is in parentheses and may hold spaces).
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** The parent pid of a process, or -1. */
function parentOf(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return -1;
  }
}

/** `pid` and all its descendants. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const p = Number(entry.name);
    const parent = parentOf(p);
    if (parent > 0) {
      const list = children.get(parent) ?? [];
      list.push(p);
      children.set(parent, list);
    }
  }
  const out: number[] = [];
  const stack = [pid];
  while (stack.length > 0 && out.length < 10_000) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}

/** A process's command name (`/proc/<pid>/comm`, such as `beam.smp`), or "" when it is gone. */
export function commandName(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
  } catch {
    return "";
  }
}

/** CPU ticks of a set of processes. */
export function treeTicks(pids: number[]): number {
  let sum = 0;
  for (const p of pids) sum += cpuTicks(p);
  return sum;
}

/** Resident set size in KiB (VmRSS), summed over `pids`; 0 for processes that are gone. */
export function rssKiB(pids: number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+)\s+kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
      if (m) sum += Number(m[1]);
    } catch {
      // gone
    }
  }
  return sum;
}

/** A CPU meter over an interval: percent of one core. */
export class CpuMeter {
  #pids: number[];
  #t0: number;
  #ticks0: number;

  constructor(pids: number[]) {
    this.#pids = pids;
    this.#t0 = performance.now();
    this.#ticks0 = treeTicks(pids);
  }

  /** Percent of one core used since construction. */
  percent(): number {
    const seconds = (performance.now() - this.#t0) / 1000;
    const used = (treeTicks(this.#pids) - this.#ticks0) / CLK_TCK;
    return seconds > 0 ? (100 * used) / seconds : 0;
  }
}

/** The machine, as the report names it. */
export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memTotalMiB: number;
  kernel: string;
  deno: string;
  v8: string;
  typescript: string;
  mosquitto: string;
  rabbitmq: string;
  openFilesLimit: string;
}

async function commandLine(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    return (new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr)).trim();
  } catch {
    return "";
  }
}

/** Facts about this machine for the report. */
export async function machineInfo(): Promise<MachineInfo> {
  const cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
  const models = [...cpuinfo.matchAll(/^model name\s*:\s*(.*)$/gm)].map((m) => m[1].trim());
  const mem = /MemTotal:\s+(\d+)\s+kB/.exec(Deno.readTextFileSync("/proc/meminfo"));
  const limits = Deno.readTextFileSync("/proc/self/limits");
  const files = /Max open files\s+(\S+)\s+(\S+)/.exec(limits);
  const mosquitto = (await commandLine("mosquitto", ["-h"])).split("\n")[0] ?? "";
  const rabbit = await commandLine("dpkg-query", ["-W", "-f", "${Version}", "rabbitmq-server"]);
  return {
    cpus: navigator.hardwareConcurrency,
    cpuModel: models[0] ?? "unknown",
    memTotalMiB: mem ? Math.round(Number(mem[1]) / 1024) : 0,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    mosquitto: mosquitto.replace(/^mosquitto version /, ""),
    rabbitmq: rabbit || "not installed",
    openFilesLimit: files ? `${files[1]} soft / ${files[2]} hard` : "unknown",
  };
}

/** Busy ticks of the whole machine (all CPUs), from the first line of /proc/stat. */
export function machineBusyTicks(): number {
  const fields = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1, 9).map(
    Number,
  );
  const total = fields.reduce((a, b) => a + b, 0);
  return total - fields[3] - fields[4]; // minus idle and iowait
}

/** The 1-minute load average. */
export function loadAverage(): number {
  return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
}
