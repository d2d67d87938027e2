"""The build step pyproject.toml cannot express: the stub ships inside the package.

`pip install .` builds the stubs (make -C stub) when they are not built yet and copies
stub/build/stub.efi (x86_64) and stub/build/stubaa64.efi (arm64) into the wheel as
workbench/data/, where `workbench` finds them.
"""

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
STUB_FILES = ("stub.efi", "stubaa64.efi")  # workbench/arch.py names them too


class BuildWithStub(build_py):
    def run(self) -> None:
        super().run()
        stubs = [HERE / "stub" / "build" / name for name in STUB_FILES]
        if not all(stub.is_file() for stub in stubs):
            subprocess.run(["make", "-C", str(HERE / "stub"), "all"], check=True)
        target = Path(self.build_lib) / "workbench" / "data"
        target.mkdir(parents=True, exist_ok=True)
        for stub in stubs:
            shutil.copy2(stub, target / stub.name)


setup(cmdclass={"build_py": BuildWithStub})
