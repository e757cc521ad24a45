import { createMongoAbility, type MongoAbility } from '@casl/ability';
import { unpackRules, type PackRule } from '@casl/ability/extra';

/**
 * The viewer's CASL ability, built from `viewerRules` (CASL's packed form). It decides locally exactly
 * as rolegate's `check` would, for any resource: always pass one, `subject('Resource', {...})` with
 * `locationPath` (the location and all its ancestors), `teamIds`, `personId`, `groupIds`; `{}` is the
 * organization root. @casl/react's `<AbilityProvider value={ability}>` hands it to every `<Can>`.
 */
export type AppAbility = MongoAbility;

export function abilityFrom(rules: unknown): AppAbility {
  return createMongoAbility(unpackRules((rules ?? []) as PackRule<never>[]));
}
