"""A non-editable install: the wheel carries the configs, the model card
template and the LICENSE, and ``bljust_train`` runs from it."""

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import yaml

from conftest import REPO

UV = [sys.executable, "-m", "uv"]
SOURCES = ("setup.py", "README.md", "LICENSE", "espnet_bljust")


def _uv(*args: str, cwd: Path) -> None:
    """uv offline (from its cache), then online where the cache lacks something."""
    done = subprocess.run([*UV, *args, "--offline"], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        done = subprocess.run([*UV, *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, f"uv {' '.join(args)}:\n{done.stderr[-2000:]}"


def test_wheel_ships_configs_and_runs_print_config(tmp_path):
    src = tmp_path / "src"  # a clean copy: no build/ or egg-info of earlier builds
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy(REPO / name, src / name)
    _uv("build", "--wheel", "-o", str(tmp_path / "dist"), str(src), cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("espnet_bljust-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in (
        "espnet_bljust/conf/train_bljust_conformer_tiny.yaml",
        "espnet_bljust/conf/decode_ctc_greedy.yaml",
        "espnet_bljust/conf/decode_ctc_beam.yaml",
        "espnet_bljust/recipe/templates/model_card.md.j2",
    ):
        assert shipped in names, shipped
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE")
               for n in names), names  # fmt: skip

    # A fresh environment whose dependencies are this one's, but not its
    # editable espnet_bljust (a path in a .pth file is not a site dir).
    env = tmp_path / "env"
    _uv("venv", "--python", sys.executable, str(env), cwd=tmp_path)
    python = env / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _uv("pip", "install", "--python", str(python), "--no-deps", str(wheel), cwd=tmp_path)

    where = subprocess.run(
        [str(python), "-c", "import espnet_bljust.conf as c; "
         "print(c.__file__); print(c.config_path(c.TINY_CONFIG))"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert all(p.startswith(site) for p in where), (where, site)
    tiny = Path(where[1])

    done = subprocess.run(
        [str(env / "bin" / "bljust_train"), "--config", str(tiny), "--print_config"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    config = yaml.safe_load(done.stdout)
    assert config["strategy"] == "bljust" and config["encoder"] == "conformer"
    assert config["encoder_conf"]["num_blocks"] == 4  # the shipped tiny config's
    assert config["lower_optim"] == "adam"  # a BL-JUST option next to espnet2's
