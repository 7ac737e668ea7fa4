import { Role } from "@pipecd-ts/proto";

/** Role names as they appear in configs and REST bodies. */
export type RoleName = "viewer" | "editor" | "admin";

/** The lowercase name of a role. */
export function roleName(role: Role): RoleName {
  switch (role) {
    case Role.VIEWER:
      return "viewer";
    case Role.EDITOR:
      return "editor";
    case Role.ADMIN:
      return "admin";
  }
}

/** Parses a role name; undefined if unknown. */
export function parseRole(name: string): Role | undefined {
  switch (name) {
    case "viewer":
      return Role.VIEWER;
    case "editor":
      return Role.EDITOR;
    case "admin":
      return Role.ADMIN;
    default:
      return undefined;
  }
}

/** Whether `have` includes the permissions of `need` (viewer < editor < admin). */
export function roleAllows(have: Role, need: Role): boolean {
  return have >= need;
}
