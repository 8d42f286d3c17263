/** What every handler may use: the store, the face engine, the users and the token issuer. */
import type { FaceEngine } from './engine/engine';
import type { Store } from './store';
import type { UserDirectory } from './users';

export interface TokenIssuer {
  issue(username: string): string;
}

export interface Services {
  store: Store;
  engine: FaceEngine;
  users: UserDirectory;
  tokens: TokenIssuer;
  /** A face detected again by the same detector within this window is the same detection. */
  duplicateWindowMs: number;
  /** Enrollment refuses faces of lower quality unless forceEnrollment is set. */
  minEnrollQuality: number;
  log: (message: string) => void;
}
