/**
 * The registry of running services, used by `find(nameOrId)`.
 *
 * Design: there is no module-level mutable state. The process-wide default registry is a
 * holder object stored on `globalThis` under `Symbol.for("sipkit.serviceRegistry")`, created
 * on first use. A registered symbol (not a module variable) means that two copies of sipkit
 * loaded in one process (say, two versions imported by URL) still share one registry, so
 * `find` sees every service and two services cannot claim the same name. Code that wants
 * isolation (tests, embedding) passes its own {@linkcode ServiceRegistry} as the `registry`
 * option of `start` and looks services up with {@linkcode ServiceRegistry.find}.
 *
 * @example
 * ```ts
 * import { ServiceRegistry } from "./registry.ts";
 * const registry = new ServiceRegistry();
 * const entry = { name: "a", id: "x1" };
 * registry.add(entry);
 * if (registry.find("x1") !== entry || registry.find("a") !== entry) throw new Error("lookup");
 * registry.remove(entry);
 * ```
 *
 * @module
 */

/** What a registry holds: anything with a name and an id (a `Service`). */
export interface Registered {
  /** The service name. */
  readonly name: string;
  /** The internal id. */
  readonly id: string;
}

/** Thrown when a service name is already taken by a running service. */
export class ServiceExistsError extends Error {
  /** Create the error.
   * @param name the name in use
   */
  constructor(name: string) {
    super(`A service named "${name}" is already running`);
    this.name = "ServiceExistsError";
  }
}

/** A set of running services, looked up by name or id. */
export class ServiceRegistry<T extends Registered = Registered> {
  #byName = new Map<string, T>();
  #byId = new Map<string, T>();

  /** Add a service.
   * @param entry the service
   * @throws ServiceExistsError when its name (or id) is taken
   */
  add(entry: T): void {
    if (this.#byName.has(entry.name) || this.#byId.has(entry.id)) {
      throw new ServiceExistsError(entry.name);
    }
    this.#byName.set(entry.name, entry);
    this.#byId.set(entry.id, entry);
  }

  /** Remove a service (no-op when it is not this entry).
   * @param entry the service
   */
  remove(entry: T): void {
    if (this.#byName.get(entry.name) === entry) this.#byName.delete(entry.name);
    if (this.#byId.get(entry.id) === entry) this.#byId.delete(entry.id);
  }

  /** Look a service up.
   * @param nameOrId its name or its internal id
   * @returns the service, or undefined
   */
  find(nameOrId: string): T | undefined {
    return this.#byName.get(nameOrId) ?? this.#byId.get(nameOrId);
  }

  /** The registered services.
   * @returns a fresh array
   */
  list(): T[] {
    return [...this.#byName.values()];
  }
}

const KEY: unique symbol = Symbol.for("sipkit.serviceRegistry");

/**
 * The process-wide default registry (created on first use, held on `globalThis`).
 *
 * @returns the registry
 */
export function defaultRegistry(): ServiceRegistry {
  const holder = globalThis as unknown as { [KEY]?: ServiceRegistry };
  let registry = holder[KEY];
  if (registry === undefined) {
    registry = new ServiceRegistry();
    Object.defineProperty(globalThis, KEY, { value: registry, enumerable: false });
  }
  return registry;
}
