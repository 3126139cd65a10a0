/**
 * Admission of contract code: the checks a block depends on. They are purely
 * syntactic (DESIGN §4): block validity never depends on running contract
 * code, so this module parses with a pinned parser and runs nothing.
 */
import { getLineInfo, type Node, Parser } from 'acorn';
import { SandboxError } from './errors.ts';

/** Largest contract source, in UTF-8 bytes (DESIGN §4). */
export const MAX_CONTRACT_CODE_BYTES = 64 * 1024;

/**
 * The language level admitted. Fixed rather than "latest" so a parser upgrade
 * can never change which contracts are valid.
 */
export const CONTRACT_ECMA_VERSION = 2025;

/** The top-level names the runtime reads. */
export const CONTRACT_EXPORTS = ['size', 'input', 'mcu', 'union', 'validate'] as const;
export type ContractExport = (typeof CONTRACT_EXPORTS)[number];

export interface ContractCodeInfo {
  /** Source size in UTF-8 bytes. */
  bytes: number;
  /** Which of the runtime's names the source declares at top level. */
  declares: ReadonlySet<ContractExport>;
}

/**
 * How deep the parser may nest its own calls. acorn is recursive, and where
 * a host's stack runs out depends on the JIT's state and on the caller's
 * depth: a contract could then be valid on one node and not on another, and
 * split the chain. Counted instead, the limit is a property of the bytes. At
 * 1,000 levels (about 140 nested parentheses, 110 nested object literals or
 * 1,000 chained operators) a cold parse still had room for 4,000 more
 * frames of its caller.
 */
export const MAX_PARSE_DEPTH = 1000;

/** Thrown at MAX_PARSE_DEPTH; carries where the parser was. */
class TooDeep extends Error {
  readonly pos: number;
  constructor(pos: number) {
    super('too deep');
    this.pos = pos;
  }
}

/** acorn's Parser with its recursive calls counted against MAX_PARSE_DEPTH. */
class DepthLimitedParser extends Parser {
  depth = 0;
}
for (const name of Object.getOwnPropertyNames(Parser.prototype)) {
  const method = Object.getOwnPropertyDescriptor(Parser.prototype, name)?.value;
  // Every recursion in acorn goes through its parse… and regexp_… methods;
  // the rest (tokens, scopes, checks of the tree built) are leaves or walk
  // a tree the counted calls already bounded.
  if (!/^(parse|regexp_)/.test(name) || typeof method !== 'function') continue;
  Object.defineProperty(DepthLimitedParser.prototype, name, {
    configurable: true,
    writable: true,
    value: function (this: DepthLimitedParser & { start: number }, ...args: unknown[]) {
      if (++this.depth > MAX_PARSE_DEPTH) throw new TooDeep(this.start);
      try {
        return method.apply(this, args);
      } finally {
        this.depth--;
      }
    },
  });
}

/**
 * Names a script may not declare lexically at top level: they are
 * non-configurable properties of the global object, so V8 refuses the script
 * when it starts, though it parses.
 */
const RESTRICTED_GLOBALS = new Set(['undefined', 'NaN', 'Infinity']);

/**
 * Checks contract code for admission to the mempool and to a block: size,
 * strict-mode syntax, and top-level declarations of `input` and `mcu`.
 * Throws SandboxError CODE_TOO_LARGE, COMPILE_ERROR (with meta.line/column)
 * or MISSING_EXPORT. Synchronous and fast (well under a millisecond for
 * typical code, a few for 64 KiB).
 */
export function checkContractCode(source: string): ContractCodeInfo {
  if (typeof source !== 'string') {
    throw new SandboxError('COMPILE_ERROR', 'contract code must be a string', { op: 'load' });
  }
  // Checked on the string length first so a huge string costs nothing: UTF-8
  // never takes fewer bytes than UTF-16 code units.
  if (source.length > MAX_CONTRACT_CODE_BYTES) {
    throw tooLarge(source.length, 'at least ');
  }
  const bytes = Buffer.byteLength(source, 'utf8');
  if (bytes > MAX_CONTRACT_CODE_BYTES) throw tooLarge(bytes, '');
  if (!source.isWellFormed()) {
    // A lone surrogate has no UTF-8 form, so such code cannot be the text of
    // any transaction.
    throw new SandboxError('COMPILE_ERROR', 'contract code is not well-formed Unicode (lone surrogate)', {
      op: 'load',
    });
  }

  let program: Node & { body: Node[] };
  try {
    program = DepthLimitedParser.parse(source, {
      ecmaVersion: CONTRACT_ECMA_VERSION,
      sourceType: 'script',
      strict: true,
      locations: true,
      allowHashBang: false,
      allowReturnOutsideFunction: false,
      allowAwaitOutsideFunction: false,
      allowImportExportEverywhere: false,
    }) as Node & { body: Node[] };
  } catch (err) {
    throw compileErrorFromParser(err, source);
  }

  const declares = new Set<ContractExport>();
  for (const stmt of program.body) {
    for (const decl of topLevelDeclarations(stmt)) {
      if (decl.lexical && RESTRICTED_GLOBALS.has(decl.name)) {
        throw new SandboxError('COMPILE_ERROR', `'${decl.name}' cannot be redeclared at top level`, {
          op: 'load',
          line: decl.line,
          column: decl.column,
        });
      }
      if (!isExportName(decl.name)) continue;
      if (decl.badFunction !== undefined && decl.name !== 'size') {
        // An async or generator `mcu` returns a promise or an iterator, and a
        // class cannot be called: certain mistakes, refused before they cost anyone.
        throw new SandboxError('BAD_EXPORT', `${decl.name} must be a plain function, not ${decl.badFunction}`, {
          op: 'load',
          name: decl.name,
          line: decl.line,
          column: decl.column,
        });
      }
      declares.add(decl.name);
    }
  }
  for (const name of ['input', 'mcu'] as const) {
    if (!declares.has(name)) {
      throw new SandboxError('MISSING_EXPORT', `contract code does not declare \`${name}\` at top level`, {
        op: 'load',
        name,
      });
    }
  }
  return { bytes, declares };
}

function tooLarge(actual: number, bound: string): SandboxError {
  return new SandboxError(
    'CODE_TOO_LARGE',
    `contract code is ${bound}${actual} bytes, over the ${MAX_CONTRACT_CODE_BYTES}-byte limit`,
    { op: 'load', limit: MAX_CONTRACT_CODE_BYTES, actual },
  );
}

function isExportName(name: string): name is ContractExport {
  return (CONTRACT_EXPORTS as readonly string[]).includes(name);
}

function compileErrorFromParser(err: unknown, source: string): Error {
  if (err instanceof TooDeep) {
    const { line, column } = getLineInfo(source, err.pos);
    return new SandboxError(
      'COMPILE_ERROR',
      `contract code nests too deeply at line ${line}, column ${column + 1}: the parser's limit is ${MAX_PARSE_DEPTH} levels`,
      { op: 'load', line, column: column + 1 },
    );
  }
  if (err instanceof SyntaxError && err.message.startsWith('Not enough stack space')) {
    // Below MAX_PARSE_DEPTH this needs a host stack far smaller than Node's.
    // Not a verdict on the code (it is no ZiError, so no block is found
    // invalid for it): this node could not decide.
    return new Error(`this node ran out of stack parsing contract code within ${MAX_PARSE_DEPTH} levels`);
  }
  if (err instanceof SyntaxError) {
    const loc = (err as SyntaxError & { loc?: { line: number; column: number } }).loc;
    // acorn appends " (line:column)"; the meta carries it instead.
    const message = err.message.replace(/ \(\d+:\d+\)$/, '');
    const line = loc?.line;
    const column = loc === undefined ? undefined : loc.column + 1;
    const where = line === undefined ? '' : ` at line ${line}, column ${column}`;
    return new SandboxError('COMPILE_ERROR', `contract code does not compile${where}: ${message}`, {
      op: 'load',
      line,
      column,
    });
  }
  return new SandboxError('COMPILE_ERROR', `contract code does not compile: ${String(err)}`, { op: 'load' });
}

interface Declared {
  name: string;
  lexical: boolean;
  line: number;
  column: number;
  /** Set when the declaration cannot be called to get a result directly. */
  badFunction?: 'async' | 'generator' | 'a class';
}

interface AstNode {
  type: string;
  loc?: { start: { line: number; column: number } };
  [key: string]: unknown;
}

/** The names one top-level statement binds in the global scope. */
function topLevelDeclarations(node: Node): Declared[] {
  const stmt = node as unknown as AstNode;
  const at = (n: AstNode) => ({ line: n.loc?.start.line ?? 0, column: (n.loc?.start.column ?? 0) + 1 });
  switch (stmt.type) {
    case 'FunctionDeclaration': {
      const id = stmt.id as AstNode;
      const badFunction = stmt.async ? 'async' : stmt.generator ? 'generator' : undefined;
      return [{ name: id.name as string, lexical: true, ...at(id), badFunction }];
    }
    case 'ClassDeclaration': {
      const id = stmt.id as AstNode;
      return [{ name: id.name as string, lexical: true, ...at(id), badFunction: 'a class' }];
    }
    case 'VariableDeclaration': {
      const lexical = stmt.kind !== 'var';
      const out: Declared[] = [];
      for (const d of stmt.declarations as AstNode[]) {
        for (const id of boundIdentifiers(d.id as AstNode)) {
          out.push({ name: id.name as string, lexical, ...at(id) });
        }
      }
      return out;
    }
    default:
      return [];
  }
}

function boundIdentifiers(pattern: AstNode): AstNode[] {
  switch (pattern.type) {
    case 'Identifier':
      return [pattern];
    case 'ObjectPattern':
      return (pattern.properties as AstNode[]).flatMap((p) =>
        p.type === 'RestElement' ? boundIdentifiers(p.argument as AstNode) : boundIdentifiers(p.value as AstNode),
      );
    case 'ArrayPattern':
      return (pattern.elements as (AstNode | null)[]).flatMap((e) => (e === null ? [] : boundIdentifiers(e)));
    case 'AssignmentPattern':
      return boundIdentifiers(pattern.left as AstNode);
    case 'RestElement':
      return boundIdentifiers(pattern.argument as AstNode);
    default:
      return [];
  }
}
