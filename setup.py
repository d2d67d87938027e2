"""The build step pyproject.toml cannot express: the stub ships inside the package.

`pip install .` builds the stub (make -C stub) when it is not built yet and copies
stub/build/stub.efi into the wheel as workbench/data/stub.efi, where `workbench` finds it.
"""

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildWithStub(build_py):
    def run(self) -> None:
        super().run()
        stub = HERE / "stub" / "build" / "stub.efi"
        if not stub.is_file():
            subprocess.run(["make", "-C", str(HERE / "stub"), "all"], check=True)
        target = Path(self.build_lib) / "workbench" / "data"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(stub, target / "stub.efi")


setup(cmdclass={"build_py": BuildWithStub})
