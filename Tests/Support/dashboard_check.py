#!/usr/bin/python3
"""Drives the admin dashboard in a real headless Chromium and checks it shows what the API says.

Run with Debian's /usr/bin/python3 (python3-selenium, chromium, chromium-driver):

  dashboard_check.py --url http://127.0.0.1:PORT/ --screenshot PATH [--timeout 30]
      [--expect-agents N] [--expect-tunnel ID]... [--expect-rule HOSTNAME]...
      [--expect-request-path PATH]... [--expect-traffic TUNNEL]... [--replay]
      [--user NAME --password SECRET] [--min-polls N]

It first GETs the page, dashboard.js and dashboard.css (status, content type), loads the page, waits
(bounded by --timeout) until the tables are filled and the page has polled --min-polls times (3),
then reads the API itself (urllib, the base taken from the page's `<meta name="api-base">`, resolved
against --url) and checks that every agent, tunnel, rule and
request the API lists is on the page with the same values (data-value attributes carry exact values,
the text of string cells must be the string itself: an API string parsed as HTML shows as a
mismatch or a dialog), and nothing more. Reads race with the page's own polls, so a comparison that
differs is retried until the deadline and the last differences are reported. Then it checks the
traffic graph drew a line per tunnel, clicks a request row and compares the detail panel with
GET /requests/{id} (heads and kept bodies), and with --replay clicks Replay and waits for the new
exchange (replayOf = the clicked id) in the list. Basic credentials go to the browser as an
Authorization header through the DevTools protocol (Network.setExtraHTTPHeaders).

Prints one JSON summary line on stdout; exit 0 when everything matched, 1 with the reason on stderr
(and "error" in the summary) on a mismatch, 2 when the browser could not be started. The screenshot
(full page) is saved in both cases when the page loaded.
"""
import argparse
import base64
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException, UnexpectedAlertPresentException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError as error:  # pragma: no cover - environment problem, not a mismatch
    print(json.dumps({"ok": False, "error": f"selenium missing ({error}): apt-get install python3-selenium, run /usr/bin/python3"}))
    sys.exit(2)


class Mismatch(Exception):
    """What the page shows differs from the API (or never appeared before the deadline)."""


# Fields compared per kind: those that do not move between two reads. Counters (bytes, streams)
# grow between the page's poll and ours, so they are only checked to be present and numeric.
FIELDS = {
    "agents": ["id", "peer", "version", "token", "tunnels", "goingAway"],
    "tunnels": ["id", "sessions", "hostnames"],
    "rules": ["hostname", "tunnel", "source"],
    "requests": ["id", "tunnel", "method", "host", "path", "protocol", "status", "client",
                 "requestBytes", "responseBytes", "replayOf", "startedAt"],
}
COUNTERS = {
    "agents": ["openStreams", "streamsTotal", "bytesIn", "bytesOut"],
    "tunnels": ["openStreams", "streamsTotal", "bytesIn", "bytesOut", "rate"],
    "rules": [],
    "requests": [],
}
# String fields whose visible text must be exactly the API's string.
VERBATIM = {"id", "peer", "method", "host", "path", "hostname", "tunnel", "client", "source", "protocol"}
KEYS = {"agents": "id", "tunnels": "id", "rules": "hostname", "requests": "id"}

SNAPSHOT_JS = r"""
const out = {tables: {}};
for (const id of ["agents", "tunnels", "rules", "requests"]) {
  const t = document.getElementById(id);
  if (!t || !t.tBodies[0]) { out.tables[id] = null; continue; }
  out.tables[id] = {
    loaded: t.getAttribute("data-loaded") === "true",
    unavailable: t.getAttribute("data-unavailable") === "true",
    rows: Array.from(t.tBodies[0].rows).filter((r) => r.hasAttribute("data-id")).map((r) => {
      const fields = {};
      for (const c of r.cells) {
        const k = c.getAttribute("data-field");
        if (k) fields[k] = {text: c.textContent, value: c.getAttribute("data-value")};
      }
      return {id: r.getAttribute("data-id"), fields};
    }),
  };
}
const s = document.getElementById("status");
out.polls = s ? Number(s.getAttribute("data-polls") || "0") : -1;
out.refreshed = s ? s.getAttribute("data-refreshed") : null;
out.statusText = s ? s.textContent : null;
const e = document.getElementById("error");
out.error = e && !e.hidden ? e.textContent : null;
const g = document.getElementById("traffic");
out.graph = g ? Array.from(g.querySelectorAll("polyline")).map((p) => ({
  tunnel: p.getAttribute("data-tunnel"),
  points: (p.getAttribute("points") || "").trim().split(/\s+/).filter(Boolean).length,
  peak: Number(p.getAttribute("data-peak") || "0"),
})) : null;
out.health = {};
for (const dd of document.querySelectorAll("#health [data-field]")) out.health[dd.getAttribute("data-field")] = dd.getAttribute("data-value");
return out;
"""

DETAIL_JS = r"""
const root = arguments[0];
if (!root) return null;
const pick = (sel) => root.querySelector(sel);
const fields = {};
for (const dd of root.querySelectorAll("dl.summary [data-field]")) fields[dd.getAttribute("data-field")] = {text: dd.textContent, value: dd.getAttribute("data-value")};
const heads = (part) => { const t = pick('[data-part="' + part + '"]');
  return t ? Array.from(t.querySelectorAll("tr[data-name]")).map((tr) => ({
    name: tr.querySelector('[data-field="name"]').textContent, value: tr.querySelector('[data-field="value"]').textContent})) : null; };
const body = (part) => { const p = pick('[data-part="' + part + '"]');
  return p ? {tag: p.tagName.toLowerCase(), value: p.getAttribute("data-value"), text: p.textContent} : null; };
return {id: root.getAttribute("data-id"), fields, requestHeaders: heads("request-headers"), responseHeaders: heads("response-headers"),
        requestBody: body("request-body"), responseBody: body("response-body")};
"""


def exact(value):
    """The page's data-value for an API value (mirrors exact() in dashboard.js)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def same_value(page_value, api_value):
    if page_value is None:
        return False
    if api_value is None:
        return page_value == ""
    if isinstance(api_value, str):
        return page_value == api_value
    try:
        return json.loads(page_value) == api_value
    except ValueError:
        return False


class API:
    def __init__(self, base, user, password, deadline):
        self.base = base if base.endswith("/") else base + "/"
        self.deadline = deadline
        self.headers = {"Accept": "application/json"}
        if user is not None:
            token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
            self.headers["Authorization"] = "Basic " + token

    def get(self, path):
        url = urllib.parse.urljoin(self.base, path)
        request = urllib.request.Request(url, headers=self.headers)
        timeout = max(1.0, min(10.0, self.deadline - time.monotonic()))
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise Mismatch(f"API GET {url}: HTTP {error.code} {error.read()[:200]!r}") from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise Mismatch(f"API GET {url}: {error}") from None

    def lists(self, limit):
        return {
            "health": self.get("health"),
            "agents": self.get("agents")["agents"],
            "tunnels": self.get("tunnels")["tunnels"],
            "rules": self.get("rules")["rules"],
            "requests": self.get(f"requests?limit={limit}")["requests"],
        }


def compare(snapshot, api, args):
    """Every difference between the page's tables and the API lists, as readable lines."""
    problems = []
    for kind, key in KEYS.items():
        table = snapshot["tables"].get(kind)
        if table is None:
            problems.append(f"page has no table #{kind}")
            continue
        page_rows = {row["id"]: row for row in table["rows"]}
        api_items = api[kind]
        api_ids = [str(item[key]) for item in api_items]
        missing = [i for i in api_ids if i not in page_rows]
        extra = [i for i in page_rows if i not in set(api_ids)]
        if missing:
            problems.append(f"#{kind}: API lists {missing} but the page does not show them")
        if extra:
            problems.append(f"#{kind}: page shows {extra} which the API does not list")
        if kind == "requests" and not missing and not extra:
            order = [row["id"] for row in table["rows"]]
            if order != api_ids:
                problems.append(f"#requests: page order {order} differs from the API's (newest first) {api_ids}")
        for item in api_items:
            row = page_rows.get(str(item[key]))
            if row is None:
                continue
            for field in FIELDS[kind]:
                cell = row["fields"].get(field)
                where = f"#{kind} row {item[key]!r} field {field}"
                if cell is None:
                    problems.append(f"{where}: no cell with data-field={field}")
                    continue
                if not same_value(cell["value"], item.get(field)):
                    problems.append(f"{where}: page data-value {cell['value']!r}, API {exact(item.get(field))!r}")
                elif field in VERBATIM and isinstance(item.get(field), str) and cell["text"] != item[field]:
                    problems.append(f"{where}: page text {cell['text']!r}, API {item[field]!r}")
            for field in COUNTERS[kind]:
                cell = row["fields"].get(field)
                if cell is None or not _is_number(cell["value"]):
                    problems.append(f"#{kind} row {item[key]!r}: counter {field} missing or not a number ({cell})")
    health = snapshot.get("health") or {}
    for field in ("status", "role", "version"):
        if not same_value(health.get(field), api["health"].get(field)):
            problems.append(f"#health {field}: page {health.get(field)!r}, API {api['health'].get(field)!r}")
    if args.expect_agents is not None:
        if len(api["agents"]) != args.expect_agents:
            problems.append(f"expected {args.expect_agents} agents, the API lists {len(api['agents'])}")
        rows = snapshot["tables"]["agents"]["rows"] if snapshot["tables"].get("agents") else []
        if len(rows) != args.expect_agents:
            problems.append(f"expected {args.expect_agents} agents, the page shows {len(rows)}")
    for kind, wanted, field in (("tunnels", args.expect_tunnel, "id"), ("rules", args.expect_rule, "hostname"),
                                ("requests", args.expect_request_path, "path")):
        for value in wanted:
            if not any(item.get(field) == value for item in api[kind]):
                problems.append(f"expected {kind} {field} {value!r}: the API does not list it")
            table = snapshot["tables"].get(kind) or {"rows": []}
            if not any((row["fields"].get(field) or {}).get("value") == value for row in table["rows"]):
                problems.append(f"expected {kind} {field} {value!r}: the page does not show it")
    return problems


def _is_number(text):
    try:
        float(text)
        return True
    except (TypeError, ValueError):
        return False


def check_graph(snapshot, api, args):
    problems = []
    if snapshot.get("graph") is None:
        return ["page has no #traffic graph"]
    lines = {line["tunnel"]: line for line in snapshot["graph"]}
    for tunnel in api["tunnels"]:
        line = lines.get(tunnel["id"])
        if line is None:
            problems.append(f"#traffic: no line for tunnel {tunnel['id']!r}")
        elif line["points"] < 2:
            problems.append(f"#traffic: line for tunnel {tunnel['id']!r} has {line['points']} points after {snapshot['polls']} polls")
    for tunnel in args.expect_traffic:
        line = lines.get(tunnel)
        if line is None or not line["peak"] > 0:
            problems.append(f"#traffic: tunnel {tunnel!r} shows no bytes/s above 0 (line {line})")
    return problems


def compare_detail(detail, request, label):
    problems = []
    if detail is None:
        return [f"{label}: not found on the page"]
    if detail["id"] != request["id"]:
        problems.append(f"{label}: shows {detail['id']!r}, expected {request['id']!r}")
    for field in ("id", "method", "host", "path", "status", "tunnel", "client", "replayOf"):
        cell = detail["fields"].get(field)
        if cell is None or not same_value(cell["value"], request.get(field)):
            problems.append(f"{label} {field}: page {cell}, API {exact(request.get(field))!r}")
        elif field in VERBATIM and cell["text"] != request[field]:
            problems.append(f"{label} {field}: page text {cell['text']!r}, API {request[field]!r}")
    for part in ("requestHeaders", "responseHeaders"):
        want = [{"name": h["name"], "value": h["value"]} for h in request.get(part) or []]
        if detail[part] != want:
            problems.append(f"{label} {part}: page {detail[part]}, API {want}")
    for part in ("requestBody", "responseBody"):
        b64 = request.get(part)
        shown = detail[part]
        if b64 is None:
            if shown is not None and shown["value"] is not None:
                problems.append(f"{label} {part}: API kept none, page shows {shown['value']!r}")
            continue
        if shown is None or shown["value"] != b64:
            problems.append(f"{label} {part}: page {shown and shown['value']!r}, API {b64!r}")
            continue
        raw = base64.b64decode(b64)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and text.isprintable() and shown["text"] != text:
            problems.append(f"{label} {part}: page text {shown['text']!r}, decoded body {text!r}")
    return problems


def start_browser(args, profile):
    options = webdriver.ChromeOptions()
    options.binary_location = args.chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-extensions", "--disable-background-networking", "--lang=en-US",
                 f"--window-size={args.width},{args.height}", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=args.chromedriver, log_path=os.devnull)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(max(5, args.timeout))
    driver.set_script_timeout(10)
    if args.user is not None:
        token = base64.b64encode(f"{args.user}:{args.password or ''}".encode()).decode()
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": "Basic " + token}})
    return driver


def screenshot(driver, path, width):
    """The whole page, not only the window: the viewport is stretched to the page's height for the
    capture (DevTools Emulation), so the layout is the one the window had, without a scrollbar."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        height = driver.execute_script("return Math.ceil(document.documentElement.scrollHeight);")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": min(max(int(height), 200), 8000), "deviceScaleFactor": 1, "mobile": False})
        try:
            shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        finally:
            driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
    except WebDriverException:
        driver.save_screenshot(path)


def browser_errors(driver):
    try:
        entries = driver.get_log("browser")
    except WebDriverException:
        return []
    return [e["message"] for e in entries if e.get("level") == "SEVERE"]


def wait_until(deadline, what, probe, interval=0.25):
    """probe() -> (done, detail); polls until done or the deadline, then raises with the last detail."""
    detail = None
    while True:
        done, detail = probe()
        if done:
            return detail
        if time.monotonic() >= deadline:
            raise Mismatch(f"timed out waiting for {what}: {detail}")
        time.sleep(interval)


def check_assets(args, deadline):
    """The page and its two files as the server sends them: status and content type (a browser runs a
    script served as text/plain only leniently, and refuses it under nosniff)."""
    headers = {}
    if args.user is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{args.user}:{args.password or ''}".encode()).decode()
    wanted = [(args.url, ("text/html",)),
              (urllib.parse.urljoin(args.url, "dashboard.js"), ("text/javascript", "application/javascript")),
              (urllib.parse.urljoin(args.url, "dashboard.css"), ("text/css",))]
    for url, types in wanted:
        request = urllib.request.Request(url, headers=headers)
        timeout = max(1.0, min(10.0, deadline - time.monotonic()))
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                ctype = response.headers.get("Content-Type", "")
                body = response.read()
        except urllib.error.HTTPError as error:
            raise Mismatch(f"GET {url}: HTTP {error.code} {error.read()[:200]!r}") from None
        except (urllib.error.URLError, OSError) as error:
            raise Mismatch(f"GET {url}: {error}") from None
        if not ctype.split(";")[0].strip().lower() in types:
            raise Mismatch(f"GET {url}: Content-Type {ctype!r}, expected one of {types}")
        if not body:
            raise Mismatch(f"GET {url}: empty body")


def run(driver, args, deadline, summary):
    check_assets(args, deadline)
    driver.get(args.url)
    summary["loaded"] = True
    base = driver.execute_script('const m = document.querySelector(\'meta[name="api-base"]\'); return m ? m.getAttribute("content") : null;')
    if base is None:
        raise Mismatch('page has no <meta name="api-base">')
    if "{{" in base:
        raise Mismatch(f"the server did not fill in the api-base meta tag: {base!r}")
    api = API(urllib.parse.urljoin(args.url, base), args.user, args.password, deadline)
    summary["apiBase"] = api.base

    def ready():
        snap = driver.execute_script(SNAPSHOT_JS)
        tables = snap["tables"]
        not_loaded = [k for k, t in tables.items() if not t or not t["loaded"]]
        unavailable = [k for k, t in tables.items() if t and t["unavailable"]]
        if not_loaded or snap["polls"] < args.min_polls:
            return False, (f"tables not loaded {not_loaded} (404 from the API: {unavailable}), "
                           f"polls {snap['polls']}, page error {snap['error']!r}")
        return True, snap

    wait_until(deadline, "the dashboard's first polls", ready)

    last = {}

    def matches():
        snap = driver.execute_script(SNAPSHOT_JS)
        lists = api.lists(args.limit)
        problems = compare(snap, lists, args) + check_graph(snap, lists, args)
        if snap["error"]:
            problems.append(f"page shows an error: {snap['error']!r}")
        last.update(snap=snap, lists=lists)
        return (not problems), problems if problems else (snap, lists)

    snap, lists = wait_until(deadline, "the page to match the API", matches, interval=0.5)
    summary.update(polls=snap["polls"], refreshed=snap["refreshed"],
                   agents=[a["id"] for a in lists["agents"]], tunnels=[t["id"] for t in lists["tunnels"]],
                   rules=[r["hostname"] for r in lists["rules"]], requests=len(lists["requests"]),
                   graph={g["tunnel"]: g["points"] for g in snap["graph"]})

    if not lists["requests"]:
        if args.expect_request_path or args.replay:
            raise Mismatch("the API lists no requests to inspect")
        return
    target = lists["requests"][0]
    if args.expect_request_path:
        target = next(r for r in lists["requests"] if r["path"] == args.expect_request_path[0])
    def clicked():
        # Found and clicked in one go: the page re-renders the list every second (rows of other
        # requests come and go), so an element found earlier can be gone by the click.
        cell = driver.execute_script(
            "const tr = Array.from(document.querySelectorAll('#requests tbody tr[data-id]'))"
            "  .find((r) => r.getAttribute('data-id') === arguments[0]);"
            "if (!tr) return null;"
            "const td = tr.querySelector('[data-field=\"path\"]');"
            "td.scrollIntoView({block: 'center'}); return td;", target["id"])
        if cell is None:
            return False, f"#requests: no row for {target['id']!r} to click"
        try:
            cell.click()
        except StaleElementReferenceException:
            return False, f"#requests: the row for {target['id']!r} was re-rendered during the click"
        return True, None

    wait_until(deadline, f"a click on the request {target['id']!r}", clicked)
    panel = driver.find_element(By.ID, "request-detail")

    def detail_matches():
        if panel.get_attribute("hidden") is not None or panel.get_attribute("data-id") != target["id"] \
                or panel.get_attribute("data-loaded") != "true":
            return False, f"#request-detail hidden={panel.get_attribute('hidden')!r} data-id={panel.get_attribute('data-id')!r}"
        shown = driver.execute_script(DETAIL_JS, driver.find_element(By.CSS_SELECTOR, "#request-exchange .exchange-view"))
        request = api.get("requests/" + urllib.parse.quote(target["id"], safe=""))
        problems = compare_detail(shown, request, "#request-detail")
        return (not problems), problems

    wait_until(deadline, f"the detail of {target['id']!r} to match GET /requests/{target['id']}", detail_matches)
    summary["inspected"] = {"id": target["id"], "path": target["path"]}

    if args.replay:
        driver.find_element(By.ID, "replay").click()
        result = driver.find_element(By.ID, "replay-result")

        def replayed():
            error = result.get_attribute("data-error")
            if error:
                raise Mismatch(f"Replay of {target['id']!r} failed on the page: {error}")
            new_id = result.get_attribute("data-id")
            return bool(new_id), new_id or "no answer yet"

        new_id = wait_until(deadline, f"the Replay answer for {target['id']!r}", replayed)
        if new_id == target["id"]:
            raise Mismatch(f"Replay answer has the replayed request's own id {new_id!r}")
        request = api.get("requests/" + urllib.parse.quote(new_id, safe=""))
        if request.get("replayOf") != target["id"]:
            raise Mismatch(f"GET /requests/{new_id}: replayOf {request.get('replayOf')!r}, expected {target['id']!r}")
        shown = driver.execute_script(DETAIL_JS, driver.find_element(By.CSS_SELECTOR, "#replay-result .exchange-view"))
        problems = compare_detail(shown, request, "#replay-result")
        if problems:
            raise Mismatch("; ".join(problems))

        def listed():
            snap = driver.execute_script(SNAPSHOT_JS)
            row = next((r for r in snap["tables"]["requests"]["rows"] if r["id"] == new_id), None)
            if row is None:
                return False, f"#requests has no row {new_id!r}"
            value = (row["fields"].get("replayOf") or {}).get("value")
            return value == target["id"], f"#requests row {new_id!r} replayOf {value!r}"

        wait_until(deadline, f"the replayed exchange {new_id!r} in #requests", listed)
        summary["replay"] = {"of": target["id"], "id": new_id, "status": request.get("status")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the dashboard, e.g. http://127.0.0.1:PORT/")
    parser.add_argument("--screenshot", required=True, help="PNG path, saved whenever the page loaded")
    parser.add_argument("--expect-agents", type=int)
    parser.add_argument("--expect-tunnel", action="append", default=[])
    parser.add_argument("--expect-rule", action="append", default=[])
    parser.add_argument("--expect-request-path", action="append", default=[])
    parser.add_argument("--expect-traffic", action="append", default=[], help="tunnel whose graph must rise above 0 bytes/s")
    parser.add_argument("--replay", action="store_true", help="click Replay on the inspected request")
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--limit", type=int, default=50, help="the page's request list limit")
    parser.add_argument("--min-polls", type=int, default=3, help="polls the page must have made before comparing (>= 2 for a graph)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--chromedriver", default=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1000)
    args = parser.parse_args()

    started = time.monotonic()
    deadline = started + args.timeout
    summary = {"ok": False, "url": args.url, "screenshot": None}
    profile = tempfile.mkdtemp(prefix="dashboard-check-")
    driver = None
    code = 1
    try:
        try:
            driver = start_browser(args, profile)
        except WebDriverException as error:
            summary["error"] = f"could not start chromium/chromedriver: {error.msg or error}"
            code = 2
            return code
        run(driver, args, deadline, summary)
        errors = browser_errors(driver)
        if errors:
            raise Mismatch(f"browser console errors: {errors}")
        summary["ok"] = True
        code = 0
    except Mismatch as error:
        summary["error"] = str(error)
    except UnexpectedAlertPresentException as error:
        summary["error"] = f"a dialog opened (an API string ran as script?): {error.alert_text!r}"
    except WebDriverException as error:
        summary["error"] = f"browser: {error.msg or error}"
    finally:
        if driver is not None:
            if summary.get("loaded"):
                try:
                    screenshot(driver, args.screenshot, args.width)
                    summary["screenshot"] = os.path.abspath(args.screenshot)
                except WebDriverException as error:
                    summary["screenshotError"] = str(error.msg or error)
            try:
                driver.quit()
            except WebDriverException:
                pass
        shutil.rmtree(profile, ignore_errors=True)
        summary["seconds"] = round(time.monotonic() - started, 2)
        print(json.dumps(summary), flush=True)
        if not summary["ok"]:
            print("dashboard_check: " + summary.get("error", "failed"), file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
