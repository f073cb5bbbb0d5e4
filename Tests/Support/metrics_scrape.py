#!/usr/bin/env python3
"""Scrapes a Prometheus exposition and parses it with the reference parser (PyPI's
prometheus-client), so what the tests check is what Prometheus itself would read.

metrics_scrape.py URL [USER:PASSWORD]
    prints one JSON line: {"status": <HTTP status>, "samples": [{"name", "labels", "value"}, ...]}
    (samples only on 200; a parse error exits 1 with the reason).
"""
import base64, json, sys, urllib.error, urllib.request

from prometheus_client.parser import text_string_to_metric_families

url = sys.argv[1]
request = urllib.request.Request(url)
if len(sys.argv) > 2:
    request.add_header("Authorization", "Basic " + base64.b64encode(sys.argv[2].encode()).decode())
try:
    with urllib.request.urlopen(request, timeout=15) as response:
        status, text = response.status, response.read().decode()
except urllib.error.HTTPError as e:
    print(json.dumps({"status": e.code, "samples": []}))
    sys.exit(0)

samples = []
try:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.append({"name": s.name, "type": family.type, "labels": s.labels, "value": s.value})
except Exception as e:  # the exposition must parse
    print("PARSE ERROR", e, "\n", text)
    sys.exit(1)
print(json.dumps({"status": status, "samples": samples}))
