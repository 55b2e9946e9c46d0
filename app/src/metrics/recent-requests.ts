/** One request as the app saw it, kept for the status page's request-path highlight. */
export interface RecentRequest {
  id: string;
  method: string;
  route: string;
  status: number;
  at: string;
  appMs: number;
  dbMs: number;
  queries: number;
}

/**
 * The last `capacity` requests by id, oldest dropped first. Small and in memory on purpose:
 * it answers "what did request X do in the app" for the live page without reading logs.
 */
export class RecentRequests {
  private readonly byId = new Map<string, RecentRequest>();

  constructor(private readonly capacity: number) {}

  add(entry: RecentRequest): void {
    this.byId.delete(entry.id);
    this.byId.set(entry.id, entry);
    if (this.byId.size > this.capacity) {
      const oldest = this.byId.keys().next().value;
      if (oldest !== undefined) this.byId.delete(oldest);
    }
  }

  get(id: string): RecentRequest | undefined {
    return this.byId.get(id);
  }

  /** Newest first. */
  latest(count: number): RecentRequest[] {
    return [...this.byId.values()].slice(-count).reverse();
  }
}
