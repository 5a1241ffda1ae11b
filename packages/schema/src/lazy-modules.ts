import { createRequire } from 'node:module';
import type * as Croner from 'croner';
import type * as Filtrex from 'filtrex';
import type * as JsYaml from 'js-yaml';
import type * as Yaml from 'yaml';

/**
 * Libraries that only some documents need, loaded on first use rather than with the package:
 * a program that runs JSON documents without conditions or schedules never pays for the YAML
 * parsers (~9 MB of RSS), filtrex or croner. Each ships CommonJS, so loading stays
 * synchronous (the loaders and validators are synchronous functions) and happens once.
 */
const require = createRequire(import.meta.url);

let yaml: typeof Yaml | undefined;
/** The `yaml` package: the position-keeping parse, used when a YAML document has a problem to report. */
export function yamlModule(): typeof Yaml {
  yaml ??= require('yaml') as typeof Yaml;
  return yaml;
}

let jsYaml: typeof JsYaml | undefined;
/** js-yaml: the fast YAML parse (yaml-fast.ts). */
export function jsYamlModule(): typeof JsYaml {
  jsYaml ??= require('js-yaml') as typeof JsYaml;
  return jsYaml;
}

let filtrex: typeof Filtrex | undefined;
/** filtrex: compiles conditions (expression.ts). */
export function filtrexModule(): typeof Filtrex {
  filtrex ??= require('filtrex') as typeof Filtrex;
  return filtrex;
}

let croner: typeof Croner | undefined;
/** croner: checks cron expressions of schedule triggers (triggers.ts). */
export function cronerModule(): typeof Croner {
  croner ??= require('croner') as typeof Croner;
  return croner;
}
