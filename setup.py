"""espnet_bljust: Bilevel Joint Unsupervised and Supervised Training as an ESPnet plugin."""

from pathlib import Path

from setuptools import find_packages, setup

version = {}
exec((Path(__file__).parent / "espnet_bljust" / "version.py").read_text(), version)

setup(
    name="espnet_bljust",
    version=version["__version__"],
    description="BL-JUST: bilevel joint unsupervised and supervised ASR training "
    "as an espnet2 task",
    long_description=(Path(__file__).parent / "README.md").read_text(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["espnet_bljust", "espnet_bljust.*"]),
    # Default configs and the model card template travel with the package.
    package_data={
        "espnet_bljust.conf": ["*.yaml"],
        "espnet_bljust.recipe": ["templates/*"],
    },
    license_files=["LICENSE"],
    python_requires=">=3.10,<3.12",
    install_requires=[
        # torch and torchaudio must be a matching pair.
        "torch==2.11.0",
        "torchaudio==2.11.0",
        "espnet==202511",
        "espnet_model_zoo",
        "sentencepiece",
        "jiwer",
        "pyyaml",
        "jinja2",
        # espnet2 imports these at run time without declaring them.
        "tensorboard",
        "matplotlib",
    ],
    extras_require={"test": ["pytest", "pytest-xdist"]},
    entry_points={
        "console_scripts": [
            "bljust_train=espnet_bljust.bin.bljust_train:main",
        ]
    },
    license="Apache-2.0",
)
