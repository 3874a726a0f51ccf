// Directory listing state of one open directory handle. The kernel resumes a listing from an
// offset (the cookie of the last entry it consumed); the metaserver lists by name (entries after
// a cursor name, in byte order). A cursor hands out a fresh cookie for every entry it lists and
// remembers cookie → name, so any cookie the kernel returns (readdir continuation, telldir and
// seekdir) resumes right after that name: entries added or removed meanwhile neither repeat nor
// shift the listing. Cookies 1 and 2 are "." and "..".
//
// Entries fetched beyond what one kernel buffer holds are kept and served to the next call, so
// a listing costs one ListDentry per page, not one per kernel request.

export const COOKIE_DOT = 1;
export const COOKIE_DOTDOT = 2;
const FIRST_COOKIE = 3;

export interface ListedEntry<A> {
  name: string;
  ino: number;
  /** File type bits (mode & S_IFMT). */
  type: number;
  cookie: number;
  /** Attributes, when the page was fetched with them. */
  attr?: A;
}

/** One page from the metaserver: entries after `after` (exclusive), in name order. */
export type PageFetcher<A> = (after: string, withAttr: boolean) => Promise<{ entries: Omit<ListedEntry<A>, 'cookie'>[]; more: boolean }>;

export class DirCursor<A> {
  private readonly names = new Map<number, string>();
  private nextCookie = FIRST_COOKIE;
  /** Fetched entries not yet known to be consumed, in order. */
  private buffered: ListedEntry<A>[] = [];
  /** Name the buffer continues after, and whether the buffer holds attributes. */
  private bufferedAfter: string | undefined;
  private bufferedWithAttr = false;
  /** No entries after the buffer's last one (as of its fetch). */
  private atEnd = false;

  constructor(
    readonly ino: number,
    readonly parentIno: number,
    private readonly fetch: PageFetcher<A>,
  ) {}

  /** The name a cookie resumes after ('' = the start), or undefined for an unknown cookie. */
  private cursorOf(offset: number): string | undefined {
    if (offset <= COOKIE_DOTDOT) return '';
    return this.names.get(offset);
  }

  /**
   * Entries after `offset`, at least `want` of them unless the directory ends first ("." and
   * ".." included at the start). `withAttr`: every returned entry carries attributes.
   */
  async list(offset: number, want: number, withAttr: boolean): Promise<ListedEntry<A>[]> {
    const out: ListedEntry<A>[] = [];
    if (offset < COOKIE_DOT) out.push({ name: '.', ino: this.ino, type: 0o040000, cookie: COOKIE_DOT });
    if (offset < COOKIE_DOTDOT) out.push({ name: '..', ino: this.parentIno, type: 0o040000, cookie: COOKIE_DOTDOT });
    const after = this.cursorOf(offset);
    if (after === undefined) return out; // a cookie this handle never gave out: nothing follows
    // A listing from the start (opendir, rewinddir) is always fetched fresh.
    let rest = offset === 0 ? undefined : this.resume(after, withAttr);
    if (!rest) {
      this.buffered = [];
      this.bufferedAfter = after;
      this.bufferedWithAttr = withAttr;
      this.atEnd = false;
      rest = [];
    }
    while (out.length + rest.length < want && !this.atEnd) {
      const last = rest.length > 0 ? rest[rest.length - 1]!.name : after;
      const page = await this.fetch(last, withAttr);
      for (const e of page.entries) {
        const cookie = this.nextCookie++;
        this.names.set(cookie, e.name);
        rest.push({ ...e, cookie });
      }
      this.atEnd = !page.more || page.entries.length === 0;
    }
    this.buffered = rest;
    this.bufferedAfter = after;
    this.bufferedWithAttr = withAttr;
    out.push(...rest);
    return out;
  }

  /** Buffered entries after `after`, or undefined when the buffer cannot continue there. */
  private resume(after: string, withAttr: boolean): ListedEntry<A>[] | undefined {
    if (withAttr && !this.bufferedWithAttr) return undefined;
    if (this.bufferedAfter === after) return [...this.buffered];
    const i = this.buffered.findIndex((e) => e.name === after);
    if (i < 0) return undefined;
    return this.buffered.slice(i + 1);
  }
}
