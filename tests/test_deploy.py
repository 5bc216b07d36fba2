"""The cluster deployment files: what the KubeRay operator and Kubernetes require of them."""

from __future__ import annotations

import yaml

from .conftest import REPO


def test_the_kuberay_manifest_has_what_the_operator_requires():
    """The RayCluster CRD's required fields (ray.io/v1) and its string-typed rayStartParams; workers get the
    grader resource the pool asks for, and the GPU group a GPU limit."""
    spec = yaml.safe_load((REPO / "deploy/kuberay/raycluster.yaml").read_text())
    assert spec["apiVersion"] == "ray.io/v1" and spec["kind"] == "RayCluster"
    import ray

    assert spec["spec"]["rayVersion"] == ray.__version__
    groups = [spec["spec"]["headGroupSpec"], *spec["spec"]["workerGroupSpecs"]]
    assert all(g["template"]["spec"]["containers"] for g in groups)
    for group in spec["spec"]["workerGroupSpecs"]:
        assert {"groupName", "minReplicas", "maxReplicas", "template"} <= group.keys()
        assert all(isinstance(v, str) for v in group["rayStartParams"].values())
        assert '\\"grader\\"' in group["rayStartParams"]["resources"]
    gpu = next(g for g in spec["spec"]["workerGroupSpecs"] if g["groupName"] == "gpu-graders")
    assert gpu["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_grading_pods_may_reach_only_their_cluster():
    policy = yaml.safe_load((REPO / "deploy/kuberay/networkpolicy.yaml").read_text())
    assert set(policy["spec"]["policyTypes"]) == {"Egress", "Ingress"}
    targets = [peer for rule in policy["spec"]["egress"] for peer in rule["to"]]
    assert all("podSelector" in peer for peer in targets)
    assert not any("ipBlock" in peer for peer in targets), "no address outside the cluster"
