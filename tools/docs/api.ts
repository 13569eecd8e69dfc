/**
 * The API reference: every declaration a package's `src/index.ts` exports, with its signature
 * and its TSDoc comment, read with the TypeScript compiler API (one program for all packages).
 */
import { join } from 'node:path';
import ts from 'typescript';

/** The kinds of exported declarations. */
export type ApiKind = 'function' | 'class' | 'interface' | 'type' | 'enum' | 'variable' | 'namespace';

/** One member of a class or interface. */
export interface ApiMember {
  readonly name: string;
  readonly signature: string;
  readonly doc: string;
}

/** One exported declaration. */
export interface ApiEntry {
  /** The name it is exported as. */
  readonly name: string;
  readonly kind: ApiKind;
  /** The declaration without bodies, as TypeScript would print it in a .d.ts file. */
  readonly signature: string;
  /** The TSDoc comment's text, with `@param`, `@returns`, `@throws` and `@default` tags appended as lines. */
  readonly doc: string;
  /** Public members of classes and interfaces (with their own docs). */
  readonly members: readonly ApiMember[];
  /** Source file of the declaration, relative to the package folder. */
  readonly file: string;
  readonly typeOnly: boolean;
}

/** A package's exports. */
export interface PackageApi {
  readonly name: string;
  readonly entries: readonly ApiEntry[];
}

const printer = ts.createPrinter({ removeComments: true, omitTrailingSemicolon: false });

/** Reads the exports of `packages/<name>/src/index.ts` for every name in `names`. */
export function extractApis(root: string, names: readonly string[]): PackageApi[] {
  const entryFiles = names.map((name) => join(root, 'packages', name, 'src', 'index.ts'));
  const config = ts.readConfigFile(join(root, 'tsconfig.json'), (path) => ts.sys.readFile(path));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  const program = ts.createProgram({ rootNames: entryFiles, options: { ...parsed.options, noEmit: true, skipLibCheck: true } });
  const checker = program.getTypeChecker();
  return names.map((name, index) => {
    const source = program.getSourceFile(entryFiles[index]);
    if (source === undefined) throw new Error(`packages/${name}/src/index.ts not found`);
    const moduleSymbol = checker.getSymbolAtLocation(source);
    const exports = moduleSymbol === undefined ? [] : checker.getExportsOfModule(moduleSymbol);
    const packageDir = join(root, 'packages', name);
    const entries = exports
      .map((symbol) => describeExport(symbol, checker, packageDir))
      .filter((entry): entry is ApiEntry => entry !== undefined)
      .sort((a, b) => a.name.localeCompare(b.name));
    return { name, entries };
  });
}

function describeExport(exported: ts.Symbol, checker: ts.TypeChecker, packageDir: string): ApiEntry | undefined {
  const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
  const declarations = symbol.getDeclarations() ?? [];
  const declaration = declarations[0];
  if (declaration === undefined) return undefined;
  const typeOnly = (exported.getDeclarations() ?? []).some((d) => ts.isExportSpecifier(d) && (d.isTypeOnly || d.parent.parent.isTypeOnly));
  const kind = kindOf(declaration);
  const file = declaration.getSourceFile().fileName;
  const relative = file.startsWith(packageDir) ? file.slice(packageDir.length + 1) : file;
  return {
    name: exported.name,
    kind,
    signature: signatureOf(exported.name, symbol, declarations, checker),
    doc: docOf(symbol, checker),
    members: kind === 'class' || kind === 'interface' ? membersOf(symbol, declaration, checker) : [],
    file: relative,
    typeOnly,
  };
}

function kindOf(declaration: ts.Declaration): ApiKind {
  if (ts.isFunctionDeclaration(declaration)) return 'function';
  if (ts.isClassDeclaration(declaration)) return 'class';
  if (ts.isInterfaceDeclaration(declaration)) return 'interface';
  if (ts.isTypeAliasDeclaration(declaration)) return 'type';
  if (ts.isEnumDeclaration(declaration)) return 'enum';
  if (ts.isModuleDeclaration(declaration) || ts.isSourceFile(declaration)) return 'namespace';
  return 'variable';
}

/** A one-line-per-declaration text of the export, bodies removed. */
function signatureOf(name: string, symbol: ts.Symbol, declarations: readonly ts.Declaration[], checker: ts.TypeChecker): string {
  const first = declarations[0];
  if (ts.isFunctionDeclaration(first)) {
    return declarations
      .filter(ts.isFunctionDeclaration)
      .filter((d, _, all) => all.length === 1 || d.body === undefined)
      .map((d) => print(ts.factory.updateFunctionDeclaration(d, stripExport(d.modifiers), d.asteriskToken, ts.factory.createIdentifier(name), d.typeParameters, d.parameters, d.type ?? typeNode(d, checker), undefined)))
      .join('\n');
  }
  if (ts.isClassDeclaration(first)) {
    const heritage = first.heritageClauses?.map((h) => print(h)).join(' ');
    const typeParameters = first.typeParameters === undefined ? '' : `<${first.typeParameters.map((t) => print(t)).join(', ')}>`;
    return `class ${name}${typeParameters}${heritage === undefined ? '' : ` ${heritage}`}`;
  }
  if (ts.isInterfaceDeclaration(first)) {
    const heritage = first.heritageClauses?.map((h) => print(h)).join(' ');
    const typeParameters = first.typeParameters === undefined ? '' : `<${first.typeParameters.map((t) => print(t)).join(', ')}>`;
    return `interface ${name}${typeParameters}${heritage === undefined ? '' : ` ${heritage}`}`;
  }
  if (ts.isTypeAliasDeclaration(first)) {
    return print(ts.factory.updateTypeAliasDeclaration(first, stripExport(first.modifiers), ts.factory.createIdentifier(name), first.typeParameters, first.type));
  }
  if (ts.isEnumDeclaration(first)) return print(ts.factory.updateEnumDeclaration(first, stripExport(first.modifiers), ts.factory.createIdentifier(name), first.members));
  if (ts.isVariableDeclaration(first)) {
    const list = first.parent;
    const keyword = ts.isVariableDeclarationList(list) && list.flags & ts.NodeFlags.Const ? 'const' : 'let';
    const type = checker.getTypeOfSymbolAtLocation(symbol, first);
    return `${keyword} ${name}: ${checker.typeToString(type, first, ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType)}`;
  }
  return `${kindOf(first)} ${name}`;
}

function stripExport(modifiers: ts.NodeArray<ts.ModifierLike> | undefined): ts.ModifierLike[] | undefined {
  return modifiers?.filter((m) => m.kind !== ts.SyntaxKind.ExportKeyword && m.kind !== ts.SyntaxKind.DefaultKeyword && m.kind !== ts.SyntaxKind.DeclareKeyword);
}

function typeNode(declaration: ts.SignatureDeclaration, checker: ts.TypeChecker): ts.TypeNode | undefined {
  const signature = checker.getSignatureFromDeclaration(declaration);
  if (signature === undefined) return undefined;
  return checker.typeToTypeNode(checker.getReturnTypeOfSignature(signature), declaration, ts.NodeBuilderFlags.NoTruncation);
}

function print(node: ts.Node): string {
  const file = ts.createSourceFile('api.ts', '', ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  return printer.printNode(ts.EmitHint.Unspecified, node, node.getSourceFile?.() ?? file).replace(/\s+/g, ' ').trim();
}

function docOf(symbol: ts.Symbol, checker: ts.TypeChecker): string {
  const text = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
  const tags = symbol
    .getJsDocTags(checker)
    .filter((tag) => ['param', 'returns', 'throws', 'default', 'defaultValue', 'deprecated', 'example', 'see'].includes(tag.name))
    .map((tag) => {
      const body = ts.displayPartsToString(tag.text).trim();
      return `- @${tag.name}${body === '' ? '' : ` ${body}`}`;
    });
  return tags.length === 0 ? text : `${text}\n\n${tags.join('\n')}`;
}

const HIDDEN = ts.ModifierFlags.Private | ts.ModifierFlags.Protected;

function membersOf(symbol: ts.Symbol, declaration: ts.Declaration, checker: ts.TypeChecker): ApiMember[] {
  const members: ApiMember[] = [];
  const add = (name: string, node: ts.Declaration, memberSymbol: ts.Symbol | undefined): void => {
    if (name.startsWith('#') || ts.getCombinedModifierFlags(node) & HIDDEN) return;
    if (members.some((m) => m.name === name && ts.isMethodDeclaration(node) && node.body !== undefined)) return;
    members.push({ name, signature: memberSignature(node, checker), doc: memberSymbol === undefined ? '' : docOf(memberSymbol, checker) });
  };
  const container = declaration as ts.ClassDeclaration | ts.InterfaceDeclaration;
  for (const member of container.members) {
    if (ts.isConstructorDeclaration(member)) {
      if (member.body !== undefined && container.members.some((m) => ts.isConstructorDeclaration(m) && m.body === undefined)) continue;
      add('constructor', member, symbol.members?.get('__constructor' as ts.__String));
      continue;
    }
    if (ts.isClassStaticBlockDeclaration(member) || ts.isIndexSignatureDeclaration(member) || ts.isSemicolonClassElement(member)) {
      if (ts.isIndexSignatureDeclaration(member)) add('[index]', member, undefined);
      continue;
    }
    if (ts.isCallSignatureDeclaration(member) || ts.isConstructSignatureDeclaration(member)) {
      add(ts.isCallSignatureDeclaration(member) ? '(call)' : 'new', member, undefined);
      continue;
    }
    const name = member.name === undefined ? '' : member.name.getText();
    if (name === '') continue;
    // Methods with overloads: list the overloads, not the implementation.
    if ((ts.isMethodDeclaration(member) || ts.isMethodSignature(member)) && ts.isMethodDeclaration(member) && member.body !== undefined) {
      const overloads = container.members.filter((m) => ts.isMethodDeclaration(m) && m.name?.getText() === name && m.body === undefined);
      if (overloads.length > 0) continue;
    }
    add(name, member, checker.getSymbolAtLocation(member.name as ts.Node));
  }
  return members;
}

function memberSignature(node: ts.Declaration, checker: ts.TypeChecker): string {
  if (ts.isMethodDeclaration(node) && node.body !== undefined) {
    return print(ts.factory.updateMethodDeclaration(node, node.modifiers, node.asteriskToken, node.name, node.questionToken, node.typeParameters, node.parameters, node.type ?? typeNode(node, checker), undefined));
  }
  if (ts.isConstructorDeclaration(node)) return print(ts.factory.updateConstructorDeclaration(node, node.modifiers, node.parameters.map(withoutAccessModifier), undefined));
  if ((ts.isGetAccessorDeclaration(node) || ts.isSetAccessorDeclaration(node)) && node.body !== undefined) {
    const type = ts.isGetAccessorDeclaration(node) ? node.type ?? typeNode(node, checker) : undefined;
    return ts.isGetAccessorDeclaration(node)
      ? print(ts.factory.updateGetAccessorDeclaration(node, node.modifiers, node.name, node.parameters, type, undefined))
      : print(ts.factory.updateSetAccessorDeclaration(node, node.modifiers, node.name, node.parameters, undefined));
  }
  if (ts.isPropertyDeclaration(node)) {
    const type = node.type ?? checker.typeToTypeNode(checker.getTypeAtLocation(node), node, ts.NodeBuilderFlags.NoTruncation);
    return print(ts.factory.updatePropertyDeclaration(node, node.modifiers, node.name, node.questionToken ?? node.exclamationToken, type, undefined));
  }
  return print(node);
}

function withoutAccessModifier(parameter: ts.ParameterDeclaration): ts.ParameterDeclaration {
  return ts.factory.updateParameterDeclaration(parameter, undefined, parameter.dotDotDotToken, parameter.name, parameter.questionToken, parameter.type, parameter.initializer);
}
