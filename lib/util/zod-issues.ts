import type { core } from 'zod';

/**
 * The one way a validation failure is told, for configurations and events alike: each problem on its
 * own, starting with the path of the field at fault (`bindings[1].namespace: ...`); an unknown key is
 * named as such (a typo must not pass for a default), a missing one is "is required".
 */
export function issueLines(issues: readonly core.$ZodIssue[], root = '(config)'): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        lines.push(`${formatPath([...issue.path, key], root)}: unknown field (check the spelling)`);
    } else {
      lines.push(`${formatPath(issue.path, root)}: ${issueMessage(issue)}`);
    }
  }
  return lines;
}

/** Every issue of a zod error on one line, `; `-separated (for event errors). */
export function formatIssues(error: { issues: readonly core.$ZodIssue[] }): string {
  return issueLines(error.issues, '(event)').join('; ');
}

function issueMessage(issue: core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'is required';
  return issue.message;
}

/** `['bindings', 1, 'namespace']` → `bindings[1].namespace`; the empty path is `root`. */
export function formatPath(path: readonly PropertyKey[], root = '(config)'): string {
  if (path.length === 0) return root;
  return path
    .map((part, index) =>
      typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`,
    )
    .join('');
}
