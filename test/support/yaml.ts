/**
 * YAML files (the examples' Kubernetes manifests and Prometheus rules) parsed by a real YAML parser:
 * PyYAML, through python3, since the project has no YAML dependency of its own. Like Kubernetes'
 * own reader it loads YAML 1.1; each document comes back as JSON.
 */
import { spawnSync } from 'node:child_process';

const TO_JSON = 'import json, sys, yaml\njson.dump(list(yaml.safe_load_all(open(sys.argv[1], encoding="utf-8"))), sys.stdout, default=str)';

/** The PATH's python3 first; then Debian's, which python3-yaml installs for (a pyenv may shadow it). */
const PYTHON = ['python3', '/usr/bin/python3'].find((python) => spawnSync(python, ['-c', 'import yaml']).status === 0);

/** Whether a python3 with PyYAML is there, with the reason when not. */
export function yamlReaderAvailable(): { ok: boolean; reason?: string } {
  return PYTHON ? { ok: true } : { ok: false, reason: 'no python3 with the yaml module (Debian: apt-get install python3-yaml)' };
}

/** Every document of a YAML file, in order (a comment-only stream part is no document). */
export function readYamlDocuments(path: string): unknown[] {
  if (!PYTHON) throw new Error(yamlReaderAvailable().reason);
  const result = spawnSync(PYTHON, ['-c', TO_JSON, path], { encoding: 'utf8' });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${path} is not valid YAML:\n${result.stderr}`);
  return JSON.parse(result.stdout) as unknown[];
}
