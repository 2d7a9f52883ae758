"""Where zoo weights live: the package carries the members its main command and fast tests load, the repository's
zoo-data folder the rest; every member's weights match the sha256 the registry holds."""

import shutil

import pytest

from brevity.errors import BrevityError
from brevity.zoo import registry
from brevity.zoo.registry import (
    MEMBERS,
    PACKAGED,
    SHARED_TOKENIZER,
    ZOO_DIR,
    data_root,
    member_dir,
    registered_weights,
    resolve_model,
)

# Each packaged member's hash (brevity.identity.model_hash: what record ids are made of), as it was when every member
# carried its own copy of the tokenizer.
PACKAGED_HASHES = {"tiny-base": "94e38b11ade2d111", "tiny-lrm": "8ae3e8dbdf7ebe96", "tiny-llm": "1d35dd9752d29a33",
                   "tiny-lrm-instruct": "1519d00d33318fd4"}


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
    assert (resolve_model("tiny-lrm") / "config.json").resolve() == ZOO_DIR / "tiny-lrm" / "config.json"


def test_packaged_members_share_one_tokenizer_and_load_as_before():
    """The package keeps the members' tokenizer once; each resolves to a complete folder with the same files under
    the same names, so a model's hash (and every record id) is what it was, and it loads as a plain HF folder."""
    from transformers import AutoTokenizer

    from brevity.identity import model_hash

    assert SHARED_TOKENIZER.is_file()
    files = {"chat_template.jinja", "config.json", "generation_config.json", "manifest.json", "model.safetensors",
             "tokenizer.json", "tokenizer_config.json"}
    for name in PACKAGED:
        assert not (member_dir(name) / "tokenizer.json").exists(), name
        folder = resolve_model(name)
        assert {p.name for p in folder.iterdir() if not p.name.startswith(".")} == files, name
        assert (folder / "tokenizer.json").read_bytes() == SHARED_TOKENIZER.read_bytes()
        assert model_hash(folder) == PACKAGED_HASHES[name], name
        assert resolve_model(name) == folder  # made once, then found
    assert len(AutoTokenizer.from_pretrained(resolve_model("tiny-lrm"))) > 0


def test_a_member_built_in_its_place_shares_the_tokenizer(tmp_path, monkeypatch):
    """`brevity zoo build` writes a whole folder; a packaged member then gives up the copy it shares, and one whose
    tokenizer differs keeps its own (and loads from its place)."""
    from brevity.zoo import registry as reg

    monkeypatch.setattr(reg, "ZOO_DIR", tmp_path)
    monkeypatch.setattr(reg, "SHARED_TOKENIZER", tmp_path / "tokenizer.json")
    (tmp_path / "tokenizer.json").write_text("shared")
    for name, tok in (("tiny-lrm", "shared"), ("tiny-llm", "its own")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "tokenizer.json").write_text(tok)
        reg.share_tokenizer(name, tmp_path / name)
    assert not (tmp_path / "tiny-lrm" / "tokenizer.json").exists()
    assert (tmp_path / "tiny-llm" / "tokenizer.json").read_text() == "its own"
    assert reg.packaged_path("tiny-llm") == tmp_path / "tiny-llm"


def test_racing_processes_complete_a_packaged_member_once(tmp_path):
    """Two pytest-xdist workers (or any processes) that load a member first at the same time on an empty cache: each
    sees a whole folder, one version of it is made, and nothing half-made is left."""
    import os
    import subprocess
    import sys

    code = ("from brevity.zoo import resolve_model; from brevity.identity import model_hash; "
            f"print(*(model_hash(resolve_model(n)) for n in {sorted(PACKAGED)!r}))")
    env = {**os.environ, "BREVITY_CACHE": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(4)]
    outs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert all(o == [PACKAGED_HASHES[n] for n in sorted(PACKAGED)] for o in outs)
    versions = sorted(p.name for p in (tmp_path / "packaged" / ".versions").iterdir())
    assert len(versions) == len(PACKAGED) and not any(v.startswith(".") for v in versions)  # one each, no leftovers
    assert all((tmp_path / "packaged" / n).is_symlink() for n in PACKAGED)


def test_an_installation_keeps_its_own_folder_when_another_shares_the_cache(tmp_path, monkeypatch):
    """Two installations (two clones, or a clone and a virtual environment) share ~/.cache/brevity. A process keeps
    reading its own installation's files when the other resolves the same member, and still loads after the other
    installation is deleted; the deleted one's folder is removed when a new version is made."""
    import shutil

    from brevity.identity import model_hash
    from brevity.zoo import registry as reg

    monkeypatch.setenv("BREVITY_CACHE", str(tmp_path / "cache"))
    installs = []
    for name in ("a", "b"):
        zoo = tmp_path / name / "checkpoints"
        shutil.copytree(member_dir("tiny-llm"), zoo / "tiny-llm")
        shutil.copy2(SHARED_TOKENIZER, zoo / "tokenizer.json")
        installs.append(zoo)

    def resolve(zoo):
        monkeypatch.setattr(reg, "ZOO_DIR", zoo)
        monkeypatch.setattr(reg, "SHARED_TOKENIZER", zoo / "tokenizer.json")
        return reg.packaged_path("tiny-llm")

    held = resolve(installs[0])  # a long training holds this path
    other = resolve(installs[1])
    assert held != other and held.name == other.name == "tiny-llm"
    shutil.rmtree(tmp_path / "b")  # the second installation is deleted
    assert model_hash(held) == PACKAGED_HASHES["tiny-llm"]  # the first still reads its own files
    (installs[0] / "tiny-llm" / "config.json").touch()  # a new version of the first installation's files
    fresh = resolve(installs[0])
    assert model_hash(fresh) == PACKAGED_HASHES["tiny-llm"] and not other.exists()
