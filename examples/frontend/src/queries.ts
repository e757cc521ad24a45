/**
 * The app's GraphQL documents, as plain strings (the app wraps them in Apollo's `gql`; the Chromium test
 * and bench/frontend/run.ts send the same text).
 */

/**
 * Everything the first screen needs, in ONE request: who the viewer is and where they hold anything, the
 * UI manifest (menu, buttons, tools) at the place the app shows, and every rule for CASL. Guarded reads are
 * nullable, so a refused field costs that field only (read with `errorPolicy: 'all'`).
 */
export const BOOTSTRAP = /* GraphQL */ `
  query Bootstrap($locationId: ID) {
    viewer {
      id
      name
      scopes {
        id
        type
        name
        roles
        location {
          id
          path {
            id
          }
        }
        team {
          id
        }
      }
    }
    capabilities(locationId: $locationId) {
      id
      grantsVersion
      pages {
        key
        name
        module
        order
      }
      modules {
        key
        name
        order
        pages {
          key
          name
          order
        }
      }
      operations {
        operation
        allowed
      }
      tools {
        tool
        mode
      }
    }
    viewerRules {
      rules
      expiresAt
    }
  }
`;

/** Fires each time the viewer's grantsVersion changes (a role given or taken, a flag, a tool policy…). */
export const CAPABILITIES_CHANGED = /* GraphQL */ `
  subscription CapabilitiesChanged($locationId: ID) {
    capabilitiesChanged(locationId: $locationId) {
      id
      grantsVersion
    }
  }
`;
