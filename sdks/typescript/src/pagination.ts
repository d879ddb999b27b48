/** A page: its items and the cursor of the next (absent on the last). */
export type Page<T> = { items: T[]; next?: string | null };

/**
 * Every item of a paged list. `for await (const x of pager)` fetches pages
 * as it reaches them; `await pager` (or `pager.toArray()`) gives them all.
 */
export class Pager<T> implements AsyncIterable<T>, PromiseLike<T[]> {
  readonly #fetch: (after: string | undefined) => Promise<Page<T>>;
  readonly #after: string | undefined;

  constructor(fetch: (after: string | undefined) => Promise<Page<T>>, after?: string) {
    this.#fetch = fetch;
    this.#after = after;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    let cursor = this.#after;
    for (;;) {
      const page = await this.#fetch(cursor);
      yield* page.items;
      if (!page.next || page.items.length === 0) return;
      cursor = page.next;
    }
  }

  /** Every item, all pages fetched. */
  async toArray(): Promise<T[]> {
    const out: T[] = [];
    for await (const item of this) out.push(item);
    return out;
  }

  then<A = T[], B = never>(
    onfulfilled?: ((value: T[]) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.toArray().then(onfulfilled, onrejected);
  }
}
