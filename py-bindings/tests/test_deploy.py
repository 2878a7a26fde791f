"""Solution.render / render_objects / upgrade_plan: the same objects and plans as
`isolution render` and `isolution upgrade-plan` (the CLI is the oracle here; the Rust tests
check the CLI against MetalK8s's states and the Kubernetes schemas)."""

from __future__ import annotations

import json
import subprocess
import warnings

import pytest

import isolution
from conftest import SOLUTIONS
from test_solution import cli


def sol(stem: str) -> isolution.Solution:
    return isolution.open(SOLUTIONS / f"{stem}.iso").solution


def test_render_is_what_the_cli_prints():
    s = sol("example-solution-1.0.2")
    newer = sol("example-solution-1.0.10")
    text = s.render("example-ns", webhook=True, available=[newer], metalk8s_version="130.0.0")
    exe = cli()
    out = subprocess.run(
        [exe, "render", str(SOLUTIONS / "example-solution-1.0.2.iso"), "--namespace",
         "example-ns", "--webhook", "--available", str(SOLUTIONS / "example-solution-1.0.10.iso"),
         "--metalk8s-version", "130.0.0"],
        capture_output=True, check=True)
    assert text == out.stdout.decode()
    objects = s.render_objects("example-ns", webhook=True, available=[newer],
                               metalk8s_version="130.0.0")
    out = subprocess.run(
        [exe, "render", str(SOLUTIONS / "example-solution-1.0.2.iso"), "--namespace",
         "example-ns", "--webhook", "--available", str(SOLUTIONS / "example-solution-1.0.10.iso"),
         "--metalk8s-version", "130.0.0", "--json"],
        capture_output=True, check=True)
    assert objects == json.loads(out.stdout)


def test_render_objects():
    s = sol("example-solution-1.0.2")
    objects = s.render_objects("example-ns")
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("CustomResourceDefinition", "clockservers.example-solution.metalk8s.scality.com"),
        ("CustomResourceDefinition", "versionservers.example-solution.metalk8s.scality.com"),
        ("ServiceAccount", "example-solution-operator"),
        ("Role", "example-solution-operator"),
        ("RoleBinding", "example-solution-operator-role-example-solution-operator"),
        ("ConfigMap", "example-solution-operator-config"),
        ("Deployment", "example-solution-operator"),
    ]
    deployment = objects[-1]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == ("metalk8s-registry-from-config.invalid/example-solution-1.0.2/"
                                  "example-solution-operator:1.0.2")
    assert container["command"] == ["example-solution-operator",
                                    "--config=/etc/config/operator.yaml"]
    assert all(o["metadata"]["labels"]["heritage"] == "salt" for o in objects)
    # Components and registry.
    crds = s.render_objects(components="crds")
    assert [o["kind"] for o in crds] == ["CustomResourceDefinition"] * 2
    env = s.render_objects("example-ns", components="environment", registry="reg:5000")
    assert crds + env != objects  # the registry differs
    assert "reg:5000/example-solution-1.0.2/" in env[-1]["spec"]["template"]["spec"][
        "containers"][0]["image"]
    assert s.render(components="crds") == s.render("x", components="crds")


def test_render_bad_options():
    s = sol("example-solution-1.0.2")
    with pytest.raises(ValueError, match="namespace is required"):
        s.render()
    with pytest.raises(ValueError, match="components"):
        s.render("ns", components="everything")
    with pytest.raises(ValueError, match="not a DNS label"):
        s.render("Not_A_Label")


def test_render_warnings_and_errors():
    s = sol("broken-operator-cluster-role")
    with pytest.warns(isolution.RenderWarning) as record:
        text = s.render("ns")
    messages = [str(w.message) for w in record]
    assert len(messages) == 2, messages
    assert any("cluster-wide access" in m for m in messages), messages
    assert any("is cut to" in m for m in messages), messages
    assert "kind: ClusterRole" in text
    assert issubclass(isolution.RenderWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sol("example-solution-1.0.2").render("ns")  # no warning at all
    with pytest.raises(isolution.DeployError, match="Forbidden object kind 'RoleBinding'") as e:
        sol("broken-operator-role-kind").render("ns")
    assert e.value.path == "operator/deploy/role.yaml"
    assert isinstance(e.value, isolution.IsolutionError)
    with pytest.raises(isolution.DeployError, match="2 YAML documents"):
        sol("broken-operator-crd-multi-doc").render(components="crds")


def test_upgrade_plan():
    plan = sol("example-solution-1.0.2").upgrade_plan(sol("upgrade-crd-field-removed"))
    assert plan["safe"] is False and plan["breaking"] == 1
    assert plan["changes"][0]["impact"] == "breaking"
    assert "field spec.timezone removed" in plan["changes"][0]["message"]
    safe = sol("example-solution-1.0.2").upgrade_plan(sol("example-solution-1.0.10"))
    assert safe["safe"] is True and (safe["from"], safe["to"]) == ("1.0.2", "1.0.10")
    out = subprocess.run(
        [cli(), "upgrade-plan", str(SOLUTIONS / "example-solution-1.0.2.iso"),
         str(SOLUTIONS / "example-solution-1.0.10.iso"), "--json"],
        capture_output=True)
    assert out.returncode == 0
    assert json.loads(out.stdout) == safe
    with pytest.raises(isolution.DeployError):
        sol("example-solution-1.0.2").upgrade_plan(sol("broken-operator-role-kind"))
    with pytest.raises(TypeError):
        sol("example-solution-1.0.2").upgrade_plan("example-solution-1.0.10.iso")
