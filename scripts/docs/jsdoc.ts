/**
 * Reads the doc comments of the members of an exported `as const` object (`ErrorCode`,
 * `DiagnosticCode`, `EventType`, ...) from its source file, so the reference uses the
 * words written next to the code.
 */
import { readFileSync } from 'node:fs';
import ts from 'typescript';

/** Member name -> its JSDoc text (members without one are absent). Throws when the object is not found. */
export function constObjectDocs(file: string, name: string): Map<string, string> {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  let literal: ts.ObjectLiteralExpression | undefined;
  const visit = (node: ts.Node): void => {
    if (literal) return;
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.name.text === name) {
      let init = node.initializer;
      while (init && (ts.isAsExpression(init) || ts.isSatisfiesExpression(init))) init = init.expression;
      if (init && ts.isObjectLiteralExpression(init)) literal = init;
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  if (!literal) throw new Error(`${file}: no object literal named ${name}`);
  const docs = new Map<string, string>();
  for (const prop of literal.properties) {
    if (!prop.name || !(ts.isIdentifier(prop.name) || ts.isStringLiteral(prop.name))) continue;
    const comments = ts.getJSDocCommentsAndTags(prop).filter(ts.isJSDoc);
    const last = comments.at(-1);
    const comment = last ? ts.getTextOfJSDocComment(last.comment) : undefined;
    if (comment?.trim()) docs.set(prop.name.text, comment.replace(/\s*\n\s*/g, ' ').trim());
  }
  return docs;
}
