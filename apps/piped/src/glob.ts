/** Compiles a PipeCD path pattern (`*`, `**`, `?`) relative to the repo root. */
export function globToRegExp(pattern: string): RegExp {
  let re = "";
  const p = pattern.replace(/^\.?\//, "");
  for (let i = 0; i < p.length; i++) {
    const ch = p[i] ?? "";
    if (ch === "*" && p[i + 1] === "*") {
      re += ".*";
      i++;
      if (p[i + 1] === "/") i++;
    } else if (ch === "*") re += "[^/]*";
    else if (ch === "?") re += "[^/]";
    else re += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}
