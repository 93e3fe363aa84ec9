/**
 * Where the simulators' fixtures are: `fixtures/<kind>/` of the package. Found
 * relative to this module, two levels below the package root: the same from
 * dist/simulate/ and from the bundle's dist/bundle/ (scripts/bundle.mjs).
 */
import { fileURLToPath } from 'node:url';

export const fixturesDir = (kind: 'ndtwin' | 'netbox' | 'junos' | 'netbeam'): string => fileURLToPath(new URL(`../../fixtures/${kind}/`, import.meta.url));
