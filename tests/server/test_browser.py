"""The search page and the API docs in a real (headless) Chromium, against ``retrieval serve`` on the tiny index.

Needs Debian's chromium and chromium-driver: skipped without them, but failed when ``CI`` is set (CI must run it).
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit

import pytest
from browser import browser_missing, chromium_driver, set_viewport
from conftest import topic_word
from serving import fetch, serving

WAIT = 10  # seconds: a bound on every wait, not a pause
WIDE = (1100, 900)
TOPIC = 1
QUERY = " ".join(topic_word(TOPIC, i) for i in range(0, 12, 2))  # six words of topic1's own vocabulary


@pytest.fixture(scope="module")
def base_url(bundle_dir):
    with serving(bundle_dir) as (url, _process):
        yield url


@pytest.fixture(scope="module")
def driver():
    reason = browser_missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    with chromium_driver(*WIDE) as browser:
        yield browser


@pytest.fixture
def browser(driver):
    """The module's driver, back at the wide viewport for each test."""
    set_viewport(driver, *WIDE)
    return driver


def wait_for(driver, css: str, count: int = 1):
    """The elements matching ``css`` once at least ``count`` are there (a bounded wait)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, css)) >= count, f"no {css!r} on {driver.current_url}"
    )
    return driver.find_elements(By.CSS_SELECTOR, css)


def hits(driver) -> list[dict]:
    """Each shown hit as a dict: rank, title, label, score, the id its 'similar' link names."""
    rows = driver.execute_script("""
        return [...document.querySelectorAll('ol.hits li.hit')].map(li => ({
            rank: li.querySelector('.rank').textContent.trim(),
            title: li.querySelector('h2.title').textContent.trim(),
            label: (li.querySelector('.label') || {textContent: ''}).textContent.trim(),
            score: li.querySelector('.score').textContent.trim(),
            similar: li.querySelector('a.similar').getAttribute('href'),
        }));""")
    for row in rows:
        row["like"] = parse_qs(urlsplit(row["similar"]).query)["like"][0]
    return rows


def search(driver, base_url: str, query: str, click: bool = False) -> None:
    """Open ``/``, type ``query`` into the search box and submit it (Enter, or a click on Search)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(base_url + "/")
    box = driver.find_element(By.CSS_SELECTOR, 'input[type=search][name=q][aria-label="query"]')
    old = driver.find_element(By.TAG_NAME, "html")
    box.clear()
    box.send_keys(query)
    if click:
        driver.find_element(By.XPATH, "//form//button[normalize-space()='Search']").click()
    else:
        box.send_keys(Keys.ENTER)
    WebDriverWait(driver, WAIT).until(EC.staleness_of(old), "submitting the search did not load a new page")


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_search_then_similar_then_reload(browser, base_url, corpus):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    search(browser, base_url, QUERY)
    wait_for(browser, "li.hit")
    found = hits(browser)
    assert [row["rank"] for row in found] == [str(n) for n in range(1, len(found) + 1)]
    assert len(found) == 10  # the page's default k
    assert [row["label"] for row in found[:5]] == [f"topic{TOPIC}"] * 5, found
    assert query_of(browser.current_url)["q"] == [QUERY]
    assert browser.find_element(By.NAME, "q").get_attribute("value") == QUERY  # the box keeps the query
    assert QUERY in browser.title
    scores = [float(row["score"]) for row in found]
    assert scores == sorted(scores, reverse=True)

    # the first hit's "similar" link: documents like it, itself left out
    first = found[0]
    assert first["title"] == corpus.titles[corpus.doc_ids.index(first["like"])]
    old = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, "li.hit a.similar").click()
    WebDriverWait(browser, WAIT).until(EC.staleness_of(old), "the 'similar' link did not load a new page")
    source = wait_for(browser, "div.source")[0]
    assert "Documents similar to" in source.text
    assert source.find_element(By.CSS_SELECTOR, "h2.title").text == first["title"]
    similar = hits(browser)
    assert len(similar) == 10
    assert first["title"] not in [row["title"] for row in similar]
    assert first["like"] not in [row["like"] for row in similar]
    assert [row["label"] for row in similar[:5]] == [f"topic{TOPIC}"] * 5, similar
    assert query_of(browser.current_url)["like"] == [first["like"]]

    # the URL is the search: reloading it (or bookmarking it) shows the same page
    browser.refresh()
    wait_for(browser, "li.hit")
    assert hits(browser) == similar
    assert browser.find_element(By.CSS_SELECTOR, "div.source h2.title").text == first["title"]


def test_search_button_and_k(browser, base_url):
    search(browser, base_url, QUERY, click=True)
    wait_for(browser, "li.hit")
    assert query_of(browser.current_url)["q"] == [QUERY]
    top = hits(browser)
    browser.get(f"{base_url}/?q={QUERY.replace(' ', '+')}&k=3")
    wait_for(browser, "li.hit")
    three = hits(browser)
    assert [row["title"] for row in three] == [row["title"] for row in top[:3]]
    assert all("k=3" in row["similar"] for row in three)  # the "similar" links keep the page's k


def test_unknown_words_say_nothing_matches(browser, base_url):
    from selenium.webdriver.common.by import By

    search(browser, base_url, "zzqx unheardof")
    message = wait_for(browser, "p.message")[0]
    assert "No documents match" in message.text
    assert "error" not in message.get_attribute("class")
    assert browser.find_elements(By.CSS_SELECTOR, "li.hit") == []


@pytest.mark.parametrize(
    "path, status, words",
    [
        ("/?q=x&k=0", 400, "k must"),
        ("/?q=x&k=ten", 400, "k must"),
        ("/?like=no-such-doc", 404, "no-such-doc"),
    ],
)
def test_bad_requests_show_an_alert(browser, base_url, path, status, words):
    from selenium.webdriver.common.by import By

    assert fetch(base_url + path)[0] == status
    browser.get(base_url + path)
    error = wait_for(browser, "p.message.error")[0]
    assert error.get_attribute("role") == "alert"
    assert words in error.text
    assert error.is_displayed()
    assert browser.find_elements(By.CSS_SELECTOR, "li.hit") == []
    assert browser.find_element(By.NAME, "q").is_displayed()  # the form is still there to try again


@pytest.mark.parametrize(
    "path", ["/", f"/?q={QUERY.replace(' ', '+')}", "/?like=doc-1-000", "/?q=x&k=0", "/?q=" + "y" * 300]
)
def test_narrow_window_has_no_horizontal_scroll(browser, base_url, path):
    from selenium.webdriver.common.by import By

    set_viewport(browser, 390, 844)
    browser.get(base_url + path)
    wait_for(browser, "form[role=search]")
    width, scroll = browser.execute_script("return [window.innerWidth, document.documentElement.scrollWidth]")
    assert width == 390
    assert scroll <= width, f"{path}: the page is {scroll}px wide in a {width}px window"
    button = browser.find_element(By.XPATH, "//form//button[normalize-space()='Search']")
    assert button.is_displayed()
    assert button.rect["x"] + button.rect["width"] <= width


def test_docs_render_swagger_ui_without_a_cdn(browser, base_url):
    from selenium.webdriver.common.by import By

    browser.get(base_url + "/docs")
    # Swagger UI shows either the operations or (say, for an OpenAPI version it cannot read) why not
    wait_for(browser, "#swagger-ui .opblock, #swagger-ui .version-pragma, #swagger-ui .errors-wrapper")
    shown = browser.find_elements(By.CSS_SELECTOR, ".opblock")
    assert shown, "Swagger UI rendered no operation: " + browser.find_element(By.ID, "swagger-ui").text[:300]
    paths = [element.text for element in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")]
    assert "/search" in paths
    # every script and stylesheet came from this server: nothing from a CDN
    sources = browser.execute_script(
        "return [...document.querySelectorAll('script[src], link[href]')].map(e => e.src || e.href)"
    )
    assert sources and all(source.startswith(base_url) for source in sources), sources


def test_the_mode_selector_is_kept_in_the_url(browser, base_url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.get(base_url + "/")
    mode = Select(browser.find_element(By.CSS_SELECTOR, 'select[name=mode][aria-label="mode"]'))
    assert mode.first_selected_option.get_attribute("value") == "hybrid"  # the default
    search(browser, base_url, QUERY)
    wait_for(browser, "li.hit")
    assert query_of(browser.current_url)["mode"] == ["hybrid"]
    assert "hybrid" in browser.find_element(By.CSS_SELECTOR, ".summary .mode").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "li.hit .sides")) == 10  # each side's own score

    # choose lexical and search again: the URL, the selector and the answer all say lexical
    Select(browser.find_element(By.NAME, "mode")).select_by_value("lexical")
    old = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.XPATH, "//form//button[normalize-space()='Search']").click()
    WebDriverWait(browser, WAIT).until(EC.staleness_of(old), "searching did not load a new page")
    wait_for(browser, "li.hit")
    assert query_of(browser.current_url)["mode"] == ["lexical"] and query_of(browser.current_url)["q"] == [QUERY]
    assert Select(browser.find_element(By.NAME, "mode")).first_selected_option.get_attribute("value") == "lexical"
    assert "lexical" in browser.find_element(By.CSS_SELECTOR, ".summary .mode").text
    assert browser.find_elements(By.CSS_SELECTOR, "li.hit .sides") == []
    found = hits(browser)
    assert all(query_of(row["similar"])["mode"] == ["lexical"] for row in found)  # "similar" keeps the mode

    # a bookmarked URL with a mode opens in that mode
    browser.get(f"{base_url}/?q={QUERY.replace(' ', '+')}&mode=semantic")
    wait_for(browser, "li.hit")
    assert Select(browser.find_element(By.NAME, "mode")).first_selected_option.get_attribute("value") == "semantic"
    assert "semantic" in browser.find_element(By.CSS_SELECTOR, ".summary .mode").text


def test_query_words_are_marked_in_the_snippets(browser, base_url):
    words = set(QUERY.split())
    browser.get(f"{base_url}/?q={QUERY.upper().replace(' ', '+')}&mode=lexical")  # case does not matter
    marks = wait_for(browser, "li.hit p.snippet mark")
    assert {mark.text for mark in marks} <= words and len(marks) >= 10
    # whole words only: each mark is a whole token of its snippet
    texts = browser.execute_script(
        "return [...document.querySelectorAll('p.snippet mark')].map(m => [m.previousSibling ? "
        "m.previousSibling.textContent.slice(-1) : ' ', m.nextSibling ? m.nextSibling.textContent.slice(0, 1) : ' '])"
    )
    assert all(not before.isalnum() and not after.isalnum() for before, after in texts)


def test_a_query_with_html_injects_nothing(browser, base_url):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    query = f'<script>alert(1)</script><img src=x onerror="alert(2)"> {topic_word(TOPIC, 0)}'
    search(browser, base_url, query)
    wait_for(browser, "form[role=search]")
    try:
        _ = browser.switch_to.alert  # raises NoAlertPresentException when no script ran
        pytest.fail("the query's script ran")
    except NoAlertPresentException:
        pass
    assert browser.execute_script("return document.querySelectorAll('main script, main img').length") == 0
    assert browser.find_element(By.NAME, "q").get_attribute("value") == query  # shown back as text
    assert all(mark.text == topic_word(TOPIC, 0) for mark in browser.find_elements(By.CSS_SELECTOR, "mark"))
