/**
 * The node's own registry credentials (the kubelet's default keyring, pkg/credentialprovider),
 * for images no pull Secret logs in to, static pods' among them: the first config.json that
 * parses in the root dir, the working directory, $HOME/.docker and /.docker; failing that, the
 * first .dockercfg in the root dir, the working directory, $HOME and /. Files that are missing
 * or do not parse are passed over, the latter logged. What was read is kept for 5 minutes, as
 * the kubelet's caching provider keeps it.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { errorMessage } from '../../common/api/errors.js';
import type { Clock } from '../../common/util/clock.js';
import { parseDockerConfig, type DockerConfig } from './pull-secrets.js';

const CacheLifetimeMs = 5 * 60_000;

export class NodeDockerConfig {
  readonly #rootDir: string;
  readonly #home: string;
  readonly #workingDir: string;
  readonly #clock: Clock;
  readonly #log: Logger;
  #cached: { config: DockerConfig; until: number } | undefined;
  /** The read under way: pulls that start together share it. */
  #reading: Promise<DockerConfig> | undefined;

  /** `home` and `workingDir`: $HOME and the process's working directory unless given. */
  constructor(options: { rootDir: string; clock: Clock; logger: Logger; home?: string; workingDir?: string }) {
    this.#rootDir = options.rootDir;
    this.#home = options.home ?? homedir();
    this.#workingDir = options.workingDir ?? process.cwd();
    this.#clock = options.clock;
    this.#log = options.logger.child({ component: 'node-credentials' });
  }

  /** The registry entries of the node's docker config; none when there is no such file. */
  async read(): Promise<DockerConfig> {
    const now = this.#clock.now();
    if (this.#cached && now < this.#cached.until) return this.#cached.config;
    this.#reading ??= this.#readFiles()
      .then((config) => {
        this.#cached = { config, until: now + CacheLifetimeMs };
        return config;
      })
      .finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  async #readFiles(): Promise<DockerConfig> {
    return (
      (await this.#first([this.#rootDir, this.#workingDir, join(this.#home, '.docker'), '/.docker'].map((dir) => join(dir, 'config.json')), 'config.json')) ??
      (await this.#first([this.#rootDir, this.#workingDir, this.#home, '/'].map((dir) => join(dir, '.dockercfg')), '.dockercfg')) ??
      {}
    );
  }

  async #first(paths: readonly string[], format: 'config.json' | '.dockercfg'): Promise<DockerConfig | undefined> {
    for (const path of paths) {
      const text = await readFile(path, 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      try {
        return parseDockerConfig(text, format);
      } catch (err) {
        this.#log.warn({ path, err: errorMessage(err) }, 'a docker config file that does not parse is passed over');
      }
    }
    return undefined;
  }
}
