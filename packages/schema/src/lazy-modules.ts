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

/** A loader of module `id` that requires it on its first call and hands back the same module after. */
function lazy<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => {
    loaded ??= require(id) as T;
    return loaded;
  };
}

/** The `yaml` package: the position-keeping parse, used when a YAML document has a problem to report. */
export const yamlModule = lazy<typeof Yaml>('yaml');
/** js-yaml: the fast YAML parse (yaml-fast.ts). */
export const jsYamlModule = lazy<typeof JsYaml>('js-yaml');
/** filtrex: compiles conditions (expression.ts). */
export const filtrexModule = lazy<typeof Filtrex>('filtrex');
/** croner: checks cron expressions of schedule triggers (triggers.ts). */
export const cronerModule = lazy<typeof Croner>('croner');
