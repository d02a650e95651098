"""benchmarks/robustness.py: glued values read back, spreads, flips, the table."""

from __future__ import annotations

import nbformat

from script_loader import load_script

robustness = load_script("benchmarks/robustness.py")


def glue_output(name, text):
    return nbformat.v4.new_output(
        "display_data",
        data={robustness.GLUE_MIME: text},
        metadata={"scrapbook": {"name": name, "mime_prefix": "x"}},
    )


def test_glued_values_are_read_from_the_outputs():
    cell = nbformat.v4.new_code_cell("glue(...)")
    cell.outputs = [glue_output("auc", "np.float64(0.97)"), glue_output("n", "5")]
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert robustness.glued_values(nb) == {"auc": "np.float64(0.97)", "n": "5"}
    assert robustness.as_number("np.float64(0.97)") == 0.97
    assert robustness.as_number("'beats'") is None


def test_spreads_show_ranges_and_flipped_verdicts():
    runs = [
        {
            "chapter": "08",
            "mode": "real",
            "seed": s,
            "passed": True,
            "error": "",
            "seconds": 1.0,
            "glued": {"auc": str(v), "mom_verdict": w},
        }
        for s, v, w in [(0, 0.9, "'lifts'"), (1, 0.8, "'lowers'")]
    ]
    rows = {r["name"]: r for r in robustness.spreads(runs)}
    assert abs(rows["auc"]["range"] - 0.1) < 1e-12
    assert rows["mom_verdict"]["flips"] is True
    report = {
        "stamp": {
            "command": "c",
            "commit": "x",
            "date": "d",
            "machine": {"cpu": "cpu", "cores": 2},
            "script_sha256": "0" * 64,
        },
        "runs": runs,
        "spreads": robustness.spreads(runs),
    }
    page = robustness.markdown(report)
    assert "| 08 | pass 1 s | pass 1 s |" in page
    assert "`mom_verdict`" in page


def test_results_are_written_whole_or_not_at_all(tmp_path):
    target = tmp_path / "r.json"
    robustness.write_atomic(target, "{}\n")
    assert target.read_text() == "{}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
