"""benchmarks/refresh_reference.py: the manifest and the README's ledger table come from one run."""

import importlib.util

import pytest

from conftest import REPO

spec = importlib.util.spec_from_file_location("refresh_reference", REPO / "benchmarks" / "refresh_reference.py")
refresh = importlib.util.module_from_spec(spec)
spec.loader.exec_module(refresh)


def test_the_table_between_the_markers_is_replaced_and_nothing_else():
    readme = f"intro\n{refresh.BEGIN}\nold table\n{refresh.END}\nafter\n"
    out = refresh.readme_with_ledger(readme, "| run |\n|---|\n| a |\n", "2026-12-03 08:00")
    assert out == (
        f"intro\n{refresh.BEGIN}\nCopied from `results/ledger.md` of the reference run of 2026-12-03 08:00:"
        f"\n\n| run |\n|---|\n| a |\n{refresh.END}\nafter\n"
    )
    assert refresh.readme_with_ledger(out, "| b |", "later").count("| a |") == 0


@pytest.mark.parametrize("readme", ["no markers", f"{refresh.BEGIN}\n{refresh.BEGIN}\n{refresh.END}"])
def test_a_readme_without_one_pair_of_markers_is_refused(readme):
    with pytest.raises(ValueError, match="needs exactly one"):
        refresh.readme_with_ledger(readme, "| a |", "now")


def test_the_readme_has_its_markers():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert text.count(refresh.BEGIN) == 1 and text.count(refresh.END) == 1
