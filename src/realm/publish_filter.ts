/**
 * Subscriber black- and whitelisting for PUBLISH (WAMP advanced profile): the
 * `exclude`, `exclude_authid`, `exclude_authrole`, `eligible`, `eligible_authid`
 * and `eligible_authrole` options.
 *
 * Rule: an event reaches a subscriber only if the subscriber matches no blacklist
 * and matches every whitelist that was given. A filter is built once per publish;
 * a publish without lists gets none, so the common case pays nothing per subscriber.
 *
 * @module
 */

import { ErrorUri } from "../protocol/constants.ts";
import { WampError } from "../protocol/errors.ts";
import { isId } from "../protocol/ids.ts";
import type { Dict } from "../protocol/messages.ts";
import type { Participant } from "./participant.ts";

/** The PUBLISH options that are black- and whitelists. */
export const LIST_OPTIONS = [
  "exclude",
  "exclude_authid",
  "exclude_authrole",
  "eligible",
  "eligible_authid",
  "eligible_authrole",
] as const;

/** Decides, per subscriber, whether a publish may reach it. */
export class PublishFilter {
  private constructor(
    private readonly exclude: ReadonlySet<number> | null,
    private readonly excludeAuthid: ReadonlySet<string> | null,
    private readonly excludeAuthrole: ReadonlySet<string> | null,
    private readonly eligible: ReadonlySet<number> | null,
    private readonly eligibleAuthid: ReadonlySet<string> | null,
    private readonly eligibleAuthrole: ReadonlySet<string> | null,
  ) {}

  /**
   * Builds the filter a PUBLISH's options ask for, or null when they ask for none.
   * @throws {WampError} `wamp.error.invalid_argument` when a list is malformed.
   */
  static fromOptions(options: Dict): PublishFilter | null {
    const exclude = idSet(options.exclude, "exclude");
    const excludeAuthid = stringSet(options.exclude_authid, "exclude_authid");
    const excludeAuthrole = stringSet(options.exclude_authrole, "exclude_authrole");
    const eligible = idSet(options.eligible, "eligible");
    const eligibleAuthid = stringSet(options.eligible_authid, "eligible_authid");
    const eligibleAuthrole = stringSet(options.eligible_authrole, "eligible_authrole");
    if (
      exclude === null && excludeAuthid === null && excludeAuthrole === null &&
      eligible === null && eligibleAuthid === null && eligibleAuthrole === null
    ) return null;
    return new PublishFilter(
      exclude,
      excludeAuthid,
      excludeAuthrole,
      eligible,
      eligibleAuthid,
      eligibleAuthrole,
    );
  }

  /** Whether the event may reach `s`. */
  allows(s: Participant): boolean {
    if (this.exclude !== null && this.exclude.has(s.id)) return false;
    if (this.excludeAuthid !== null && this.excludeAuthid.has(s.authid)) return false;
    if (this.excludeAuthrole !== null && this.excludeAuthrole.has(s.authrole)) return false;
    if (this.eligible !== null && !this.eligible.has(s.id)) return false;
    if (this.eligibleAuthid !== null && !this.eligibleAuthid.has(s.authid)) return false;
    if (this.eligibleAuthrole !== null && !this.eligibleAuthrole.has(s.authrole)) return false;
    return true;
  }
}

function idSet(value: unknown, name: string): Set<number> | null {
  if (value === undefined) return null;
  if (!Array.isArray(value) || !value.every(isId)) {
    throw new WampError(ErrorUri.INVALID_ARGUMENT, [`option ${name} must be a list of session ids`]);
  }
  return new Set(value);
}

function stringSet(value: unknown, name: string): Set<string> | null {
  if (value === undefined) return null;
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new WampError(ErrorUri.INVALID_ARGUMENT, [`option ${name} must be a list of strings`]);
  }
  return new Set(value);
}
