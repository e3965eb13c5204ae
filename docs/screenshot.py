"""Screenshot the search page of ``retrieval serve`` for the docs, in headless Chromium.

    python docs/screenshot.py indexes/20newsgroups --query "nasa launched the space shuttle into orbit" \\
        --out docs/images/serve.png [--width 1100 --height 900]

Starts ``retrieval serve INDEX_DIR`` on a free 127.0.0.1 port, opens ``/?q=QUERY``, waits for the hits,
saves a PNG of the viewport and stops the server. Needs Debian's chromium and chromium-driver.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlencode

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the browser and server helpers

from browser import browser_missing, chromium_driver  # noqa: E402
from serving import serving  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index_dir", type=Path, help="a directory written by `retrieval build`")
    parser.add_argument("--query", required=True, help="the search to show")
    parser.add_argument("--out", type=Path, default=Path("docs/images/serve.png"), help="the PNG to write")
    parser.add_argument("--width", type=int, default=1100, help="viewport width, CSS pixels")
    parser.add_argument("--height", type=int, default=900, help="viewport height, CSS pixels")
    parser.add_argument("-k", type=int, default=None, help="hits to ask for (the page's default if not given)")
    args = parser.parse_args(argv)
    reason = browser_missing()
    if reason:
        parser.error(reason)
    if not args.index_dir.is_dir():
        parser.error(f"no index directory {args.index_dir}")

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    params = {"q": args.query, **({"k": args.k} if args.k else {})}
    with serving(args.index_dir) as (url, _process), chromium_driver(args.width, args.height) as driver:
        driver.get(f"{url}/?{urlencode(params)}")
        WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, "li.hit, p.message"))
        messages = driver.find_elements(By.CSS_SELECTOR, "p.message")
        if messages:
            print(f"the page shows a message, not hits: {messages[0].text}", file=sys.stderr)
            return 1
        # the caret blinking in the autofocused box would make each run's PNG differ; a scrollbar is noise
        driver.execute_script("document.activeElement.blur(); document.documentElement.style.scrollbarWidth = 'none'")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if not driver.save_screenshot(str(args.out)):
            print(f"could not write {args.out}", file=sys.stderr)
            return 1
        hits = len(driver.find_elements(By.CSS_SELECTOR, "li.hit"))
    print(f"wrote {args.out} ({args.width}x{args.height}, {hits} hits for {args.query!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
