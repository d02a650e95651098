"""A screenshot of the app on a real X-ray, for chapter 12: `make screenshot`.

Chapter 12 shows what `cnnguide app` looks like. A picture typed by hand
would drift from the app, so this script makes it: it trains a short model on
the real PneumoniaMNIST (``CNNGUIDE_DATA``; it refuses the phantoms, since a
screenshot of a phantom is not a picture of the app on an X-ray), scores the
test split once for the model card (this demonstration model is chosen by
nothing afterwards), starts ``cnnguide app`` on a free loopback port, uploads
one test film as a PNG in headless Chromium with the network cut, and saves
the page.

Usage (from the repository root)::

    CNNGUIDE_DATA=../shared/data .venv/bin/python benchmarks/app_screenshot.py

Output: ``book/figures/app_screenshot.png`` and its stamp
``benchmarks/results/app_screenshot.json`` (command, commit, date, machine,
this script's sha256, the model's recipe, the uploaded film, the prediction
and the PNG's sha256, which a test compares with the picture). Both are
written to a temporary name and renamed. Takes about 3 minutes on two cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import ROOT, RESULTS, stamp, write_atomic

FIGURE = ROOT / "book" / "figures" / "app_screenshot.png"
sys.path.insert(0, str(ROOT / "tests"))


def _wait_healthy(proc: subprocess.Popen, url: str, log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/_stcore/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the app did not start in 120 s:\n{log.read_text()[-2000:]}")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--index", type=int, default=0, help="test film to upload")
    parser.add_argument("--out", type=Path, default=FIGURE)
    args = parser.parse_args(argv)

    from PIL import Image

    from browser import chromium_page
    from cnnguide import data, train

    try:
        dataset = data.load_dataset(28, allow_phantoms=False)
    except data.DataNotFoundError:
        print(
            "app_screenshot: the real PneumoniaMNIST was not found; set "
            "CNNGUIDE_DATA to the folder of pneumoniamnist.npz (a screenshot "
            "of the phantoms is not a picture of the app on an X-ray)",
            file=sys.stderr,
        )
        return 2

    with tempfile.TemporaryDirectory(prefix="cnnguide-shot-") as tmp:
        tmp = Path(tmp)
        config = train.TrainConfig(epochs=args.epochs, seed=args.seed)
        result = train.train(config, dataset, out_dir=tmp / "model")
        train.evaluate_test(result, dataset)
        film = dataset["test"].images[args.index]
        label = int(dataset["test"].labels[args.index])
        upload = tmp / f"test_film_{args.index}.png"
        Image.fromarray(film).save(upload)

        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        log = tmp / "streamlit.log"
        env = dict(os.environ, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1")
        cmd = [sys.executable, "-m", "cnnguide", "app", str(tmp / "model")]
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                cmd + ["--port", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            _wait_healthy(proc, base, log)
            with chromium_page(
                allow=[base + "/"], viewport={"width": 1400, "height": 1000}
            ) as page:
                page.goto(base, timeout=120_000)
                page.wait_for_selector(
                    "input[type=file]", state="attached", timeout=120_000
                )
                page.set_input_files("input[type=file]", str(upload))
                page.wait_for_function(
                    "() => document.body.innerText.includes('Where the last "
                    "convolution')",
                    timeout=120_000,
                )
                page.wait_for_timeout(1500)  # let the Grad-CAM image paint
                text = page.inner_text("body")
                shot = tmp / "shot.png"
                page.screenshot(path=str(shot), full_page=True)
                if page.errors:
                    raise RuntimeError(f"the page reported errors: {page.errors}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)

        probability = float(text.split("Probability of pneumonia", 1)[1].split()[0])
        png = shot.read_bytes()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fd, part = tempfile.mkstemp(dir=args.out.parent, prefix=f".{args.out.name}.")
        with os.fdopen(fd, "wb") as handle:
            handle.write(png)
        os.chmod(part, 0o644)  # mkstemp's 0600 would hide it from a web server
        os.replace(part, args.out)

    command = "python benchmarks/app_screenshot.py"
    if argv is None and sys.argv[1:]:
        command += " " + shlex.join(sys.argv[1:])
    report = {
        "format": 1,
        "stamp": stamp(__file__, command),
        "model": {
            "epochs": args.epochs,
            "seed": args.seed,
            "data": "PneumoniaMNIST (real)",
            "test_roc_auc": result.card["test"]["roc_auc"],
            "threshold": result.card["threshold"],
        },
        "upload": {
            "split": "test",
            "index": args.index,
            "label": ["normal", "pneumonia"][label],
            "pixels": list(film.shape),
        },
        "shown_probability": probability,
        "figure": args.out.relative_to(ROOT).as_posix(),
        "png_sha256": hashlib.sha256(png).hexdigest(),
    }
    write_atomic(RESULTS / "app_screenshot.json", json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["model"] | {"probability": probability}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
