import { useEffect, useRef, useState } from 'react';

/**
 * Pages over a list the server sends whole (triggers). Each row of those pages may poll or hold
 * a dialog, so thousands of them must not be on screen at once. `Pager` also steps through the
 * pages the server sends one at a time (approvals).
 */
export function usePages<T>(items: readonly T[], perPage: number) {
  const [page, setPage] = useState(0);
  const pages = Math.max(1, Math.ceil(items.length / perPage));
  // The list can shrink under the page shown (a trigger removed, an approval decided).
  const at = Math.min(page, pages - 1);
  return {
    rows: items.slice(at * perPage, (at + 1) * perPage),
    /** 0-based index of the page shown, and of its first row. */
    at,
    first: at * perPage,
    pages,
    setPage,
  };
}

/** "<noun> 1–50 of 120", or "no <noun> of 120" when a filter leaves none. */
export function rangeText(noun: string, first: number, shown: number, matching: number, all: number): string {
  if (matching === 0) return `no ${noun} of ${all}`;
  const range = `${noun}s ${first + 1}–${first + shown} of ${matching}`;
  return matching < all ? `${range} matching (${all} in all)` : range;
}

/** Previous and Next; keeps the keyboard's focus on them at the first and last page. */
export function Pager({ at, pages, onPage }: { at: number; pages: number; onPage: (page: number) => void }) {
  const previous = useRef<HTMLButtonElement>(null);
  const next = useRef<HTMLButtonElement>(null);
  // A button pressed into its disabled state (Next on the last page) would drop the focus to
  // the page: once the new page shows, the focus goes to the other one.
  const refocus = useRef<typeof previous | null>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when the page shown changes
  useEffect(() => {
    refocus.current?.current?.focus();
    refocus.current = null;
  }, [at]);
  if (pages <= 1) return null;
  return (
    <>
      <button
        type="button"
        ref={previous}
        disabled={at === 0}
        onClick={() => {
          onPage(at - 1);
          if (at - 1 === 0) refocus.current = next;
        }}
      >
        Previous
      </button>
      <button
        type="button"
        ref={next}
        disabled={at >= pages - 1}
        onClick={() => {
          onPage(at + 1);
          if (at + 1 >= pages - 1) refocus.current = previous;
        }}
      >
        Next
      </button>
    </>
  );
}
