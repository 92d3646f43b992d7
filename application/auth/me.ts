export interface Me {
  accountId: string;
  loginId: string;
  displayName: string;
  email: string;
  roles: string[];
  passkeyCount: number;
}

/**
 * The signed-in account as its owner sees it. Everything here was read by this request's
 * session authentication (session_auth(), one query, fresh on every request), so answering
 * costs no further round trip and is exactly as current as the access decision itself.
 */
export function readMe(signedIn: Me): Me {
  const { accountId, loginId, displayName, email, roles, passkeyCount } = signedIn;
  return { accountId, loginId, displayName, email, roles, passkeyCount };
}
