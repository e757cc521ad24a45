import { decodeJwt } from 'jose';
import { isUuid, StoreError, type Store } from '../store';
import { developmentSecret, signDevelopmentToken, type AuthConfig } from './tokens';

/** A development token as `POST /dev/token` and `rolegate token` give it. */
export interface DevelopmentToken {
  token: string;
  userId: string;
  orgId: string;
  /** ISO 8601: the token's `exp`. */
  expiresAt: string;
}

/**
 * A development token (12 h) for `user` (an id or an email, any case) of organization `org`, signed
 * by the development key. Only for an active user of that very organization: NOT_FOUND when the
 * organization or the user in it does not exist (a user of another organization does not exist
 * here), CONFLICT when the user is deleted or locked (a token they could not use anyway).
 */
export async function developmentTokenFor(
  store: Store,
  auth: Pick<AuthConfig, 'secret' | 'issuer' | 'audience'>,
  org: string,
  user: string,
): Promise<DevelopmentToken> {
  if (!isUuid(org) || !(await store.organizations.get(org)))
    throw new StoreError('NOT_FOUND', `organization ${org} does not exist`);
  const found = isUuid(user)
    ? (await store.users.getMany(org, [user]))[0]
    : await store.users.byEmail(org, user);
  if (!found) throw new StoreError('NOT_FOUND', `user ${user} does not exist in organization ${org}`);
  if (found.deletedAt) throw new StoreError('CONFLICT', `user ${user} is deleted: undelete them first`);
  if (found.locked) throw new StoreError('CONFLICT', `user ${user} is locked: unlock them first`);
  const token = await signDevelopmentToken(
    await developmentSecret(store, auth),
    { orgId: org, userId: found.id },
    auth,
  );
  const { exp } = decodeJwt(token);
  return { token, userId: found.id, orgId: org, expiresAt: new Date(exp! * 1000).toISOString() };
}
