/** Types of pack.mjs (plain JavaScript, so scripts/install-global.mjs runs without a build). */
export interface PublicPackage {
  name: string;
  version: string;
  /** The package's directory in the repository. */
  dir: string;
  /** What `pnpm pack` names its tarball. */
  tarballName: string;
}
export interface PackedPackage extends PublicPackage {
  /** The absolute path of the tarball. */
  tarball: string;
}
export const REPO: string;
export function publicPackages(): PublicPackage[];
export function packAll(destination: string): PackedPackage[];
/** Each package after the packages of ours it depends on; throws on a cycle. */
export function inDependencyOrder<P extends { name: string; dir: string }>(packages: P[]): P[];
