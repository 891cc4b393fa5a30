/**
 * The `auth` plugin: a simple Digest authentication policy (RFC 3261 §22) for a service,
 * on top of the stack's Digest machinery (`sip/digest.ts`, run by the request pipeline).
 *
 * - `sipGetUserPass` answers the password (or `"HA1!<hex>"`) of a configured user, and
 *   passes unknown users (and other realms, when `realm` is set) down the chain;
 * - `sipAuthorize`, for a protected method, decides as NkSIP's documented policy does:
 *   a request inside a dialog (or from a current registration) passes; valid credentials
 *   for the realm pass; credentials that all failed get **403 Forbidden** (no new
 *   challenge: the UA already answered one); no credentials for the realm get a challenge,
 *   **401** with `WWW-Authenticate` (or **407** with `Proxy-Authenticate` when `proxy` is
 *   true). Other methods continue down the chain (the default accepts them).
 *
 * Config (`pluginConfig.auth`):
 *
 * | key | default | meaning |
 * |---|---|---|
 * | `realm` | the service's `realm` | realm of the challenges and of accepted credentials |
 * | `users` | `{}` | user name → password, or `"HA1!<hex>"` (hex of H(user:realm:password)) |
 * | `methods` | `[REGISTER, INVITE]` | methods that need credentials |
 * | `proxy` | `false` | challenge with 407 / Proxy-Authenticate instead of 401 |
 *
 * @example
 * ```ts
 * import { start } from "../service/service.ts";
 * import { auth } from "./auth.ts";
 * const dir = await Deno.makeTempDir();
 * const svc = await start("auth_doc", {
 *   dataDir: dir,
 *   listen: ["sip:127.0.0.1:0"],
 *   plugins: [auth],
 *   pluginConfig: { auth: { realm: "example.com", users: { alice: "secret" }, methods: ["MESSAGE"] } },
 *   callbacks: { sipMessage: () => "ok" },
 * });
 * const target = `sip:127.0.0.1:${svc.transports[0]?.port}`;
 * const denied = await svc.message(target, { body: "hi" });
 * const allowed = await svc.message(target, { body: "hi", auth: { username: "alice", password: "secret" } });
 * if (denied.status !== 401 || allowed.status !== 200) throw new Error("unexpected");
 * await svc.stop();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { definePlugin, type Plugin } from "../service/plugin.ts";
import type { AuthorizeResult } from "../service/sip_callbacks.ts";

/** The auth plugin's config. */
export interface AuthConfig {
  /** The realm, or undefined for the service's own (`realm` option, default its name). */
  realm: string | undefined;
  /** User name → password or `"HA1!<hex>"`. */
  users: ReadonlyMap<string, string>;
  /** Methods that need credentials (upper case). */
  methods: ReadonlySet<string>;
  /** Challenge as a proxy (407) instead of a UAS (401). */
  proxy: boolean;
}

/** The auth plugin. */
export const auth: Plugin<"auth", undefined> = definePlugin({
  name: "auth",
  config: (r): AuthConfig => {
    const realm = r.optionalString("realm");
    if (realm === "") throw r.error("realm", "must not be empty");
    const raw = r.raw("users");
    const users = new Map<string, string>();
    if (raw !== undefined) {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        throw r.error("users", "must be a mapping of user names to passwords");
      }
      for (const [name, pass] of Object.entries(raw)) {
        if (typeof pass !== "string") {
          throw r.error(`users.${name}`, 'must be a password string or "HA1!<hex>"');
        }
        if (pass.startsWith("HA1!") && !/^HA1![0-9a-fA-F]{32,128}$/.test(pass)) {
          throw r.error(`users.${name}`, 'HA1 must be hex digits after "HA1!"');
        }
        users.set(name, pass);
      }
    }
    const methods = new Set(
      r.stringList("methods", ["REGISTER", "INVITE"]).map((m) => m.toUpperCase()),
    );
    return { realm, users, methods, proxy: r.boolean("proxy", false) };
  },
  callbacks: {
    sipGetUserPass(args, next, ctx) {
      const [user, realm] = args;
      const cfg = ctx.config;
      if (cfg.realm !== undefined && realm !== cfg.realm) return next();
      const pass = cfg.users.get(user);
      return pass === undefined ? next() : pass;
    },
    sipAuthorize(args, next, ctx) {
      const [info, request] = args;
      const cfg = ctx.config;
      if (!cfg.methods.has(request.method)) return next();
      if (info.dialog || info.register) return "ok";
      let result: boolean | undefined;
      if (cfg.realm !== undefined) {
        result = info.digest.get(cfg.realm);
      } else {
        for (const ok of info.digest.values()) result = (result ?? false) || ok;
      }
      if (result === true) return "ok";
      if (result === false) return "forbidden";
      return challenge(cfg);
    },
  },
});

function challenge(cfg: AuthConfig): AuthorizeResult {
  if (cfg.realm === undefined) return cfg.proxy ? "proxy_authenticate" : "authenticate";
  return cfg.proxy ? { proxyAuthenticate: cfg.realm } : { authenticate: cfg.realm };
}
