#!/usr/bin/env python3
"""Offline checks of the deployment files in deploy/ (DeployEndToEndTests runs this).

  deploy_check.py kubernetes DIR   every manifest against the Kubernetes schemas (kubernetes-validate,
                                   strict: unknown fields fail), then the references between them:
                                   Secrets, ConfigMaps, Service selectors and named target ports
  deploy_check.py compose FILE     the compose file against the Compose schema (docker-compose config)

Prints one line per finding and `OK <what>` at the end; exits 1 on any finding.
"""
import glob
import os
import shutil
import subprocess
import sys

import yaml


def fail(findings):
    for f in findings:
        print("FAIL", f)
    sys.exit(1)


def kubernetes(directory):
    files = sorted(glob.glob(os.path.join(directory, "*.yaml")))
    if not files:
        fail([f"no manifests in {directory}"])
    # The schemas ship inside the package: no cluster and no network needed.
    run = subprocess.run([sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet", *files],
                         capture_output=True, text=True, timeout=120)
    sys.stdout.write(run.stdout + run.stderr)
    if run.returncode != 0:
        fail([f"kubernetes-validate exited {run.returncode}"])

    docs = []
    for path in files:
        with open(path) as f:
            docs += [(os.path.basename(path), d) for d in yaml.safe_load_all(f) if d]
    names = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for _, d in docs}
    findings = []
    workloads = [(p, d) for p, d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    for path, d in workloads:
        ns = d["metadata"].get("namespace")
        template = d["spec"]["template"]
        pod = template["spec"]
        where = f"{path}: {d['kind']} {d['metadata']['name']}"
        selector = d["spec"]["selector"]["matchLabels"]
        labels = template["metadata"].get("labels", {})
        if any(labels.get(k) != v for k, v in selector.items()):
            findings.append(f"{where}: selector {selector} does not match the pod labels {labels}")
        for v in pod.get("volumes", []):
            if "secret" in v and ("Secret", ns, v["secret"]["secretName"]) not in names:
                findings.append(f"{where}: volume {v['name']} names a missing Secret {v['secret']['secretName']}")
            if "configMap" in v and ("ConfigMap", ns, v["configMap"]["name"]) not in names:
                findings.append(f"{where}: volume {v['name']} names a missing ConfigMap {v['configMap']['name']}")
        claims = {c["metadata"]["name"] for c in d["spec"].get("volumeClaimTemplates", [])}
        volumes = {v["name"] for v in pod.get("volumes", [])} | claims
        for c in pod["containers"]:
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    findings.append(f"{where}: container {c['name']} mounts an undeclared volume {m['name']}")
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if not ref:
                    continue
                secret = next((s for _, s in docs if s["kind"] == "Secret" and s["metadata"]["name"] == ref["name"]
                               and s["metadata"].get("namespace") == ns), None)
                if secret is None:
                    findings.append(f"{where}: env {e['name']} names a missing Secret {ref['name']}")
                elif ref["key"] not in {**secret.get("data", {}), **secret.get("stringData", {})}:
                    findings.append(f"{where}: env {e['name']} names a missing key {ref['key']} of Secret {ref['name']}")
            args = c.get("args", [])
            if args and args[0] in ("tunnel-server", "tunnel-agent"):
                for a in args:
                    if a.startswith("-") and "$(" in a:
                        var = a.split("$(", 1)[1].split(")", 1)[0]
                        if var not in {e["name"] for e in c.get("env", [])}:
                            findings.append(f"{where}: {a} uses $({var}), which the container does not define")
        if d["kind"] == "StatefulSet":
            service = next((s for _, s in docs if s["kind"] == "Service" and s["metadata"]["name"] == d["spec"]["serviceName"]), None)
            if service is None or service["spec"].get("clusterIP") != "None":
                findings.append(f"{where}: serviceName {d['spec']['serviceName']} is not a headless Service")
    for path, s in docs:
        if s["kind"] != "Service":
            continue
        selector = s["spec"].get("selector", {})
        pods = [d for _, d in workloads
                if d["metadata"].get("namespace") == s["metadata"].get("namespace")
                and all(d["spec"]["template"]["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())]
        if not pods:
            findings.append(f"{path}: Service {s['metadata']['name']} selects no pod")
            continue
        named = {p["name"] for d in pods for c in d["spec"]["template"]["spec"]["containers"] for p in c.get("ports", []) if "name" in p}
        for p in s["spec"]["ports"]:
            target = p.get("targetPort")
            if isinstance(target, str) and target not in named:
                findings.append(f"{path}: Service {s['metadata']['name']} port {p['name']} targets {target}, which no selected container names")
    if findings:
        fail(findings)
    print(f"OK kubernetes: {len(files)} files, {len(docs)} resources")


def compose(path):
    # Debian's docker-compose validates against the Compose schema and resolves the file
    # (interpolation, long forms) without talking to any engine.
    exe = shutil.which("docker-compose")
    if exe is None:
        fail(["docker-compose is not installed (apt-get install docker-compose)"])
    run = subprocess.run([exe, "-f", path, "config", "-q"], capture_output=True, text=True, timeout=120)
    sys.stdout.write(run.stdout + run.stderr)
    if run.returncode != 0:
        fail([f"docker-compose config exited {run.returncode}"])
    with open(path) as f:
        services = yaml.safe_load(f)["services"]
    findings = [f"service {n} has no image" for n, s in services.items() if "image" not in s]
    if findings:
        fail(findings)
    print(f"OK compose: {len(services)} services")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("kubernetes", "compose"):
        print(__doc__)
        sys.exit(2)
    {"kubernetes": kubernetes, "compose": compose}[sys.argv[1]](sys.argv[2])
