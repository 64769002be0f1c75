/**
 * ClusterIP and NodePort allocation, as the API server does it where there is none: a requested
 * value is honoured when it is valid and free; otherwise one is picked from the dynamic band
 * (the upper part of the range, as ServiceIPStaticSubrange and ServiceNodePortStaticSubrange
 * leave the lower part for requests), first free upwards, wrapping around. What was allocated is
 * kept in a state file, so a Service keeps its address and ports across restarts.
 */
import { readFile, rename } from 'node:fs/promises';
import { z } from 'zod';
import { errorMessage } from '../../common/api/errors.js';
import { writeFileDurably } from '../../common/util/durable-file.js';
import { formatIpv4, parseIpv4, type Ipv4Cidr } from '../../common/util/ipv4.js';

/** Whether `ip` is a usable address of `cidr`: inside it, neither its network nor its broadcast address. */
export function isUsable(cidr: Ipv4Cidr, ip: string): boolean {
  const value = parseIpv4(ip);
  return value !== undefined && value > cidr.network && value < cidr.network + cidr.size - 1;
}

/** Where the dynamic band starts, as an offset into a range of `size` (the upstream formulas). */
function staticBand(size: number, min: number, max: number, divisor: number): number {
  return Math.min(Math.max(min, Math.floor(size / divisor)), max);
}

const savedAllocations = z.strictObject({
  clusterIPs: z.record(z.string(), z.string()).default({}),
  nodePorts: z.record(z.string(), z.number().int()).default({}),
});

type SavedAllocations = z.infer<typeof savedAllocations>;

export type Allocation<T> = { ok: true; value: T } | { ok: false; message: string };

export class ServiceAllocator {
  readonly #cidr: Ipv4Cidr;
  readonly #nodePorts: { min: number; max: number };
  readonly #statePath: string | undefined;
  #saved: SavedAllocations = { clusterIPs: {}, nodePorts: {} };
  /** Values handed out in the current round: ip -> owner, port -> owner. */
  #ips = new Map<string, string>();
  #ports = new Map<number, string>();

  constructor(options: { serviceCIDR: Ipv4Cidr; nodePortRange: { min: number; max: number }; statePath?: string }) {
    this.#cidr = options.serviceCIDR;
    this.#nodePorts = options.nodePortRange;
    this.#statePath = options.statePath;
  }

  /**
   * Reads the state file, if there is one. One that does not parse, or does not hold maps of
   * addresses and port numbers, is moved aside to <file>.bad, kept for a person to look at
   * rather than overwritten, and the error says so.
   */
  async load(): Promise<void> {
    if (!this.#statePath) return;
    const text = await readFile(this.#statePath, 'utf8').catch(() => undefined);
    if (!text) return;
    let problem: string;
    try {
      const parsed = savedAllocations.safeParse(JSON.parse(text));
      if (parsed.success) {
        this.#saved = parsed.data;
        return;
      }
      problem = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(the file)'}: ${issue.message}`).join('; ');
    } catch (err) {
      problem = errorMessage(err);
    }
    const aside = `${this.#statePath}.bad`;
    await rename(this.#statePath, aside);
    throw new Error(`${this.#statePath}: ${problem}; moved to ${aside}: Services get ClusterIPs and node ports anew`);
  }

  /** Starts a round: every value is free again, until claimed. */
  beginRound(): void {
    this.#ips = new Map();
    this.#ports = new Map();
  }

  /** Claims `requested` for `owner`, or the owner's saved address, or the first free one. */
  clusterIP(owner: string, requested: string | undefined): Allocation<string> {
    if (requested) {
      if (!isUsable(this.#cidr, requested)) return { ok: false, message: `Invalid value: "${requested}": provided IP is not in the valid range. The range of valid IPs is ${this.#cidr.text}` };
      if (this.#ips.has(requested)) return { ok: false, message: `Invalid value: "${requested}": provided IP is already allocated` };
      this.#ips.set(requested, owner);
      this.#saved.clusterIPs[owner] = requested;
      return { ok: true, value: requested };
    }
    const saved = this.#saved.clusterIPs[owner];
    if (saved && isUsable(this.#cidr, saved) && !this.#ips.has(saved)) {
      this.#ips.set(saved, owner);
      return { ok: true, value: saved };
    }
    const usable = this.#cidr.size - 2;
    const start = staticBand(this.#cidr.size, 16, 256, 16);
    for (let i = 0; i < usable; i++) {
      const ip = formatIpv4(this.#cidr.network + 1 + ((start - 1 + i) % usable));
      if (this.#ips.has(ip) || this.#savedByOther(ip, owner)) continue;
      this.#ips.set(ip, owner);
      this.#saved.clusterIPs[owner] = ip;
      return { ok: true, value: ip };
    }
    return { ok: false, message: `no IP address is free in the service CIDR ${this.#cidr.text}` };
  }

  /** Claims `requested` for `owner` (a service port), or its saved port, or the first free one. */
  nodePort(owner: string, requested: number | undefined): Allocation<number> {
    const { min, max } = this.#nodePorts;
    if (requested !== undefined) {
      if (requested < min || requested > max) {
        return { ok: false, message: `Invalid value: ${requested}: provided port is not in the valid range. The range of valid ports is ${min}-${max}` };
      }
      if (this.#ports.has(requested)) return { ok: false, message: `Invalid value: ${requested}: provided port is already allocated` };
      this.#ports.set(requested, owner);
      this.#saved.nodePorts[owner] = requested;
      return { ok: true, value: requested };
    }
    const saved = this.#saved.nodePorts[owner];
    if (saved !== undefined && saved >= min && saved <= max && !this.#ports.has(saved)) {
      this.#ports.set(saved, owner);
      return { ok: true, value: saved };
    }
    const size = max - min + 1;
    const start = staticBand(size, 16, 128, 32);
    for (let i = 0; i < size; i++) {
      const port = min + ((start + i) % size);
      if (this.#ports.has(port) || Object.entries(this.#saved.nodePorts).some(([o, p]) => p === port && o !== owner)) continue;
      this.#ports.set(port, owner);
      this.#saved.nodePorts[owner] = port;
      return { ok: true, value: port };
    }
    return { ok: false, message: `no node port is free in ${min}-${max}` };
  }

  /**
   * Ends a round and writes the state file. With `release`, what was not claimed is released;
   * without (some source has not reported yet), it is kept for its owner's return.
   */
  async endRound(options: { release: boolean }): Promise<void> {
    if (options.release) {
      const claimedIPs = new Set(this.#ips.values());
      const claimedPorts = new Set(this.#ports.values());
      this.#saved = {
        clusterIPs: Object.fromEntries(Object.entries(this.#saved.clusterIPs).filter(([owner]) => claimedIPs.has(owner))),
        nodePorts: Object.fromEntries(Object.entries(this.#saved.nodePorts).filter(([owner]) => claimedPorts.has(owner))),
      };
    }
    if (!this.#statePath) return;
    await writeFileDurably(this.#statePath, `${JSON.stringify(this.#saved, null, 2)}\n`);
  }

  #savedByOther(ip: string, owner: string): boolean {
    return Object.entries(this.#saved.clusterIPs).some(([o, saved]) => saved === ip && o !== owner);
  }
}
