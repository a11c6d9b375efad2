"""What the README promises about setting up matches what .ci/setup does."""

from __future__ import annotations

import re

from conftest import REPO

CPU_TORCH = re.compile(r"pip install (?:-q )?('torch==[^']+' --index-url https://download\.pytorch\.org/whl/cpu)")


def test_the_readme_and_ci_setup_install_the_cpu_build_of_pytorch_with_the_same_command():
    readme = CPU_TORCH.findall((REPO / "README.md").read_text())
    setup = CPU_TORCH.findall((REPO / ".ci" / "setup").read_text())
    assert readme and setup == readme[:1]
    assert "pip install -e .[train]" in (REPO / "README.md").read_text()
