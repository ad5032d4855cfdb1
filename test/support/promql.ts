/**
 * The metric names a PromQL expression (an alert rule's, a Grafana panel's) selects: what it would
 * silently find nothing for if a name were misspelled or renamed.
 */

/** Words of PromQL that are not metric names wherever they stand. */
const KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'inf', 'nan']);

export function metricNames(expr: string): string[] {
  const bare = expr
    // String literals first: label values and Grafana's variables inside them.
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    // Grafana's variables outside strings: [$__rate_interval], ${var}, [[var]].
    .replace(/\$\{[^}]*\}|\$\w+|\[\[\w+\]\]/g, '')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\boffset\s+-?\w+/g, ' ')
    .replace(/@\s*(?:start\(\)|end\(\)|[\d.]+)/g, ' ');
  const names = new Set<string>();
  for (const match of bare.matchAll(/(?<![\w.:])([a-zA-Z_:][\w:]*)(?![\w:])(\s*\()?/g)) {
    const [, word, call] = match;
    if (call || KEYWORDS.has(word!.toLowerCase())) continue; // a function or aggregation, or a keyword
    names.add(word!);
  }
  return [...names].sort();
}

/** The metric of a Grafana variable query `label_values(<selector>, <label>)`; null for `label_values(<label>)`. */
export function labelValuesMetric(query: string): string[] | null {
  const match = /^\s*label_values\(\s*([\s\S]*),\s*\w+\s*\)\s*$/.exec(query);
  return match ? metricNames(match[1]!) : null;
}
