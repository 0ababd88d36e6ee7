"""The wheel carries what matderiv reads at run time (see gen/resources.py).

The package's code lives in gen/ (the import name is matderiv: pyproject maps it); the
catalog, templates, schema, hand-written site pages, mkdocs.yml and KaTeX's files stay at
the repository's top level, where the project keeps them, and are copied into
matderiv/_data/ when a wheel is built.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
DATA = ("catalog", "templates", "schema", "site")
KATEX = HERE / "node_modules" / "katex" / "dist"


class BuildWithData(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "matderiv" / "_data"
        if target.exists():
            shutil.rmtree(target)
        for name in DATA:
            shutil.copytree(HERE / name, target / name)
        config = (HERE / "mkdocs.yml").read_text()
        # mkdocs resolves hooks beside its config: _data/ sits inside the package
        (target / "mkdocs.yml").write_text(
            config.replace("gen/render/mkdocs_hooks.py", "../render/mkdocs_hooks.py"))
        if KATEX.exists():
            katex = target / "katex"
            katex.mkdir()
            for name in ("katex.mjs", "katex.min.css"):
                shutil.copy2(KATEX / name, katex / name)
            shutil.copytree(KATEX / "fonts", katex / "fonts")


# setuptools' scratch space stays out of build/, which is matderiv's output folder
setup(cmdclass={"build_py": BuildWithData}, options={"build": {"build_base": ".wheel-build"}})
