/**
 * The subset of the IoT Hub query language the portal uses, parsed and evaluated in memory.
 *
 *   SELECT [TOP n] * | COUNT() [AS name] | path [AS name], path [AS name], ...
 *   FROM devices | devices.modules
 *   [WHERE condition]
 *
 * condition: `AND`, `OR`, `NOT`, parentheses, `= != <> < > <= >=`, `x IN [..]`, `x NOT IN [..]`,
 * `IS_DEFINED(path)`. Operands are property paths (`tags.deviceType`, `properties.reported.x`,
 * `$version` segments allowed) or literals ('single quoted' with '' as escape, "double quoted",
 * numbers, true, false, null). Keywords are case-insensitive; property names are not.
 *
 * Paths may carry the collection prefix as the real hub allows: in `FROM devices`, `devices.x` is
 * `x`; in `FROM devices.modules`, `devices.modules.x` is the module twin's `x` and `devices.x` is the
 * parent device twin's `x` (`devices.deviceId` is the module's deviceId).
 *
 * Semantics (two-valued): a comparison, IN or NOT IN whose operand is undefined is false, so
 * `tags.t != 'X'` is false for a twin without `tags.t`; `NOT` negates that false. `=`/`!=` compare
 * primitives strictly (objects/arrays structurally); `< > <= >=` compare numbers with numbers and
 * strings with strings, anything else is false.
 *
 * Projection: each selected path becomes a key named after its alias or its last segment
 * (`SELECT deviceId, tags.site` -> `{"deviceId": .., "site": ..}`); undefined values are omitted.
 * `COUNT()` yields one row `{"<alias>": n}` (alias defaults to `$1`).
 */

export class QuerySyntaxError extends Error {
  override name = 'QuerySyntaxError';
}

export type Collection = 'devices' | 'devices.modules';
export type Literal = string | number | boolean | null;
export type CompareOp = '=' | '!=' | '<' | '>' | '<=' | '>=';

export type Operand = { kind: 'path'; path: string[] } | { kind: 'literal'; value: Literal };

export type Condition =
  | { kind: 'and'; left: Condition; right: Condition }
  | { kind: 'or'; left: Condition; right: Condition }
  | { kind: 'not'; operand: Condition }
  | { kind: 'compare'; op: CompareOp; left: Operand; right: Operand }
  | { kind: 'in'; negated: boolean; operand: Operand; values: Literal[] }
  | { kind: 'isDefined'; path: string[] };

export type Selection =
  | { kind: 'star' }
  | { kind: 'count'; alias: string }
  | { kind: 'paths'; items: { path: string[]; key: string }[] };

export interface ParsedQuery {
  /** The query text as given. */
  readonly text: string;
  readonly select: Selection;
  readonly from: Collection;
  readonly where: Condition | undefined;
  readonly top: number | undefined;
  /** `Twin` for `SELECT *`, `Raw` otherwise (the value of the `x-ms-item-type` header). */
  readonly itemType: 'Twin' | 'Raw';
}

/** What a query runs over; a normalized fixture is one. */
export interface QuerySource {
  readonly twins: readonly object[];
  readonly moduleTwins?: readonly object[];
}

// ---------------------------------------------------------------------------------------------
// Tokenizer

type Token =
  | { t: 'ident'; v: string; pos: number }
  | { t: 'string'; v: string; pos: number }
  | { t: 'number'; v: number; raw: string; pos: number }
  | { t: 'punct'; v: string; pos: number }
  | { t: 'eof'; v: ''; pos: number };

const IDENT_START = /[A-Za-z_$]/;
const IDENT_PART = /[A-Za-z0-9_$]/;
const NUMBER_AT = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (c === "'" || c === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= n) throw new QuerySyntaxError(`Syntax error: unterminated string literal starting at position ${start + 1}`);
        const d = text[i]!;
        if (d === c) {
          if (text[i + 1] === c) {
            value += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += d;
        i++;
      }
      tokens.push({ t: 'string', v: value, pos: start });
      continue;
    }
    if ((c >= '0' && c <= '9') || (c === '-' && /[0-9]/.test(text[i + 1] ?? ''))) {
      const m = NUMBER_AT.exec(text.slice(i));
      if (!m) throw new QuerySyntaxError(`Syntax error: malformed number at position ${start + 1}`);
      i += m[0].length;
      tokens.push({ t: 'number', v: Number(m[0]), raw: m[0], pos: start });
      continue;
    }
    if (IDENT_START.test(c)) {
      i++;
      while (i < n && IDENT_PART.test(text[i]!)) i++;
      tokens.push({ t: 'ident', v: text.slice(start, i), pos: start });
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === '!=' || two === '<>' || two === '<=' || two === '>=') {
      tokens.push({ t: 'punct', v: two === '<>' ? '!=' : two, pos: start });
      i += 2;
      continue;
    }
    if ('()[],.*=<>'.includes(c)) {
      tokens.push({ t: 'punct', v: c, pos: start });
      i++;
      continue;
    }
    throw new QuerySyntaxError(`Syntax error: unexpected character '${c}' at position ${start + 1}`);
  }
  tokens.push({ t: 'eof', v: '', pos: n });
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Parser

const RESERVED = new Set(['select', 'from', 'where', 'and', 'or', 'not', 'in', 'as', 'top']);

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly text: string,
  ) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)]!;
  }
  private next(): Token {
    const t = this.peek();
    if (this.i < this.tokens.length - 1) this.i++;
    return t;
  }
  private describe(t: Token): string {
    if (t.t === 'eof') return 'end of query';
    if (t.t === 'string') return `'${t.v}'`;
    if (t.t === 'number') return t.raw;
    return `'${t.v}'`;
  }
  fail(expected: string, t: Token = this.peek()): never {
    throw new QuerySyntaxError(`Syntax error at position ${t.pos + 1}: expected ${expected} but found ${this.describe(t)}`);
  }
  private isKeyword(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.t === 'ident' && t.v.toLowerCase() === word;
  }
  private acceptKeyword(word: string): boolean {
    if (this.isKeyword(word)) {
      this.i++;
      return true;
    }
    return false;
  }
  private expectKeyword(word: string): void {
    if (!this.acceptKeyword(word)) this.fail(word.toUpperCase());
  }
  private isPunct(p: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.t === 'punct' && t.v === p;
  }
  private acceptPunct(p: string): boolean {
    if (this.isPunct(p)) {
      this.i++;
      return true;
    }
    return false;
  }
  private expectPunct(p: string): void {
    if (!this.acceptPunct(p)) this.fail(`'${p}'`);
  }

  parse(): ParsedQuery {
    this.expectKeyword('select');
    let top: number | undefined;
    if (this.acceptKeyword('top')) {
      const t = this.next();
      if (t.t !== 'number' || !Number.isInteger(t.v) || t.v < 0) this.fail('a non-negative integer after TOP', t);
      top = t.v;
    }
    const select = this.parseSelection();
    this.expectKeyword('from');
    const from = this.parseCollection();
    let where: Condition | undefined;
    if (this.acceptKeyword('where')) where = this.parseOr();
    if (this.peek().t !== 'eof') this.fail(where ? 'AND, OR or end of query' : 'WHERE or end of query');
    return { text: this.text, select, from, where, top, itemType: select.kind === 'star' ? 'Twin' : 'Raw' };
  }

  private parseSelection(): Selection {
    if (this.acceptPunct('*')) return { kind: 'star' };
    if (this.isKeyword('count') && this.isPunct('(', 1)) {
      this.i += 2;
      this.expectPunct(')');
      let alias = '$1';
      if (this.acceptKeyword('as')) alias = this.parseIdent('an alias after AS');
      return { kind: 'count', alias };
    }
    const items: { path: string[]; key: string }[] = [];
    do {
      const path = this.parsePath('a property path, * or COUNT()');
      let key = path[path.length - 1]!;
      if (this.acceptKeyword('as')) key = this.parseIdent('an alias after AS');
      items.push({ path, key });
    } while (this.acceptPunct(','));
    return { kind: 'paths', items };
  }

  private parseCollection(): Collection {
    const t = this.peek();
    const path = this.parsePath('devices or devices.modules');
    const name = path.join('.').toLowerCase();
    if (name === 'devices' || name === 'devices.modules') return name;
    throw new QuerySyntaxError(`Syntax error at position ${t.pos + 1}: unsupported collection '${path.join('.')}' (expected devices or devices.modules)`);
  }

  private parseIdent(expected: string): string {
    const t = this.peek();
    if (t.t !== 'ident' || RESERVED.has(t.v.toLowerCase())) this.fail(expected);
    this.i++;
    return t.v;
  }

  private parsePath(expected: string): string[] {
    const first = this.parseIdent(expected);
    const path = [first];
    while (this.isPunct('.')) {
      this.i++;
      const t = this.next();
      // After a dot any word is a property name, keywords included (`tags.from`).
      if (t.t === 'ident') path.push(t.v);
      else if (t.t === 'number' && /^\d+$/.test(t.raw)) path.push(t.raw);
      else this.fail("a property name after '.'", t);
    }
    return path;
  }

  private parseOr(): Condition {
    let left = this.parseAnd();
    while (this.acceptKeyword('or')) left = { kind: 'or', left, right: this.parseAnd() };
    return left;
  }

  private parseAnd(): Condition {
    let left = this.parseNot();
    while (this.acceptKeyword('and')) left = { kind: 'and', left, right: this.parseNot() };
    return left;
  }

  private parseNot(): Condition {
    if (this.acceptKeyword('not')) return { kind: 'not', operand: this.parseNot() };
    return this.parsePrimary();
  }

  private parsePrimary(): Condition {
    if (this.acceptPunct('(')) {
      const inner = this.parseOr();
      this.expectPunct(')');
      return inner;
    }
    if (this.isKeyword('is_defined') && this.isPunct('(', 1)) {
      this.i += 2;
      const path = this.parsePath('a property path in IS_DEFINED()');
      this.expectPunct(')');
      return { kind: 'isDefined', path };
    }
    const left = this.parseOperand();
    if (this.isKeyword('in') || (this.isKeyword('not') && this.isKeyword('in', 1))) {
      const negated = this.acceptKeyword('not');
      this.expectKeyword('in');
      return { kind: 'in', negated, operand: left, values: this.parseList() };
    }
    const t = this.peek();
    if (t.t === 'punct' && ['=', '!=', '<', '>', '<=', '>='].includes(t.v)) {
      this.i++;
      return { kind: 'compare', op: t.v as CompareOp, left, right: this.parseOperand() };
    }
    this.fail('a comparison operator (= != <> < > <= >=), IN or NOT IN');
  }

  private parseOperand(): Operand {
    const t = this.peek();
    if (t.t === 'string') {
      this.i++;
      return { kind: 'literal', value: t.v };
    }
    if (t.t === 'number') {
      this.i++;
      return { kind: 'literal', value: t.v };
    }
    if (t.t === 'ident') {
      const word = t.v.toLowerCase();
      if ((word === 'true' || word === 'false' || word === 'null') && !this.isPunct('.', 1)) {
        this.i++;
        return { kind: 'literal', value: word === 'null' ? null : word === 'true' };
      }
      return { kind: 'path', path: this.parsePath('a property path or a literal') };
    }
    this.fail('a property path or a literal');
  }

  private parseLiteral(): Literal {
    const t = this.peek();
    if (t.t === 'string' || t.t === 'number') {
      this.i++;
      return t.v;
    }
    if (t.t === 'ident') {
      const word = t.v.toLowerCase();
      if (word === 'true' || word === 'false' || word === 'null') {
        this.i++;
        return word === 'null' ? null : word === 'true';
      }
    }
    this.fail('a literal in the IN list');
  }

  private parseList(): Literal[] {
    this.expectPunct('[');
    const values: Literal[] = [];
    if (this.acceptPunct(']')) return values;
    do values.push(this.parseLiteral());
    while (this.acceptPunct(','));
    this.expectPunct(']');
    return values;
  }
}

/** Parses a query; throws {@link QuerySyntaxError} with a message naming the position. */
export function parseQuery(text: string): ParsedQuery {
  if (typeof text !== 'string' || text.trim() === '') throw new QuerySyntaxError('Syntax error: the query is empty');
  return new Parser(tokenize(text), text).parse();
}

// ---------------------------------------------------------------------------------------------
// Evaluation (conditions are compiled to closures once per execution)

type Row = Record<string, unknown>;
type Getter = (row: Row) => unknown;
type Predicate = (row: Row) => boolean;

interface CompileContext {
  from: Collection;
  parent(row: Row): Row | undefined;
}

function walk(value: unknown, path: readonly string[], start: number): unknown {
  let cur = value;
  for (let i = start; i < path.length; i++) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Row)[path[i]!];
  }
  return cur;
}

function compileGetter(path: readonly string[], ctx: CompileContext): Getter {
  if (path[0] === 'devices') {
    if (ctx.from === 'devices') return (row) => walk(row, path, 1);
    if (path[1] === 'modules') return (row) => walk(row, path, 2);
    if (path.length === 2 && path[1] === 'deviceId') return (row) => row['deviceId'];
    return (row) => walk(ctx.parent(row), path, 1);
  }
  if (path.length === 1) {
    const key = path[0]!;
    return (row) => row[key];
  }
  if (path.length === 2) {
    const [a, b] = path as [string, string];
    return (row) => {
      const v = row[a];
      return v !== null && typeof v === 'object' ? (v as Row)[b] : undefined;
    };
  }
  return (row) => walk(row, path, 0);
}

function compileOperand(operand: Operand, ctx: CompileContext): Getter {
  if (operand.kind === 'path') return compileGetter(operand.path, ctx);
  const value = operand.value;
  return () => value;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as Row);
  const kb = Object.keys(b as Row);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual((a as Row)[k], (b as Row)[k]));
}

function ordered(a: unknown, b: unknown): boolean {
  return (typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string');
}

function compileCondition(c: Condition, ctx: CompileContext): Predicate {
  switch (c.kind) {
    case 'and': {
      const l = compileCondition(c.left, ctx);
      const r = compileCondition(c.right, ctx);
      return (row) => l(row) && r(row);
    }
    case 'or': {
      const l = compileCondition(c.left, ctx);
      const r = compileCondition(c.right, ctx);
      return (row) => l(row) || r(row);
    }
    case 'not': {
      const inner = compileCondition(c.operand, ctx);
      return (row) => !inner(row);
    }
    case 'isDefined': {
      const get = compileGetter(c.path, ctx);
      return (row) => get(row) !== undefined;
    }
    case 'in': {
      const get = compileOperand(c.operand, ctx);
      const primitives = new Set<unknown>(c.values);
      const negated = c.negated;
      return (row) => {
        const v = get(row);
        if (v === undefined) return false;
        return primitives.has(v) !== negated;
      };
    }
    case 'compare': {
      const l = compileOperand(c.left, ctx);
      const r = compileOperand(c.right, ctx);
      switch (c.op) {
        case '=':
          return (row) => {
            const a = l(row);
            const b = r(row);
            return a !== undefined && b !== undefined && (a === b || deepEqual(a, b));
          };
        case '!=':
          return (row) => {
            const a = l(row);
            const b = r(row);
            return a !== undefined && b !== undefined && a !== b && !deepEqual(a, b);
          };
        case '<':
          return (row) => {
            const a = l(row);
            const b = r(row);
            return ordered(a, b) && (a as number) < (b as number);
          };
        case '>':
          return (row) => {
            const a = l(row);
            const b = r(row);
            return ordered(a, b) && (a as number) > (b as number);
          };
        case '<=':
          return (row) => {
            const a = l(row);
            const b = r(row);
            return ordered(a, b) && (a as number) <= (b as number);
          };
        case '>=':
          return (row) => {
            const a = l(row);
            const b = r(row);
            return ordered(a, b) && (a as number) >= (b as number);
          };
      }
    }
  }
}

/**
 * Runs a parsed query over a source and returns every result row (paging is the caller's job).
 * `SELECT *` rows are the source objects themselves (not copies).
 */
export function executeQuery(parsed: ParsedQuery, source: QuerySource): unknown[] {
  const rows = (parsed.from === 'devices' ? source.twins : (source.moduleTwins ?? [])) as readonly Row[];
  let deviceIndex: Map<unknown, Row> | undefined;
  const ctx: CompileContext = {
    from: parsed.from,
    parent(row) {
      if (!deviceIndex) {
        deviceIndex = new Map();
        for (const t of source.twins as readonly Row[]) deviceIndex.set(t['deviceId'], t);
      }
      return deviceIndex.get(row['deviceId']);
    },
  };
  const limit = parsed.top ?? Infinity;
  let matched: Row[];
  if (parsed.where) {
    const pred = compileCondition(parsed.where, ctx);
    matched = [];
    for (let i = 0; i < rows.length && matched.length < limit; i++) {
      const row = rows[i]!;
      if (pred(row)) matched.push(row);
    }
  } else {
    matched = limit < rows.length ? rows.slice(0, limit) : rows.slice();
  }
  const select = parsed.select;
  if (select.kind === 'star') return matched;
  if (select.kind === 'count') return [{ [select.alias]: matched.length }];
  const getters = select.items.map((item) => ({ key: item.key, get: compileGetter(item.path, ctx) }));
  return matched.map((row) => {
    const out: Row = {};
    for (const g of getters) {
      const v = g.get(row);
      if (v !== undefined) out[g.key] = v;
    }
    return out;
  });
}
