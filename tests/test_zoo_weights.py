"""Where zoo weights live: the package carries the members its main command and fast tests load, the repository's
zoo-data folder the rest; every member's weights match the sha256 the registry holds."""

import shutil

import pytest

from brevity.errors import BrevityError
from brevity.zoo import registry
from brevity.zoo.registry import MEMBERS, PACKAGED, ZOO_DIR, data_root, member_dir, registered_weights, resolve_model


def test_packaged_members_are_in_the_package_the_rest_in_zoo_data():
    assert {p.name for p in ZOO_DIR.iterdir() if p.is_dir()} == set(PACKAGED)
    for name in MEMBERS:
        assert member_dir(name).parent == (ZOO_DIR if name in PACKAGED else data_root())
        assert (member_dir(name) / "config.json").is_file(), name


def test_every_member_is_registered_and_matches():
    sums = registered_weights()
    assert set(sums) == set(MEMBERS)
    for name in MEMBERS:
        assert registry.weights_sha256(member_dir(name)) == sums[name], name


def test_a_changed_member_is_refused_by_name(tmp_path, monkeypatch):
    name = "tiny-mult-terse"
    shutil.copytree(member_dir(name), tmp_path / name)
    monkeypatch.setenv("BREVITY_ZOO_DATA", str(tmp_path))
    assert resolve_model(name) == tmp_path / name
    weights = tmp_path / name / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(BrevityError, match=f"brevity zoo build {name}"):
        resolve_model(name)


def test_a_member_outside_the_install_names_its_build_and_folder(tmp_path, monkeypatch):
    """As a non-editable install sees it: no zoo-data folder beside the package."""
    monkeypatch.setenv("BREVITY_ZOO_DATA", str(tmp_path / "none"))
    with pytest.raises(BrevityError, match=r"brevity zoo build tiny-mult-terse.*|zoo-data.*brevity zoo build"):
        resolve_model("tiny-mult-terse")
    assert resolve_model("tiny-lrm") == ZOO_DIR / "tiny-lrm"
