"""The cluster configs in cluster/: Ray's launcher accepts them, every node runs with token
auth, GPU workers are declared, the dashboard is never exposed, and the RayJob runs a recipe
that exists. Files are only parsed: no Ray is started and no cloud is called."""

from __future__ import annotations

import copy
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import ray.autoscaler
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from tunefw.recipe.loading import load_recipe

from .conftest import REPO

CLUSTER = REPO / "cluster"
LAUNCHER = ["aws.yaml", "gcp.yaml"]
KUBERAY = ["kuberay-raycluster.yaml", "kuberay-rayjob.yaml"]
TOKEN_SECRET = "tunefw-ray-token"
TOKEN_KEY = "auth_token"  # the key KubeRay's authOptions.secretName expects
EXPOSED_SERVICE_TYPES = {"LoadBalancer", "NodePort"}


def launcher(name: str) -> dict[str, Any]:
    config = yaml.safe_load((CLUSTER / name).read_text())
    assert isinstance(config, dict), name
    return config


def manifests(name: str) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all((CLUSTER / name).read_text()) if d is not None]
    assert docs and all(isinstance(d, dict) for d in docs), name
    return docs


def start_commands(config: dict[str, Any], key: str) -> list[str]:
    commands = [c for c in config[key] if re.search(r"\bray start\b", c)]
    assert commands, f"{key} never runs `ray start`"
    return commands


def all_commands(config: dict[str, Any]) -> Iterator[str]:
    keys = ["initialization_commands", "setup_commands", "head_setup_commands"]
    keys += ["worker_setup_commands", "head_start_ray_commands", "worker_start_ray_commands"]
    for key in keys:
        yield from config.get(key, [])
    for node_type in config["available_node_types"].values():
        for key in ("initialization_commands", "worker_setup_commands"):
            yield from node_type.get(key, [])


def ray_cluster_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    if doc["kind"] == "RayCluster":
        return doc["spec"]
    if doc["kind"] == "RayJob":
        return doc["spec"]["rayClusterSpec"]
    return None


def cluster_specs(name: str) -> list[dict[str, Any]]:
    specs = [s for s in map(ray_cluster_spec, manifests(name)) if s is not None]
    assert len(specs) == 1, f"{name}: expected one Ray cluster spec"
    return specs


def pod_templates(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, pod spec) for every pod a RayCluster or RayJob makes."""
    spec = ray_cluster_spec(doc)
    if spec is None:
        return
    yield "head", spec["headGroupSpec"]["template"]["spec"]
    for group in spec["workerGroupSpecs"]:
        yield f"worker group {group['groupName']}", group["template"]["spec"]
    if doc["kind"] == "RayJob" and "submitterPodTemplate" in doc["spec"]:
        yield "job submitter", doc["spec"]["submitterPodTemplate"]["spec"]


def env_lists(name: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(label, env) for every container of every Ray pod, and the autoscaler sidecar."""
    for doc in manifests(name):
        for label, pod in pod_templates(doc):
            for container in pod.get("initContainers", []) + pod["containers"]:
                yield f"{label} / {container['name']}", container.get("env", [])
        spec = ray_cluster_spec(doc)
        if spec is not None and spec.get("enableInTreeAutoscaling"):
            yield "autoscaler", spec.get("autoscalerOptions", {}).get("env", [])


# (a) Ray's cluster launcher accepts the AWS and GCP configs.


@pytest.mark.parametrize("name", LAUNCHER)
def test_launcher_config_matches_rays_schema(name: str) -> None:
    schema_path = Path(ray.autoscaler.__file__).parent / "ray-schema.json"
    jsonschema.validate(launcher(name), json.loads(schema_path.read_text()))


@pytest.mark.parametrize("name", LAUNCHER)
def test_launcher_config_passes_the_checks_of_ray_up(name: str) -> None:
    """`ray up` merges the provider's defaults, then validates; nothing in ours is dropped."""
    config = launcher(name)
    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    assert prepared["head_start_ray_commands"] == config["head_start_ray_commands"]
    assert prepared["worker_start_ray_commands"] == config["worker_start_ray_commands"]


@pytest.mark.parametrize("name", LAUNCHER)
def test_launcher_uses_the_tested_ray_version(name: str) -> None:
    image = launcher(name)["docker"]["image"]
    assert image.startswith(f"rayproject/ray:{ray.__version__}-"), image
    pins = (REPO / "constraints.txt").read_text()
    assert f"ray=={ray.__version__}" in pins.split()


# (b) Token auth on every node and every container.


@pytest.mark.parametrize("name", LAUNCHER)
@pytest.mark.parametrize("key", ["head_start_ray_commands", "worker_start_ray_commands"])
def test_every_ray_start_has_token_auth(name: str, key: str) -> None:
    config = launcher(name)
    mounts = {remote.rstrip("/") for remote in config["file_mounts"]}
    for command in start_commands(config, key):
        # The last word on RAY_AUTH_MODE before `ray start` turns token auth on.
        before = command[: command.index("ray start")]
        modes = re.findall(r"RAY_AUTH_MODE(?:=([^\s;&|]*))?", before)
        assert modes and modes[-1] == "token", command
        found = re.search(r"RAY_AUTH_TOKEN_PATH=\$HOME/(\S+)/auth_token", command)
        assert found, f"no token file in: {command}"
        # The token file reaches every node through a file mount.
        assert f"~/{found.group(1)}" in mounts, found.group(0)


@pytest.mark.parametrize("name", LAUNCHER)
def test_launcher_token_stays_out_of_the_project(name: str) -> None:
    """The token is synced from outside the repository, so it cannot be committed."""
    mounts = launcher(name)["file_mounts"]
    local = Path(mounts["~/tunefw-token"]).expanduser().resolve()
    assert not local.is_relative_to(REPO), local
    assert mounts["~/tunefw"] == "."  # `ray up` runs from the repository root


@pytest.mark.parametrize("name", KUBERAY)
def test_every_container_has_token_auth(name: str) -> None:
    labels = []
    for label, env in env_lists(name):
        labels.append(label)
        values = {e["name"]: e for e in env}
        assert values.get("RAY_AUTH_MODE", {}).get("value") == "token", label
        ref = values.get("RAY_AUTH_TOKEN", {}).get("valueFrom", {}).get("secretKeyRef", {})
        assert ref == {"name": TOKEN_SECRET, "key": TOKEN_KEY}, label
    assert "head / ray-head" in labels and "autoscaler" in labels
    assert any(label.startswith("worker group") for label in labels)
    if name == "kuberay-rayjob.yaml":
        assert "job submitter / ray-job-submitter" in labels


@pytest.mark.parametrize("name", KUBERAY)
def test_kuberay_auth_options_use_the_same_secret(name: str) -> None:
    for spec in cluster_specs(name):
        assert spec["authOptions"] == {"mode": "token", "secretName": TOKEN_SECRET}
        major_minor = tuple(int(p) for p in spec["rayVersion"].split(".")[:2])
        assert major_minor >= (2, 52), "token auth needs Ray >= 2.52"


@pytest.mark.parametrize("name", KUBERAY)
def test_token_secret_carries_no_token(name: str) -> None:
    """Applying the file never sets or overwrites the token (it is made with kubectl)."""
    secrets = [d for d in manifests(name) if d["kind"] == "Secret"]
    assert [s["metadata"]["name"] for s in secrets] == [TOKEN_SECRET]
    assert "data" not in secrets[0] and "stringData" not in secrets[0]


# (c) GPU worker groups.


@pytest.mark.parametrize("name", LAUNCHER)
def test_launcher_has_a_gpu_worker_type_and_a_gpu_free_head(name: str) -> None:
    config = launcher(name)
    types = config["available_node_types"]
    head = config["head_node_type"]
    assert types[head]["resources"].get("GPU", 0) == 0
    gpu_types = [t for n, t in types.items() if n != head and t["resources"].get("GPU", 0) >= 1]
    assert gpu_types
    for node_type in gpu_types:
        assert node_type["max_workers"] >= 1
        assert "--gpus all" in node_type["docker"]["worker_run_options"]


def test_gcp_gpu_workers_attach_a_gpu_and_stop_on_host_maintenance() -> None:
    for node_type in launcher("gcp.yaml")["available_node_types"].values():
        if node_type["resources"].get("GPU", 0) == 0:
            continue
        node_config = node_type["node_config"]
        accelerators = node_config.get("guestAccelerators", [])
        gpus = sum(a["acceleratorCount"] for a in accelerators)
        built_in = node_config["machineType"].startswith(("g2-", "a2-", "a3-"))
        assert gpus == node_type["resources"]["GPU"] or (built_in and not accelerators)
        # An object, as the Compute API takes it (not a list).
        assert node_config["scheduling"] == {"onHostMaintenance": "TERMINATE"}


@pytest.mark.parametrize("name", KUBERAY)
def test_kuberay_has_a_gpu_worker_group_and_a_gpu_free_head(name: str) -> None:
    for spec in cluster_specs(name):
        head = spec["headGroupSpec"]["template"]["spec"]["containers"][0]
        assert "nvidia.com/gpu" not in head.get("resources", {}).get("limits", {})
        gpu_groups = 0
        for group in spec["workerGroupSpecs"]:
            limits = group["template"]["spec"]["containers"][0]["resources"]["limits"]
            gpus = int(limits.get("nvidia.com/gpu", 0))
            declared = int(group["rayStartParams"].get("num-gpus", 0))
            assert declared == gpus, group["groupName"]
            if gpus:
                gpu_groups += 1
                assert group["maxReplicas"] >= 1
        assert gpu_groups >= 1


# (d) The dashboard is never exposed.


@pytest.mark.parametrize("name", LAUNCHER)
def test_launcher_dashboard_binds_loopback_only(name: str) -> None:
    config = launcher(name)
    for command in start_commands(config, "head_start_ray_commands"):
        assert re.findall(r"--dashboard-host[= ](\S+)", command) == ["127.0.0.1"], command
    for command in all_commands(config):
        assert "0.0.0.0" not in command, command
        assert "--dashboard-host" not in command or "--dashboard-host=127.0.0.1" in command


def test_aws_security_group_is_the_users_own() -> None:
    """Ray's default group opens SSH to 0.0.0.0/0; each node type names the user's group."""
    config = launcher("aws.yaml")
    assert "security_group" not in config["provider"]
    for node_type in config["available_node_types"].values():
        assert node_type["node_config"]["SecurityGroupIds"]


def test_gcp_nodes_carry_the_firewall_tag() -> None:
    for node_type in launcher("gcp.yaml")["available_node_types"].values():
        node_config = node_type["node_config"]
        assert node_config["tags"] == {"items": ["tunefw-ray"]}
        assert node_config["networkInterfaces"][0]["subnetwork"].endswith("/tunefw-ray")


@pytest.mark.parametrize("name", KUBERAY)
def test_kuberay_exposes_nothing_outside_the_cluster(name: str) -> None:
    docs = manifests(name)
    for doc in docs:
        if doc["kind"] in {"Service", "Ingress", "Route", "Gateway"}:
            assert doc["kind"] == "Service", doc["kind"]
            assert doc["spec"].get("type", "ClusterIP") not in EXPOSED_SERVICE_TYPES
        for label, pod in pod_templates(doc):
            assert not pod.get("hostNetwork"), label
            for container in pod["containers"]:
                assert not any("hostPort" in p for p in container.get("ports", [])), label
    for spec in cluster_specs(name):
        head = spec["headGroupSpec"]
        assert head.get("serviceType", "ClusterIP") == "ClusterIP"
        assert head.get("enableIngress", False) is False
        head_service = head.get("headService", {}).get("spec", {})
        assert head_service.get("type", "ClusterIP") not in EXPOSED_SERVICE_TYPES
        assert head["rayStartParams"].get("dashboard-host") in (None, "127.0.0.1")


# (e) The RayJob runs a recipe that exists, writing to object storage.


def test_rayjob_entrypoint_runs_a_shipped_recipe() -> None:
    (job,) = [d for d in manifests("kuberay-rayjob.yaml") if d["kind"] == "RayJob"]
    args = shlex.split(job["spec"]["entrypoint"])
    assert args[:2] == ["tunefw", "run"], args
    recipe = args[2]
    assert recipe.startswith("recipes/") and (REPO / recipe).is_file(), recipe
    storage = args[args.index("--storage") + 1]
    assert storage.startswith(("s3://", "gs://")), "pods are deleted: results go to a bucket"
    assert load_recipe(REPO / recipe, [f"storage={storage}"]).storage == storage
    assert job["spec"]["shutdownAfterJobFinishes"] is True
    runtime_env = yaml.safe_load(job["spec"]["runtimeEnvYAML"])
    assert runtime_env["working_dir"] == "/home/ray/tunefw"


@pytest.mark.parametrize("name", KUBERAY)
def test_kuberay_pods_share_one_image(name: str) -> None:
    """Head, workers and submitter run the same Ray (and tunefw) version."""
    images = {
        c["image"]
        for doc in manifests(name)
        for _, pod in pod_templates(doc)
        for c in pod["containers"]
    }
    assert len(images) == 1, images
    (image,) = images
    assert image.endswith(f":{ray.__version__}-py311-gpu"), image
    for spec in cluster_specs(name):
        assert spec["rayVersion"] == ray.__version__
