// String formats of CRD schemas. The apiserver strips every format outside its supported list
// (apiextensions StripUnsupportedFormatsPostProcess) before validating, so `int32`, `int64`,
// `double` and `float` constrain nothing on a real cluster; only these string formats are checked.
import { parseGoDuration } from "./duration.js";

const SUPPORTED = new Set([
  "bsonobjectid",
  "uri",
  "email",
  "hostname",
  "ipv4",
  "ipv6",
  "cidr",
  "mac",
  "uuid",
  "uuid3",
  "uuid4",
  "uuid5",
  "isbn",
  "isbn10",
  "isbn13",
  "creditcard",
  "ssn",
  "hexcolor",
  "rgbcolor",
  "byte",
  "password",
  "date",
  "duration",
  "datetime",
]);

/** The format the apiserver keeps for validation: the schema's format if supported, else "". */
export function effectiveFormat(format: string | undefined): string {
  if (!format) return "";
  return SUPPORTED.has(format.replaceAll("-", "")) ? format : "";
}

const HOSTNAME =
  /^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$/u;
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const UUID3 = /^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const UUID4 = /^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$/i;
const UUID5 = /^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$/i;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MAC =
  /^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}(?:(\1[0-9a-fA-F]{2}){2}|(\1[0-9a-fA-F]{2}){14})?$/;
const EMAIL = /^[^\s@<>]+@[^\s@<>]+$/;
const HEXCOLOR = /^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;
const RGBCOLOR = /^rgb\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*\)$/;
const SSN = /^\d{3}[- ]?\d{2}[- ]?\d{4}$/;
const ISBN10 = /^(?:[0-9]{9}X|[0-9]{10})$/;
const ISBN13 = /^(?:[0-9]{13})$/;
const BSON = /^[0-9a-fA-F]{24}$/;
const STRFMT_DURATION = /^(\d+(\.\d+)?)\s*(ns|us|µs|ms|s|m|h|d|w|y)[a-z]*$/i;

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const days = [
    31,
    y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28,
    31,
    30,
    31,
    30,
    31,
    31,
    30,
    31,
    30,
    31,
  ];
  return d <= (days[m - 1] ?? 0);
}

function isIPv4(s: string): boolean {
  const parts = s.split(".");
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function isIPv6(s: string): boolean {
  if (!s.includes(":")) return false;
  let rest = s;
  // An embedded IPv4 tail counts as two groups.
  const lastColon = rest.lastIndexOf(":");
  const tail = rest.slice(lastColon + 1);
  if (tail.includes(".")) {
    if (!isIPv4(tail)) return false;
    rest = rest.slice(0, lastColon + 1) + "0:0";
  }
  const halves = rest.split("::");
  if (halves.length > 2) return false;
  const groups = (h: string): string[] | undefined => {
    if (h === "") return [];
    const g = h.split(":");
    return g.every((x) => /^[0-9a-fA-F]{1,4}$/.test(x)) ? g : undefined;
  };
  const a = groups(halves[0] ?? "");
  const b = halves.length === 2 ? groups(halves[1] ?? "") : [];
  if (!a || !b) return false;
  const n = a.length + b.length;
  return halves.length === 2 ? n < 8 : n === 8;
}

/** Whether `value` satisfies the (supported) string format, following kube-openapi's strfmt checks. */
export function checkFormat(format: string, value: string): boolean {
  switch (format.replaceAll("-", "")) {
    case "byte":
      return BASE64.test(value);
    case "date": {
      const m = DATE.exec(value);
      return m !== null && validDate(Number(m[1]), Number(m[2]), Number(m[3]));
    }
    case "datetime": {
      const m = DATE_TIME.exec(value);
      return (
        m !== null &&
        validDate(Number(m[1]), Number(m[2]), Number(m[3])) &&
        Number(m[4]) < 24 &&
        Number(m[5]) < 60 &&
        Number(m[6]) < 60
      );
    }
    case "ipv4":
      return isIPv4(value);
    case "ipv6":
      return isIPv6(value);
    case "cidr": {
      const slash = value.indexOf("/");
      if (slash < 0) return false;
      const ip = value.slice(0, slash);
      const bits = value.slice(slash + 1);
      if (!/^\d{1,3}$/.test(bits)) return false;
      if (isIPv4(ip)) return Number(bits) <= 32;
      return isIPv6(ip) && Number(bits) <= 128;
    }
    case "mac":
      return MAC.test(value);
    case "hostname":
      return value.length <= 255 && HOSTNAME.test(value);
    case "email":
      return EMAIL.test(value);
    case "uri":
      return /^[a-zA-Z][a-zA-Z0-9+.-]*:\S*$/.test(value) || /^\/\S*$/.test(value);
    case "uuid":
      return UUID.test(value);
    case "uuid3":
      return UUID3.test(value);
    case "uuid4":
      return UUID4.test(value);
    case "uuid5":
      return UUID5.test(value);
    case "isbn":
      return (
        ISBN10.test(value.replaceAll(/[- ]/g, "")) || ISBN13.test(value.replaceAll(/[- ]/g, ""))
      );
    case "isbn10":
      return ISBN10.test(value.replaceAll(/[- ]/g, ""));
    case "isbn13":
      return ISBN13.test(value.replaceAll(/[- ]/g, ""));
    case "creditcard":
      return /^\d{12,19}$/.test(value.replaceAll(/\D/g, ""));
    case "ssn":
      return SSN.test(value);
    case "hexcolor":
      return HEXCOLOR.test(value);
    case "rgbcolor":
      return RGBCOLOR.test(value);
    case "bsonobjectid":
      return BSON.test(value);
    case "duration":
      return parseGoDuration(value) !== undefined || STRFMT_DURATION.test(value.trim());
    default:
      return true;
  }
}
