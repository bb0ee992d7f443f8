// Which exported symbols of a module lack a doc comment, by the TypeScript compiler API (the
// same rule TypeDoc's `validation.notDocumented` applies, without generating anything):
// - every export of each entry point (re-exports resolved to their declaration);
// - every public or protected property, method and accessor of an exported class or interface,
//   including those inherited from a base that is not exported itself.
// A member without its own comment counts as documented when the declaration it overrides or
// implements has one (TypeScript and TypeDoc both inherit such comments). Skipped: private and
// `#private` members, anything tagged `@internal` (TypeDoc's excludeInternal), constructors, and
// members declared outside the project (Error's `message`, `stack`, ...).
import ts from 'typescript';

export interface Coverage {
  /** "module.Name" or "module.Name.member", for each symbol checked. */
  checked: string[];
  /** The checked symbols that have no doc comment. */
  undocumented: string[];
}

function isInternal(decl: ts.Declaration): boolean {
  return ts.getJSDocTags(decl).some((t) => t.tagName.text === 'internal');
}

function isOutsideProject(decl: ts.Declaration, program: ts.Program): boolean {
  const file = decl.getSourceFile();
  return program.isSourceFileDefaultLibrary(file) || program.isSourceFileFromExternalLibrary(file)
    || file.fileName.includes('/node_modules/');
}

function hasDoc(sym: ts.Symbol, checker: ts.TypeChecker): boolean {
  return ts.displayPartsToString(sym.getDocumentationComment(checker)).trim() !== '';
}

/**
 * Check the exports of `entries` (label -> source file path) compiled with `options`. `host`
 * lets a test feed in-memory files.
 */
export function docCoverage(entries: Record<string, string>, options: ts.CompilerOptions,
  host?: ts.CompilerHost): Coverage {
  const program = ts.createProgram({ rootNames: Object.values(entries), options, host });
  const checker = program.getTypeChecker();
  const checked: string[] = [];
  const undocumented: string[] = [];
  const check = (name: string, sym: ts.Symbol): void => {
    checked.push(name);
    if (!hasDoc(sym, checker)) undocumented.push(name);
  };

  for (const [label, path] of Object.entries(entries)) {
    const file = program.getSourceFile(path);
    if (file === undefined) throw new Error(`docCoverage: cannot read ${path}`);
    const moduleSym = checker.getSymbolAtLocation(file);
    if (moduleSym === undefined) throw new Error(`docCoverage: ${path} is not a module`);
    for (const exported of checker.getExportsOfModule(moduleSym)) {
      const sym = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const decls = sym.declarations ?? [];
      if (decls.length > 0 && decls.every(isInternal)) continue;
      const name = `${label}.${exported.name}`;
      check(name, sym);
      if (!(sym.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface))) continue;
      const instance = checker.getDeclaredTypeOfSymbol(sym);
      const members = [...checker.getPropertiesOfType(instance)];
      if (sym.flags & ts.SymbolFlags.Class) {
        const statics = checker.getTypeOfSymbol(sym);
        members.push(...checker.getPropertiesOfType(statics).filter((m) => m.name !== 'prototype'));
      }
      for (const member of members) {
        const mdecls = member.declarations ?? [];
        if (mdecls.length === 0) continue;
        if (mdecls.every((d) => isOutsideProject(d, program))) continue;
        // Own tag, or inherited from the declaration it overrides (as TypeDoc inherits it).
        if (mdecls.some(isInternal) || member.getJsDocTags(checker).some((t) => t.name === 'internal')) continue;
        const first = mdecls[0]!;
        if (ts.getCombinedModifierFlags(first) & ts.ModifierFlags.Private) continue;
        const declName = ts.getNameOfDeclaration(first);
        if (declName !== undefined && ts.isPrivateIdentifier(declName)) continue;
        check(`${name}.${member.name.replace(/^__@(\w+)@\d+$/, '[$1]')}`, member);
      }
    }
  }
  return { checked, undocumented };
}
