// Directory listing state of one open directory handle. The kernel resumes a listing from an
// offset (the cookie of the last entry it consumed); the metaserver lists by name (entries after
// a cursor name, in byte order). A cursor hands out a fresh cookie for every entry it lists and
// can turn a cookie back into the name it stands for, so a cookie the kernel returns (readdir
// continuation, telldir and seekdir) resumes right after that name: entries added or removed
// meanwhile neither repeat nor shift the listing. Cookies 1 and 2 are "." and "..".
//
// Memory is bounded whatever the directory's size (a handle may list 10M entries):
//  - the cookies of the last RECENT_COOKIES entries are kept exactly (cookie → name); the
//    kernel's continuation offsets are always among them (it resumes from the last entry of
//    its previous buffer), so a sequential listing is exact under concurrent changes;
//  - older cookies are found from sparse marks: a run of consecutive cookies c0+1, c0+2, … was
//    handed to consecutive names after the mark's name, so cookie c0+k is "the k-th entry after
//    mark name". A seekdir that far back re-counts from the mark (exact unless entries between
//    the mark and the cookie were added or removed since; POSIX leaves it unspecified which of
//    the names changed since opendir a listing returns, and this only shifts by those). Marks
//    are thinned (every other one dropped, the stride doubled) so at most MAX_MARKS are kept.
//
// Entries fetched beyond what one kernel buffer holds are kept and served to the next call, so
// a listing costs one ListDentry per page, not one per kernel request.

export const COOKIE_DOT = 1;
export const COOKIE_DOTDOT = 2;
const FIRST_COOKIE = 3;
/** Exactly remembered cookies: several kernel buffers' worth (a 128 KiB buffer holds ~4k names). */
export const RECENT_COOKIES = 8192;
/** Most sparse marks kept per handle. */
export const MAX_MARKS = 256;
/** Initial distance between marks inside a run (doubles each time the marks are thinned). */
const FIRST_STRIDE = 1024;

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

/** Cookie `cookie + k` is the k-th entry after `name` (as listed when handed out). */
interface Mark {
  cookie: number;
  name: string;
  /** Starts a run (never thinned: the cookies after it count from here). */
  runStart: boolean;
}

export class DirCursor<A> {
  /** cookie → name of the last RECENT_COOKIES cookies handed out (insertion = cookie order). */
  private readonly recent = new Map<number, string>();
  /** Sparse marks, in cookie order. */
  private marks: Mark[] = [];
  private stride = FIRST_STRIDE;
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

  /** Names this handle holds for cookies and its buffer (bounded; for tests and status). */
  retained(): number {
    return this.recent.size + this.marks.length + this.buffered.length;
  }

  /** The name a cookie resumes after ('' = the start), or undefined for an unknown cookie. */
  private async cursorOf(offset: number): Promise<string | undefined> {
    if (offset <= COOKIE_DOTDOT) return '';
    if (offset >= this.nextCookie) return undefined;
    const exact = this.recent.get(offset);
    if (exact !== undefined) return exact;
    return this.recount(offset);
  }

  /** An old cookie's name, counted from the nearest mark at or before it. */
  private async recount(offset: number): Promise<string | undefined> {
    const marks = this.marks;
    let lo = 0;
    let hi = marks.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (marks[mid]!.cookie <= offset) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (at < 0) return undefined; // older than every mark kept
    let name = marks[at]!.name;
    let skip = offset - marks[at]!.cookie;
    while (skip > 0) {
      const page = await this.fetch(name, false);
      const n = Math.min(skip, page.entries.length);
      if (n > 0) name = page.entries[n - 1]!.name;
      skip -= n;
      if (!page.more || page.entries.length === 0) break; // the directory ended: resume at its end
    }
    return name;
  }

  /** Hands out the next cookie for `name`. */
  private issue(name: string): number {
    const cookie = this.nextCookie++;
    this.recent.set(cookie, name);
    if (this.recent.size > RECENT_COOKIES) this.recent.delete(this.recent.keys().next().value!);
    if (cookie % this.stride === 0) this.addMark({ cookie, name, runStart: false });
    return cookie;
  }

  private addMark(m: Mark): void {
    this.marks.push(m);
    if (this.marks.length <= MAX_MARKS) return;
    this.stride *= 2;
    this.marks = this.marks.filter((x) => x.runStart || x.cookie % this.stride === 0);
    // Many runs (seeks, rewinds) with their starts: forget the oldest half.
    if (this.marks.length > MAX_MARKS) this.marks = this.marks.slice(this.marks.length >>> 1);
  }

  /**
   * Entries after `offset`, at least `want` of them unless the directory ends first ("." and
   * ".." included at the start). `withAttr`: every returned entry carries attributes.
   */
  async list(offset: number, want: number, withAttr: boolean): Promise<ListedEntry<A>[]> {
    const out: ListedEntry<A>[] = [];
    if (offset < COOKIE_DOT) out.push({ name: '.', ino: this.ino, type: 0o040000, cookie: COOKIE_DOT });
    if (offset < COOKIE_DOTDOT) out.push({ name: '..', ino: this.parentIno, type: 0o040000, cookie: COOKIE_DOTDOT });
    const after = await this.cursorOf(offset);
    if (after === undefined) return out; // a cookie this handle never gave out (or long forgotten): nothing follows
    // A listing from the start (opendir, rewinddir) is always fetched fresh.
    let rest = offset === 0 ? undefined : this.resume(after, withAttr);
    if (!rest) {
      // A new run: the cookies handed out from here count entries after `after`. The mark takes
      // a cookie of its own (never handed out), so no two marks share one.
      this.addMark({ cookie: this.nextCookie++, name: after, runStart: true });
      this.atEnd = false;
      rest = [];
    }
    while (out.length + rest.length < want && !this.atEnd) {
      const last = rest.length > 0 ? rest[rest.length - 1]!.name : after;
      const page = await this.fetch(last, withAttr);
      for (const e of page.entries) rest.push({ ...e, cookie: this.issue(e.name) });
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
