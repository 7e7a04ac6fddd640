"""deploy/: the Kubernetes manifest and the Dockerfile match the app and the command line
(ports, probes, commands, the model file's path), so a change to one cannot leave the
other behind."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from bayesmm.cli import _parser
from bayesmm.serve import create_app
from bayesmm.serve.demo import DEMO_FILE

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


@pytest.fixture(scope="module")
def manifest():
    documents = list(yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text()))
    return {d["kind"]: d for d in documents}


def _serving(manifest):
    pod = manifest["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return pod, container, _parser().parse_args(container["args"])


def test_the_deployment_serves_on_its_declared_port_with_probes_the_app_answers(manifest):
    pod, container, args = _serving(manifest)
    assert args.command == "serve" and args.host == "0.0.0.0"
    assert [p["containerPort"] for p in container["ports"]] == [args.port]
    readiness, liveness = container["readinessProbe"], container["livenessProbe"]
    assert readiness["httpGet"] == {"path": "/readyz", "port": args.port}
    assert liveness["httpGet"] == {"path": "/healthz", "port": args.port}
    with TestClient(create_app(DEMO_FILE)) as client:
        assert client.get(readiness["httpGet"]["path"]).status_code == 200
        assert client.get(liveness["httpGet"]["path"]).status_code == 200
    # In-flight requests get --graceful-seconds before Kubernetes kills the pod.
    assert pod["terminationGracePeriodSeconds"] > args.graceful_seconds
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    # The model file is on a mounted volume.
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    folder = str(Path(args.model_file).parent)
    assert folder in mounts and mounts[folder] in {v["name"] for v in pod["volumes"]}


def test_the_service_reaches_the_pods(manifest):
    _, _, args = _serving(manifest)
    service = manifest["Service"]["spec"]
    assert [p["targetPort"] for p in service["ports"]] == [args.port]
    labels = manifest["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()


def test_the_nightly_job_updates_the_file_the_service_loads(manifest):
    _, _, serving = _serving(manifest)
    job = manifest["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = job["containers"]
    args = _parser().parse_args(container["args"])
    assert args.command == "update"
    assert args.model == args.output == serving.model_file
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert str(Path(args.output).parent) in mounts and str(Path(args.data).parent) in mounts


def test_the_dockerfile_runs_the_same_command(manifest):
    text = (DEPLOY / "Dockerfile").read_text()
    _, container, args = _serving(manifest)
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (.+)$", text, re.M).group(1))
    command = json.loads(re.search(r"^CMD (.+)$", text, re.M).group(1))
    assert entrypoint == ["bayesmm"] and command == container["args"]
    assert re.search(r"^EXPOSE (\d+)$", text, re.M).group(1) == str(args.port)
    assert f"127.0.0.1:{args.port}/healthz" in text
    # The image installs the package with the serve extra, from this repository.
    install = shlex.split(re.search(r"^RUN pip install (\S+)", text, re.M).group(1))
    assert install == ["/src[serve]"]
