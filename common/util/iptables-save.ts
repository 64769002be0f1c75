/** Reading iptables-save output: which chains a table has, and which rules jump where. */

export interface SavedRule {
  chain: string;
  /** The rule's arguments after `-A <chain>`, unquoted: ready for `iptables -D <chain> ...`. */
  args: string[];
  /** The -j / -g target, if any. */
  target: string | undefined;
}

export interface SavedTable {
  chains: string[];
  rules: SavedRule[];
}

/** The tables in `text` (the output of iptables-save, with or without -t). */
export function parseIptablesSave(text: string): Map<string, SavedTable> {
  const tables = new Map<string, SavedTable>();
  let current: SavedTable | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      current = { chains: [], rules: [] };
      tables.set(line.slice(1).trim(), current);
    } else if (!current) {
      continue;
    } else if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0];
      if (name) current.chains.push(name);
    } else if (line.startsWith('-A ')) {
      const tokens = tokenize(line);
      const chain = tokens[1];
      if (!chain) continue;
      const args = tokens.slice(2);
      current.rules.push({ chain, args, target: targetOf(args) });
    } else if (line === 'COMMIT') {
      current = undefined;
    }
  }
  return tables;
}

function targetOf(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length - 1; i++) {
    const arg = args[i];
    if (arg === '-j' || arg === '--jump' || arg === '-g' || arg === '--goto') return args[i + 1];
  }
  return undefined;
}

/** Splits a rule line as iptables-restore does: on blanks, with "double quotes" and \-escapes. */
export function tokenize(line: string): string[] {
  const tokens: string[] = [];
  let token = '';
  let inToken = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length) {
      token += line[++i];
      inToken = true;
    } else if (c === '"') {
      quoted = !quoted;
      inToken = true;
    } else if (!quoted && (c === ' ' || c === '\t')) {
      if (inToken) tokens.push(token);
      token = '';
      inToken = false;
    } else {
      token += c;
      inToken = true;
    }
  }
  if (inToken) tokens.push(token);
  return tokens;
}
