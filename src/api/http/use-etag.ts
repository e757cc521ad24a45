import { createHash } from 'node:crypto';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { Kind, type DocumentNode, type FragmentDefinitionNode, type SelectionSetNode } from 'graphql';

/**
 * The root fields whose answers clients poll for: a query made of these alone gets an ETag. Each is a
 * function of the organization's state and the viewer, with no clock or randomness in it, so the same
 * state always gives the same bytes. Other queries get none (`check` and `checks` are decided per call,
 * and hashing their large answers would only slow them).
 */
export const ETAG_ROOT_FIELDS: ReadonlySet<string> = new Set([
  'capabilities',
  'viewerRules',
  'viewer',
  '__typename',
]);

/** What such a response says to caches: only the viewer's own client keeps it, and asks again each time. */
export const ETAG_CACHE_CONTROL = 'private, no-cache';

/**
 * A strong ETag on a successful query of `ETAG_ROOT_FIELDS` (over GET or POST), computed from the
 * response body itself: the same bytes, the same tag, whatever changed elsewhere; so a poller whose
 * answer did not change (ask for `grantsVersion`, not the organization's `version`, which every write
 * moves) gets `304 Not Modified`, with no body, for its `If-None-Match`. From the body rather than from
 * versions: it is right by construction for any field in the list, however its answer is made, at the
 * price of computing the answer (a few milliseconds) before saying it did not change. Never on
 * mutations, subscriptions, or a response with errors. The 304's empty body is the HTTP handler's
 * (`notModified`).
 */
export function useEtag<C extends BaseContext>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ request, response, operation, document }) {
          if (!operation || operation.operation !== 'query' || !document) return;
          if (response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          if (result.errors?.length || result.data == null) return;
          if (response.http.status !== undefined && response.http.status !== 200) return;
          for (const field of rootFields(document, operation.selectionSet))
            if (!ETAG_ROOT_FIELDS.has(field)) return;
          const tag = `"${createHash('sha256').update(JSON.stringify(result)).digest('base64url').slice(0, 32)}"`;
          response.http.headers.set('etag', tag);
          response.http.headers.set('cache-control', ETAG_CACHE_CONTROL);
          if (matches(request.http?.headers.get('if-none-match'), tag)) response.http.status = 304;
        },
      };
    },
  };
}

/** Whether an If-None-Match header names `tag` (weak comparison, as RFC 9110 wants for it), or is `*`. */
export function matches(header: string | undefined, tag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const given = t.trim();
    return given === '*' || given === tag || given === `W/${tag}`;
  });
}

/** The root fields an operation selects, through its fragments (each fragment read once). */
function rootFields(document: DocumentNode, set: SelectionSetNode, seen = new Set<string>()): string[] {
  const fragments = new Map(
    document.definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((d) => [d.name.value, d]),
  );
  const out: string[] = [];
  const walk = (s: SelectionSetNode) => {
    for (const sel of s.selections) {
      if (sel.kind === Kind.FIELD) out.push(sel.name.value);
      else if (sel.kind === Kind.INLINE_FRAGMENT) walk(sel.selectionSet);
      else if (!seen.has(sel.name.value)) {
        seen.add(sel.name.value);
        const fragment = fragments.get(sel.name.value);
        if (fragment) walk(fragment.selectionSet);
      }
    }
  };
  walk(set);
  return out;
}
