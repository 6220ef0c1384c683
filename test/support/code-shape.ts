import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';

/** One function-like node of a source file and its size in lines. */
export interface FunctionSize {
  file: string;
  name: string;
  line: number;
  /** Lines of its own: its span less the spans of the functions nested in it. */
  ownLines: number;
  /** Its whole span, nested functions included. */
  totalLines: number;
}

/** Every `.ts` file below `dir`, as paths relative to `root`, sorted. */
export function listSourceFiles(root: string, dir: string): string[] {
  const found: string[] = [];
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) found.push(relative(root, path));
    }
  };
  walk(join(root, dir));
  return found.sort();
}

/**
 * The relative module specifiers of a file's imports and re-exports (type-only ones included:
 * a type is a dependency too), resolved to paths relative to the repository root.
 */
export function readImports(root: string, file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(join(root, file), 'utf8'), ts.ScriptTarget.Latest, true);
  const specifiers: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [argument] = node.arguments;
      if (argument && ts.isStringLiteral(argument)) specifiers.push(argument.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specifiers.filter((s) => s.startsWith('.')).map((s) => normalize(join(dirname(file), s)));
}

/** The size of every function, method, arrow function and accessor in a file. */
export function measureFunctions(root: string, file: string): FunctionSize[] {
  const source = ts.createSourceFile(file, readFileSync(join(root, file), 'utf8'), ts.ScriptTarget.Latest, true);
  const lineOf = (position: number) => source.getLineAndCharacterOfPosition(position).line;
  const span = (node: ts.Node) => lineOf(node.getEnd()) - lineOf(node.getStart(source)) + 1;
  const sizes: FunctionSize[] = [];
  // Returns the lines the nested functions below `node` span, so the caller can subtract them.
  const visit = (node: ts.Node): number => {
    if (isFunctionLike(node)) {
      const totalLines = span(node);
      let nestedLines = 0;
      ts.forEachChild(node, (child) => void (nestedLines += visit(child)));
      sizes.push({ file, name: nameOf(node, source), line: lineOf(node.getStart(source)) + 1, ownLines: totalLines - nestedLines, totalLines });
      return totalLines;
    }
    let nested = 0;
    ts.forEachChild(node, (child) => void (nested += visit(child)));
    return nested;
  };
  visit(source);
  return sizes;
}

function isFunctionLike(node: ts.Node): node is ts.FunctionLikeDeclaration {
  return ts.isFunctionDeclaration(node) || ts.isFunctionExpression(node) || ts.isArrowFunction(node) || ts.isMethodDeclaration(node)
    || ts.isConstructorDeclaration(node) || ts.isGetAccessorDeclaration(node) || ts.isSetAccessorDeclaration(node);
}

function nameOf(node: ts.FunctionLikeDeclaration, source: ts.SourceFile): string {
  if (node.name) return node.name.getText(source);
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) return parent.name.getText(source);
  return `(anonymous at line ${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1})`;
}

/** An import that breaks the layout: from a folder to one it may not use, or out of lib/. */
export interface LayoutViolation {
  from: string;
  to: string;
  rule: string;
}

/**
 * Checks each file's imports against `allowed` (folder → folders it may import besides itself).
 * A file in a folder the rules do not name is a violation too, so a new folder must be placed.
 */
export function findLayoutViolations(imports: ReadonlyMap<string, readonly string[]>, allowed: Readonly<Record<string, readonly string[]>>): LayoutViolation[] {
  const violations: LayoutViolation[] = [];
  for (const [from, targets] of imports) {
    const folder = dirname(from);
    const permitted = allowed[folder];
    if (!permitted) {
      violations.push({ from, to: folder, rule: 'a folder without a layout rule' });
      continue;
    }
    for (const to of targets) {
      const target = dirname(to);
      if (target !== folder && !permitted.includes(target)) violations.push({ from, to, rule: `${folder} may import only ${permitted.join(', ') || 'itself'}` });
    }
  }
  return violations;
}

/** Every import cycle between files, each as the list of files around it (empty when acyclic). */
export function findImportCycles(imports: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    path.push(file);
    for (const next of imports.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next) && imports.has(next)) visit(next);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of [...imports.keys()].sort()) if (!state.has(file)) visit(file);
  return cycles;
}
