import { IrsaReconcilerError } from '../../errors';
import type { PolicyDocument } from '../types';

/**
 * Parses a policy document as IAM returns it. IAM sends `AssumeRolePolicyDocument` and
 * `GetRolePolicy`'s `PolicyDocument` URL-encoded (RFC 3986); some emulators send plain JSON.
 * Plain JSON is tried first: an encoded document always starts with `%7B`, never with `{`,
 * so a literal `%` inside a plain document is never mistaken for an escape.
 */
export function decodePolicyDocument(text: string, what: string): PolicyDocument {
  const trimmed = text.trim();
  let json: string;
  if (trimmed.startsWith('{')) {
    json = trimmed;
  } else {
    try {
      json = decodeURIComponent(trimmed);
    } catch (error) {
      throw new IrsaReconcilerError(`${what}: policy document is neither JSON nor URL-encoded JSON`, {
        cause: error,
      });
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new IrsaReconcilerError(`${what}: policy document is not valid JSON`, { cause: error });
  }
  const document = toPolicyDocument(parsed);
  if (!document) throw new IrsaReconcilerError(`${what}: policy document has no Statement`);
  return document;
}

/** The model's shape: a statement list (IAM also accepts one statement object) and a Version. */
function toPolicyDocument(value: unknown): PolicyDocument | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { Version, Statement, ...rest } = value as Record<string, unknown>;
  if (Version !== undefined && typeof Version !== 'string') return undefined;
  if (typeof Statement !== 'object' || Statement === null) return undefined;
  const statements = (Array.isArray(Statement) ? Statement : [Statement]) as unknown[];
  if (!statements.every((statement) => typeof statement === 'object' && statement !== null)) return undefined;
  // A document without Version is evaluated by IAM as the 2008-10-17 language version.
  return {
    ...rest,
    Version: Version ?? '2008-10-17',
    Statement: statements as PolicyDocument['Statement'],
  };
}
