import { createContext, useContext } from "react";
import type { UserInfo } from "@pipecd-ts/rest-api";

const RANK = { viewer: 0, editor: 1, admin: 2 } as const;

/** The signed-in user (the app renders pages only with one). */
export const SessionContext = createContext<UserInfo | undefined>(undefined);

/** The signed-in user. */
export function useUser(): UserInfo {
  const u = useContext(SessionContext);
  if (!u) throw new Error("useUser outside a signed-in page");
  return u;
}

/**
 * Whether the user's role reaches `need`. Only hides what the user cannot do: the server checks
 * every call again (DESIGN §5), so a forged request is refused whatever the UI shows.
 */
export function useCan(need: UserInfo["role"]): boolean {
  return RANK[useUser().role] >= RANK[need];
}
