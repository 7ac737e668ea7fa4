import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { Metadata, status, experimental } from "@grpc/grpc-js";

/** URI scheme of a list of control-plane addresses (our resolver, registered once). */
const LIST_SCHEME = "pipecd-list";

/** A `host:port` split (IPv6 hosts in brackets). */
function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(":");
  const host = address.slice(0, i).replace(/^\[(.*)\]$/, "$1");
  return { host, port: Number(address.slice(i + 1)) };
}

/**
 * gRPC name resolution of a list of `host:port` (DESIGN §7, issue 17): every host is looked up
 * (all of its A/AAAA records), and the addresses go to gRPC's pick_first in a random order, so
 * pipeds spread over the replicas; the channel connects to one and moves to another when its
 * connection drops.
 * Resolution runs again whenever gRPC asks (a lost connection), so a replica that moved to a new
 * IP is found again.
 */
class AddressListResolver implements experimental.Resolver {
  private readonly addresses: { host: string; port: number }[];
  private running = false;
  private again = false;
  private generation = 0;
  private destroyed = false;

  constructor(
    target: experimental.GrpcUri,
    private readonly listener: experimental.ResolverListener,
  ) {
    this.addresses = target.path
      .split(",")
      .map((a) => a.trim())
      .filter(Boolean)
      .map(splitAddress);
  }

  updateResolution(): void {
    this.destroyed = false;
    // One lookup at a time; asked again meanwhile (or destroyed and revived), it runs once more.
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    const generation = ++this.generation;
    void this.resolve(generation).finally(() => {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.updateResolution();
      }
    });
  }

  private async resolve(generation: number): Promise<void> {
    const failures: string[] = [];
    const endpoints: experimental.Endpoint[] = [];
    const seen = new Set<string>();
    for (const { host, port } of this.addresses) {
      try {
        const found = isIP(host)
          ? [{ address: host }]
          : await lookup(host, { all: true, verbatim: true });
        for (const { address } of found) {
          const key = `${address}|${port}`;
          if (seen.has(key)) continue;
          seen.add(key);
          endpoints.push({ addresses: [{ host: address, port }] });
        }
      } catch (err) {
        failures.push(`${host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    if (this.destroyed || generation !== this.generation) return;
    // Shuffled here: grpc-js's own shuffleAddressList never moves the first of two addresses
    // (its loop stops at index 2), so every piped would stream from the first replica.
    for (let i = endpoints.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [endpoints[i], endpoints[j]] = [endpoints[j]!, endpoints[i]!];
    }
    if (endpoints.length > 0)
      this.listener(experimental.statusOrFromValue(endpoints), {}, null, "");
    else
      this.listener(
        experimental.statusOrFromError({
          code: status.UNAVAILABLE,
          details: `no control-plane address resolved (${failures.join("; ")})`,
          metadata: new Metadata(),
        }),
        {},
        null,
        "",
      );
  }

  destroy(): void {
    this.destroyed = true;
  }

  /** TLS checks every replica's certificate against the first address's host name. */
  static getDefaultAuthority(target: experimental.GrpcUri): string {
    const first = target.path.split(",")[0]?.trim() ?? "";
    return splitAddress(first).host;
  }
}

let registered = false;

/**
 * The gRPC target of the piped's `apiAddress`: one `host:port` or `dns:///host:port` as is (gRPC's
 * own DNS resolver, which already tries every address the name resolves to); a comma-separated
 * list through {@link AddressListResolver}.
 */
export function grpcTarget(apiAddress: string): string {
  const list = apiAddress
    .split(",")
    .map((a) => a.trim())
    .filter(Boolean);
  if (list.length <= 1) return list[0] ?? apiAddress;
  if (!registered) {
    experimental.registerResolver(LIST_SCHEME, AddressListResolver);
    registered = true;
  }
  return `${LIST_SCHEME}:///${list.join(",")}`;
}

/**
 * The channel's service config: pick_first over the resolved addresses. Its shuffle spreads
 * pipeds over the addresses a DNS name resolves to (from the third on: see the resolver above
 * for a list, which it shuffles itself).
 */
export const PIPED_SERVICE_CONFIG = JSON.stringify({
  loadBalancingConfig: [{ pick_first: { shuffleAddressList: true } }],
});
